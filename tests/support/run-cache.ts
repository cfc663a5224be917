// What whole-system tests build once per test run: node stores, made with the
// node's own command line (`tessera-node generate`, `tessera-node ingest`), and
// an initialised PGlite data directory for gateways to start from. The test
// files of a run share them; the next run builds them afresh (so a change to
// the generator or the store layout is never hidden by a stale cache), and
// the directories of finished runs are removed.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { NODE_BIN, runCliOk, sleep } from './processes.ts';

export interface GenerateSpec {
  readonly patients: number;
  readonly seed: number;
  /** A generator region profile; default lombardia. */
  readonly region?: 'lombardia' | 'galicia' | 'sachsen' | 'dolnoslaskie' | 'toscana';
}

export type RegionData =
  { readonly sources: readonly string[] } | { readonly generate: GenerateSpec };

const CACHE_PREFIX = 'tessera-e2e-data-';
/** How long to wait for another test file building the same store. */
const BUILD_WAIT_MS = 300_000;

/**
 * The process that owns this run: vitest's main process (test files run in
 * child processes of it, or in worker threads inside it).
 */
function runPid(): number {
  return isMainThread ? process.ppid : process.pid;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let cacheRoot: Promise<string> | undefined;

/** This run's cache directory; those of runs that have ended are removed. */
function runCacheDir(): Promise<string> {
  cacheRoot ??= (async () => {
    const pid = runPid();
    const root = join(tmpdir(), `${CACHE_PREFIX}${pid}`);
    for (const name of await readdir(tmpdir())) {
      if (!name.startsWith(CACHE_PREFIX)) continue;
      const owner = Number(name.slice(CACHE_PREFIX.length));
      if (owner !== pid && Number.isSafeInteger(owner) && !isRunning(owner)) {
        await rm(join(tmpdir(), name), { recursive: true, force: true });
      }
    }
    await mkdir(root, { recursive: true });
    return root;
  })();
  return cacheRoot;
}

function keyOf(data: RegionData): string {
  const normalised =
    'sources' in data
      ? { sources: data.sources.map((s) => resolve(s)) }
      : {
          generate: {
            patients: data.generate.patients,
            seed: data.generate.seed,
            region: data.generate.region ?? 'lombardia',
          },
        };
  return createHash('sha256').update(JSON.stringify(normalised)).digest('hex').slice(0, 16);
}

async function build(data: RegionData, dir: string): Promise<void> {
  const db = join(dir, 'store.duckdb');
  let sources: readonly string[];
  if ('generate' in data) {
    const ndjson = join(dir, 'ndjson');
    await runCliOk([
      NODE_BIN,
      'generate',
      '--region',
      data.generate.region ?? 'lombardia',
      '--patients',
      String(data.generate.patients),
      '--seed',
      String(data.generate.seed),
      '--out',
      ndjson,
    ]);
    sources = [ndjson];
  } else {
    sources = data.sources;
  }
  await runCliOk([NODE_BIN, 'ingest', ...sources.flatMap((s) => ['--source', s]), '--db', db]);
  if ('generate' in data) await rm(join(dir, 'ndjson'), { recursive: true, force: true });
}

/**
 * Builds `key` once per run with `build(dir)` and returns its directory.
 * Test files running at the same time wait for the one that builds.
 */
async function cached(key: string, build: (dir: string) => Promise<void>): Promise<string> {
  const root = await runCacheDir();
  const done = join(root, key);
  const lock = join(root, `${key}.lock`);
  const giveUpAt = Date.now() + BUILD_WAIT_MS;
  for (;;) {
    if (existsSync(join(done, 'ready'))) return done;
    try {
      // mkdir is atomic: whoever creates the lock builds, the others wait.
      await mkdir(lock);
    } catch {
      if (Date.now() > giveUpAt) throw new Error(`run cache: ${key} is still locked by ${lock}`);
      await sleep(250);
      continue;
    }
    try {
      if (existsSync(join(done, 'ready'))) return done;
      const building = join(root, `${key}.building-${process.pid}`);
      await rm(building, { recursive: true, force: true });
      await mkdir(building, { recursive: true });
      await build(building);
      await writeFile(join(building, 'ready'), new Date().toISOString());
      await rm(done, { recursive: true, force: true });
      await rename(building, done);
      return done;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

/**
 * A DuckDB store holding `data`, built once per test run.
 * @returns the store's path (opened read-only by the nodes, so several may share it)
 */
export async function regionStore(data: RegionData): Promise<string> {
  const dir = await cached(`region-${keyOf(data)}`, (building) => build(data, building));
  return join(dir, 'store.duckdb');
}

/**
 * Creates `target` as a copy of an initialised, unmigrated PGlite data
 * directory: initdb costs seconds of CPU, a copy almost nothing. The gateway
 * migrates it when it opens it, as it would a new one.
 */
export async function freshGatewayDataDir(target: string): Promise<void> {
  const template = await cached('pglite-template', async (building) => {
    const db = await PGlite.create(join(building, 'db'));
    await db.close();
  });
  await cp(join(template, 'db'), target, { recursive: true });
}
