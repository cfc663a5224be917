// The node's audit log: hash-chained entries as JSON lines, appended and
// fsync'd one at a time, with the head (last index and hash) kept in a
// separate file so a cut-off tail is detected too.
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AuditEntry,
  type AuditFields,
  type AuditHead,
  type AuditVerification,
  appendEntry,
  verifyChain,
} from '@tessera/schemas';

export interface FileAuditLog {
  append(fields: AuditFields): Promise<AuditEntry>;
  close(): Promise<void>;
}

export function auditPaths(stateDir: string): { log: string; head: string } {
  return { log: join(stateDir, 'audit.jsonl'), head: join(stateDir, 'audit.head.json') };
}

async function readHead(path: string): Promise<AuditHead | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as AuditHead;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Reads every entry back in file order. */
export async function readAuditEntries(stateDir: string): Promise<AuditEntry[]> {
  const text = await readFile(auditPaths(stateDir).log, 'utf8').catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    },
  );
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEntry);
}

/** Verifies the log against its head; names the first bad entry. */
export async function verifyAuditLog(stateDir: string): Promise<AuditVerification> {
  const paths = auditPaths(stateDir);
  return verifyChain(await readAuditEntries(stateDir), { head: await readHead(paths.head) });
}

/**
 * Opens (creating if needed) the audit log in `stateDir`. Appends are
 * serialised in process; one node process owns one state directory.
 */
export async function openFileAuditLog(stateDir: string): Promise<FileAuditLog> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const paths = auditPaths(stateDir);
  let head = await readHead(paths.head);
  const file = await open(paths.log, 'a', 0o600);
  let tail: Promise<unknown> = Promise.resolve();

  const appendNow = async (fields: AuditFields): Promise<AuditEntry> => {
    const entry = appendEntry(head, fields);
    await file.write(`${JSON.stringify(entry)}\n`);
    await file.sync();
    const next: AuditHead = { index: entry.index, hash: entry.hash };
    await writeFile(`${paths.head}.tmp`, JSON.stringify(next), { mode: 0o600 });
    await rename(`${paths.head}.tmp`, paths.head);
    head = next;
    return entry;
  };

  return {
    append(fields) {
      const result = tail.then(() => appendNow(fields));
      tail = result.catch(() => undefined);
      return result;
    },
    async close() {
      await tail;
      await file.close();
    },
  };
}
