// The node's data source behind one interface: the embedded DuckDB store, or
// (see fhir/) a live FHIR server. Both answer the same canonical query with
// the same true figures.
import { stat } from 'node:fs/promises';
import { createEngine, duckDbDialect } from '../engine/index.ts';
import type { SqlRunner } from '../engine/runner.ts';
import type { QuerySource } from '../service/ports.ts';
import { META } from '../store/layout.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';

export interface DuckDbSource extends QuerySource {
  /** The loaded version, known without waiting: a store's version only changes when it is swapped. */
  readonly version: string;
  /** For the catalogue and readiness. */
  readonly runner: SqlRunner;
  readonly loadedAt: Date;
  storeBytes(): number;
  close(): void;
}

/** Reads one meta value; undefined when the store was never ingested. */
export async function readMeta(runner: SqlRunner, key: string): Promise<string | undefined> {
  const rows = await runner.all('SELECT value FROM meta WHERE key = ?', [key]);
  const value = rows[0]?.value;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Opens a store read-only and serves queries from it.
 * @example const source = await openDuckDbSource('lombardia.duckdb');
 */
export async function openDuckDbSource(path: string): Promise<DuckDbSource> {
  const store = await openStore(path, { readOnly: true });
  const runner = createDuckDbRunner(store.connection);
  const engine = createEngine({ runner, dialect: duckDbDialect });
  const dataVersion = (await readMeta(runner, META.dataVersion)) ?? 'empty';
  const ingestedAt = await readMeta(runner, META.ingestedAt);
  let bytes = (await stat(path)).size;
  const refreshSize = setInterval(() => {
    stat(path).then(
      (s) => (bytes = s.size),
      () => undefined,
    );
  }, 60_000).unref();
  return {
    runner,
    loadedAt: ingestedAt ? new Date(ingestedAt) : new Date(),
    version: dataVersion,
    dataVersion: () => Promise.resolve(dataVersion),
    // DuckDB runs one statement per connection at a time; queries queue on it,
    // and each is bounded by the evaluator's timeout.
    evaluate: (query) => engine.evaluate(query),
    storeBytes: () => bytes,
    close() {
      clearInterval(refreshSize);
      store.close();
    },
  };
}
