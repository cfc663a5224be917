// The release ledger on disk: every answer that leaves the node, one
// append-only JSON line per release in the node's state directory (time,
// project, researcher, query hash, data version, cost and the released cells,
// never a true count), fsync'd before the answer leaves, and read back at
// start: a restart refills no budget and forgets no release. The operator
// exports it with `tessera-node releases`. The budget arithmetic is
// disclosure/budget.ts.
//
// A last line cut off by a crash was never acknowledged and is dropped; any
// other unreadable line stops start-up, because guessing would hand out budget.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  type BudgetLimits,
  Books,
  type ReleaseLedger,
  type ReleaseLine,
  ledgerOf,
} from '../disclosure/budget.ts';

export interface FileReleaseLedger extends ReleaseLedger {
  close(): Promise<void>;
}

export function releaseLedgerPath(stateDir: string): string {
  return join(stateDir, 'releases.jsonl');
}

function parseLine(text: string): ReleaseLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const line = value as Record<string, unknown>;
  const strings = ['at', 'project', 'researcher', 'queryHash', 'dataVersion', 'noise'];
  if (!strings.every((k) => typeof line[k] === 'string')) return undefined;
  if (!Number.isFinite(Date.parse(line.at as string))) return undefined;
  if (typeof line.cost !== 'number' || !Number.isFinite(line.cost) || line.cost < 0) {
    return undefined;
  }
  return value as ReleaseLine;
}

/** Reads the ledger; drops (and cuts off) a final line a crash left unfinished. */
async function readLines(path: string): Promise<ReleaseLine[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) await truncate(path, Buffer.byteLength(text.slice(0, end)));
  const lines: ReleaseLine[] = [];
  text
    .slice(0, end)
    .split('\n')
    .forEach((raw, i) => {
      if (raw.length === 0) return;
      const line = parseLine(raw);
      if (!line) throw new Error(`release ledger ${path}: line ${i + 1} is not a valid release`);
      lines.push(line);
    });
  return lines;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Opens (creating if needed) the release ledger in `stateDir` and loads it.
 * One node process owns one state directory. Lines charged while a write is
 * under way go out together in the next write, with one fsync for all of
 * them. A failed write stops the ledger: every later release fails, so
 * nothing leaves on an unknown state.
 * @example const ledger = await openFileReleaseLedger('.data/node', budgetLimits(policy));
 */
export async function openFileReleaseLedger(
  stateDir: string,
  limits: BudgetLimits | undefined,
): Promise<FileReleaseLedger> {
  const books = new Books(limits);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = releaseLedgerPath(stateDir);
  const existing = await readLines(path);
  for (const line of existing ?? []) books.apply(line);
  const file: FileHandle = await open(path, 'a', 0o600);
  if (existing === undefined) await syncDirectory(stateDir);

  interface Pending {
    readonly text: string;
    resolve(): void;
    reject(err: unknown): void;
  }
  let queue: Pending[] = [];
  let failure: unknown;
  let flushing: Promise<void> | undefined;

  const flush = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await file.write(batch.map((p) => p.text).join(''));
        await file.sync();
        for (const p of batch) p.resolve();
      } catch (err) {
        failure = err;
        for (const p of [...batch, ...queue]) p.reject(err);
        queue = [];
      }
    }
    flushing = undefined;
  };

  const persist = (line: ReleaseLine): Promise<void> => {
    if (failure !== undefined) {
      return Promise.reject(new Error('release ledger stopped after a failed write'));
    }
    return new Promise<void>((resolve, reject) => {
      queue.push({ text: `${JSON.stringify(line)}\n`, resolve, reject });
      flushing ??= flush();
    });
  };

  return {
    ...ledgerOf(books, persist),
    async close() {
      await flushing;
      await file.close();
    },
  };
}

export interface ExportFilter {
  readonly since?: Date;
  readonly project?: string;
}

/**
 * The ledger's lines matching a filter, streamed as they are stored ("what
 * left my site").
 * @example for await (const line of exportReleases(dir, { project: 'p' })) process.stdout.write(line + '\n');
 */
export async function* exportReleases(stateDir: string, filter: ExportFilter = {}) {
  const input = createReadStream(releaseLedgerPath(stateDir), { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  const since = filter.since?.getTime();
  for await (const text of lines) {
    if (text.length === 0) continue;
    const line = parseLine(text);
    if (!line) continue; // a crash's cut-off last line
    if (since !== undefined && Date.parse(line.at) < since) continue;
    if (filter.project !== undefined && line.project !== filter.project) continue;
    yield text;
  }
}
