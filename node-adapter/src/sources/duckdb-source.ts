// The embedded DuckDB store as the node's source (the other is the live FHIR
// server, live-fhir-source.ts): both answer the same canonical query with the
// same true figures. The store's data is as old as its last ingest or sync;
// the catalogue reads the store itself.
import { stat } from 'node:fs/promises';
import { isoDate } from '@tessera/schemas';
import { buildCatalogue } from '../catalogue/catalogue.ts';
import { createEngine, duckDbDialect } from '../engine/index.ts';
import type { SqlRunner } from '../engine/runner.ts';
import { META } from '../store/layout.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import type { NodeSource } from './source.ts';

export interface DuckDbSourceOptions {
  /** The wall clock, for the data's age and the catalogue's reference date. */
  readonly now?: () => Date;
  /**
   * How often the file at the path is looked at (its size, and whether a sync
   * run by another process, such as the Helm chart's CronJob, renamed a new
   * store over it; the source then switches to it). Default one minute.
   */
  readonly checkEveryMs?: number;
}

export interface DuckDbSource extends NodeSource {
  /** The loaded version, known without waiting: a store's version only changes when it is swapped. */
  readonly version: string;
  /** Switches to the store now at the source's path; resolves to its data version. */
  readonly reload: () => Promise<string>;
  close(): void;
}

/** Reads one meta value; undefined when the store was never ingested. */
async function readMeta(runner: SqlRunner, key: string): Promise<string | undefined> {
  const rows = await runner.all('SELECT value FROM meta WHERE key = ?', [key]);
  const value = rows[0]?.value;
  return typeof value === 'string' ? value : undefined;
}

interface Opened {
  /** The opened file (device and inode): a store renamed over the path is another file. */
  readonly file: string;
  readonly store: Awaited<ReturnType<typeof openStore>>;
  readonly runner: SqlRunner;
  readonly engine: ReturnType<typeof createEngine>;
  readonly version: string;
  readonly loadedAt: Date;
  /** Evaluations running on this store; a replaced store closes when none is left. */
  running: number;
  retired: boolean;
}

/** Which file is at `path` now: its device and inode. */
async function fileAt(path: string): Promise<{ file: string; bytes: number }> {
  const s = await stat(path);
  return { file: `${s.dev}:${s.ino}`, bytes: s.size };
}

async function openOnce(path: string, now: () => Date): Promise<Opened> {
  // Taken before the open: a store renamed over the path in between is seen
  // at the next check. No file: openStore says so, in the node's own words.
  const file = (await fileAt(path).catch(() => undefined))?.file ?? 'none';
  const store = await openStore(path, { readOnly: true });
  try {
    const runner = createDuckDbRunner(store.connection);
    // Read-only: the data cannot change under this engine; a reload opens a new one.
    const engine = createEngine({ runner, dialect: duckDbDialect, immutable: true });
    const version = (await readMeta(runner, META.dataVersion)) ?? 'empty';
    const ingestedAt = await readMeta(runner, META.ingestedAt);
    return {
      file,
      store,
      runner,
      engine,
      version,
      loadedAt: ingestedAt ? new Date(ingestedAt) : now(),
      running: 0,
      retired: false,
    };
  } catch (err) {
    store.close();
    throw err;
  }
}

/**
 * Opens a store read-only and serves queries from it. `reload()` opens the
 * file at `path` again (after a sync renamed a new store over it) and
 * switches to it; evaluations already running finish on the old store.
 * @example const source = await openDuckDbSource('lombardia.duckdb');
 */
export async function openDuckDbSource(
  path: string,
  options: DuckDbSourceOptions = {},
): Promise<DuckDbSource> {
  const now = options.now ?? (() => new Date());
  let current = await openOnce(path, now);
  let bytes = (await fileAt(path)).bytes;
  let reloading: Promise<string> | undefined;
  const check = async (): Promise<void> => {
    const seen = await fileAt(path);
    bytes = seen.bytes;
    if (seen.file !== current.file) await reload();
  };
  const checkTimer = setInterval(() => {
    // A store that cannot be opened (half-copied by hand, another layout)
    // leaves the current one serving; the next check tries again.
    check().catch(() => undefined);
  }, options.checkEveryMs ?? 60_000).unref();
  const ageMs = (): number => now().getTime() - current.loadedAt.getTime();
  const retire = (opened: Opened): void => {
    opened.retired = true;
    if (opened.running === 0) opened.store.close();
  };
  // One reload at a time: a sync's own reload and the check may meet.
  const reload = (): Promise<string> => {
    reloading ??= (async () => {
      try {
        const next = await openOnce(path, now);
        const previous = current;
        current = next;
        retire(previous);
        fileAt(path).then(
          (seen) => (bytes = seen.bytes),
          () => undefined,
        );
        return next.version;
      } finally {
        reloading = undefined;
      }
    })();
    return reloading;
  };
  return {
    get version() {
      return current.version;
    },
    dataVersion: () => Promise.resolve(current.version),
    // DuckDB runs one statement per connection at a time; queries queue on it,
    // and each is bounded by the evaluator's timeout.
    async evaluate(query) {
      const opened = current;
      opened.running += 1;
      try {
        return await opened.engine.evaluate(query);
      } finally {
        opened.running -= 1;
        if (opened.retired && opened.running === 0) opened.store.close();
      }
    },
    readiness() {
      const { version } = current;
      return Promise.resolve(
        version === 'empty'
          ? { ready: false, reason: 'no data loaded' }
          : { ready: true, dataVersion: version, dataAgeSeconds: Math.round(ageMs() / 1000) },
      );
    },
    catalogue: (settings, dataVersion) =>
      buildCatalogue(current.runner, settings, dataVersion, isoDate(now())),
    dataAgeSeconds: () => ageMs() / 1000,
    storeBytes: () => bytes,
    reload,
    close() {
      clearInterval(checkTimer);
      retire(current);
    },
  };
}
