// A replay cache that survives a restart (threat 48). The in-memory cache
// forgets every token id when the process ends, yet a token is honoured until
// `exp` plus the clock tolerance: a request captured just before a restart
// could be sent again to the new process and, under Laplace noise, spend budget
// again. Here every accepted id is appended to `replay-ids.jsonl` in the
// node's state directory and fsync'd before the token is accepted; the file is
// read back at start, and rewritten without expired ids at start and whenever
// it has grown well past the live ids it holds.
//
// The append is awaited before `remember` answers true, so an id the node
// acted on is on disk first; a crash mid-append leaves at most a torn last
// line for an id that was never accepted, which is skipped on load. Any other
// unreadable line stops start-up: forgetting ids silently would reopen the hole.
import { open, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReplayCache } from './replay-cache.ts';

export const REPLAY_FILE = 'replay-ids.jsonl';

export interface FileReplayCacheOptions {
  /** Default 100,000: as the in-memory cache; full means refuse. */
  readonly maxEntries?: number;
  /** Default 1,000: the file is rewritten once it holds twice the live ids and at least this many lines. */
  readonly compactAfterLines?: number;
  /** Milliseconds since the epoch; for the expiry of loaded ids. */
  readonly now?: () => number;
}

export interface FileReplayCache extends ReplayCache {
  close(): Promise<void>;
}

interface Entry {
  readonly jti: string;
  readonly exp: number;
}

/**
 * Opens (or creates) the durable replay cache in `stateDir`.
 * @example const replayCache = await openFileReplayCache(stateDir);
 */
export async function openFileReplayCache(
  stateDir: string,
  options: FileReplayCacheOptions = {},
): Promise<FileReplayCache> {
  const { maxEntries = 100_000, compactAfterLines = 1_000, now = Date.now } = options;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('openFileReplayCache: "maxEntries" must be a positive integer');
  }
  const path = join(stateDir, REPLAY_FILE);
  const expiries = new Map<string, number>();
  for (const entry of await load(path)) {
    if (entry.exp > now()) expiries.set(entry.jti, entry.exp);
  }
  let handle = await compact(path, expiries);
  let linesOnDisk = expiries.size;
  // Appends run one after another, so a compaction never races an append.
  let queue: Promise<unknown> = Promise.resolve();

  // Insertion order is close to expiry order (lifetimes are short and alike),
  // so expired ids are dropped from the front; a full scan only when full.
  function sweep(nowMs: number, full: boolean): void {
    for (const [jti, exp] of expiries) {
      if (exp <= nowMs) expiries.delete(jti);
      else if (!full) return;
    }
  }

  async function append(entry: Entry, nowMs: number): Promise<void> {
    if (linesOnDisk > 2 * Math.max(expiries.size, compactAfterLines / 2)) {
      sweep(nowMs, true);
      await handle.close();
      handle = await compact(path, expiries);
      linesOnDisk = expiries.size;
      return;
    }
    await handle.appendFile(`${JSON.stringify(entry)}\n`);
    await handle.datasync();
    linesOnDisk += 1;
  }

  return {
    async remember(jti, expiresAtMs, nowMs) {
      sweep(nowMs, false);
      const known = expiries.get(jti);
      if (known !== undefined && known > nowMs) return false;
      if (expiries.size >= maxEntries) sweep(nowMs, true);
      if (expiries.size >= maxEntries) return false;
      // Claimed before the write, so a concurrent replay of the same id is refused.
      expiries.delete(jti);
      expiries.set(jti, expiresAtMs);
      const written = queue.then(() => append({ jti, exp: expiresAtMs }, nowMs));
      queue = written.catch(() => undefined);
      try {
        await written;
      } catch {
        // Not on disk: refuse, and keep the id claimed in memory (fail closed).
        return false;
      }
      return true;
    },
    async close() {
      await queue;
      await handle.close();
    },
  };
}

async function load(path: string): Promise<Entry[]> {
  let text: string;
  try {
    const file = await open(path, 'r');
    try {
      text = await file.readFile('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text === '';
  const entries: Entry[] = [];
  lines.forEach((line, index) => {
    if (line === '') return;
    const entry = parseEntry(line);
    if (entry !== undefined) {
      entries.push(entry);
      return;
    }
    // A torn last line is an append that never finished: that id was never accepted.
    if (!complete && index === lines.length - 1) return;
    throw new Error(`${path}: line ${index + 1} is not a replay record`);
  });
  return entries;
}

function parseEntry(line: string): Entry | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { jti, exp } = value as Record<string, unknown>;
    if (typeof jti !== 'string' || typeof exp !== 'number' || !Number.isFinite(exp)) {
      return undefined;
    }
    return { jti, exp };
  } catch {
    return undefined;
  }
}

/** Rewrites the file with the live ids only (write, fsync, rename, fsync the directory). */
async function compact(path: string, expiries: Map<string, number>): Promise<FileHandle> {
  const temp = `${path}.tmp`;
  const out = await open(temp, 'w', 0o600);
  try {
    let text = '';
    for (const [jti, exp] of expiries) text += `${JSON.stringify({ jti, exp })}\n`;
    await out.writeFile(text);
    await out.sync();
  } finally {
    await out.close();
  }
  await rename(temp, path);
  const dir = await open(join(path, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return open(path, 'a', 0o600);
}
