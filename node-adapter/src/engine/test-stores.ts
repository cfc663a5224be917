// Stores for engine tests: FHIR resources loaded by the real ingest into a
// temporary DuckDB file, and the same tables copied into an embedded
// PostgreSQL (PGlite) for the PostgreSQL dialect. Test support only.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingest } from '../ingest/index.ts';
import { writeNdjsonDir } from '../oracle/ndjson.ts';
import type { FhirResource } from '../oracle/read-fhir.ts';
import { DDL, EVENT_TABLES } from '../store/layout.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { recordKey } from '../store/record-key.ts';
import type { SqlRunner, SqlValue } from './runner.ts';

export const TEST_SECRET = new TextEncoder().encode('engine-test-record-key-secret');

export interface TestStore {
  readonly runner: SqlRunner;
  /** The record key ingest gave a patient id. */
  recordKey(patientId: string): number;
  close(): Promise<void>;
}

/**
 * Writes the resources as NDJSON, ingests them (malformed ones tolerated)
 * and opens the store read-only.
 * @example const store = await ingestResources(resources); await store.runner.all('SELECT 1', []);
 */
export async function ingestResources(resources: readonly FhirResource[]): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-engine-'));
  try {
    await writeNdjsonDir(join(dir, 'ndjson'), resources);
    const dbPath = join(dir, 'store.duckdb');
    await ingest({
      sources: [join(dir, 'ndjson')],
      dbPath,
      recordKeySecret: TEST_SECRET,
      maxBadShare: 1,
    });
    const store = await openStore(dbPath, { readOnly: true });
    return {
      runner: createDuckDbRunner(store.connection),
      recordKey: (id) => recordKey(TEST_SECRET, id),
      async close() {
        store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The store's tables, in load order. */
export const STORE_TABLES = [
  'patients',
  ...Object.values(EVENT_TABLES),
  'observation_value_codes',
] as const;

/** The layout's DDL in PostgreSQL types (no unsigned integers, DOUBLE PRECISION). */
export const POSTGRES_DDL = DDL.replaceAll('UBIGINT', 'BIGINT').replaceAll(
  'DOUBLE,',
  'DOUBLE PRECISION,',
);

/**
 * Copies every store table from one runner into another (an empty store of
 * the same layout), a few hundred rows per INSERT.
 */
export async function copyStore(from: SqlRunner, to: SqlRunner): Promise<void> {
  for (const table of STORE_TABLES) {
    await to.all(`DELETE FROM ${table}`, []);
    const rows = await from.all(`SELECT * FROM ${table}`, []);
    const columns = Object.keys(rows[0] ?? {});
    for (let start = 0; start < rows.length; start += 200) {
      const chunk = rows.slice(start, start + 200);
      const params: SqlValue[] = [];
      const tuples = chunk.map((row) => {
        const slots = columns.map((column) => {
          params.push(row[column] as SqlValue);
          return `$${params.length}`;
        });
        return `(${slots.join(', ')})`;
      });
      await to.all(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`,
        params,
      );
    }
  }
}
