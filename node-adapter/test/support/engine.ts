// Support for engine tests: FHIR resources loaded by the real ingest into a
// temporary DuckDB file, copying a store into another database (PostgreSQL),
// and the comparison of an engine result with the oracle's.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { expect } from 'vitest';
import { ingest } from '../../src/ingest/index.ts';
import { evaluateOracle, type OracleCell, type OracleResult } from '../oracle/oracle.ts';
import { writeNdjsonDir } from '../oracle/ndjson.ts';
import type { FhirResource } from '../oracle/read-fhir.ts';
import { CODE_PATIENT_TABLES, DDL, EVENT_TABLES } from '../../src/store/layout.ts';
import { createDuckDbRunner, openStore } from '../../src/store/open.ts';
import { recordKey } from '../../src/store/record-key.ts';
import type { EvaluableQuery } from '../../src/engine/compile.ts';
import { duckDbDialect } from '../../src/engine/duckdb-dialect.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { RawCell, RawResult } from '../../src/engine/raw-result.ts';
import type { SqlRunner, SqlValue } from '../../src/engine/runner.ts';

export const TEST_SECRET = new TextEncoder().encode('engine-test-record-key-secret');

export interface TestStore {
  readonly runner: SqlRunner;
  /** The record key ingest gave a patient id. */
  readonly recordKey: (patientId: string) => number;
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
    return await openTestStore(dbPath, dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Opens a store ingested with TEST_SECRET read-only; closing it removes
 * `removeOnClose` (the store's temporary directory) when given.
 * @example const store = await openTestStore(join(dir, 'store.duckdb'), dir);
 */
export async function openTestStore(dbPath: string, removeOnClose?: string): Promise<TestStore> {
  const store = await openStore(dbPath, { readOnly: true });
  return {
    runner: createDuckDbRunner(store.connection),
    recordKey: (id) => recordKey(TEST_SECRET, id),
    async close() {
      store.close();
      if (removeOnClose !== undefined) await rm(removeOnClose, { recursive: true, force: true });
    },
  };
}

/**
 * Runs v1 query bodies (without `version`) on the store's engine as of
 * `asOf`, and asserts that the oracle, reading `resources` (what was
 * ingested), agrees on every count, cell key and statistic.
 * @example const evaluate = oracleCheckedEngine(store, resources); (await evaluate({ cohort })).total.count
 */
export function oracleCheckedEngine(
  store: TestStore,
  resources: readonly FhirResource[],
  asOf = '2026-01-01',
): (body: Record<string, unknown>) => Promise<RawResult> {
  return async (body) => {
    const query: EvaluableQuery = {
      ...canonicalQuery(parseQuery({ version: 1, ...body })),
      asOf,
    };
    const result = await createEngine({ runner: store.runner, dialect: duckDbDialect }).evaluate(
      query,
    );
    expectAgreement(result, evaluateOracle(resources, query, { recordKey: store.recordKey }));
    return result;
  };
}

/** The store's tables, in load order. */
export const STORE_TABLES = [
  'patients',
  ...Object.values(EVENT_TABLES),
  'observation_value_codes',
  'consents',
  ...Object.values(CODE_PATIENT_TABLES),
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

function close(actual: number | null, expected: number | null, what: string): void {
  if (actual === null || expected === null) {
    expect(actual, what).toBe(expected);
    return;
  }
  const tolerance = 1e-9 * Math.max(1, Math.abs(expected));
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    tolerance,
  );
}

function sameCell(actual: RawCell, expected: OracleCell, what: string): void {
  expect({ count: actual.count, cellKey: actual.cellKey }, what).toEqual(expected);
}

/**
 * Asserts that an engine result and the oracle's agree: every count and cell
 * key exactly, strata keys and order, bins, and the statistics (clamped sums
 * included) to 1e-9.
 */
export function expectAgreement(actual: RawResult, expected: OracleResult): void {
  sameCell(actual.total, expected.total, 'total');
  expect(actual.overlapping, 'overlapping').toBe(expected.overlapping);
  expect(actual.strata.map((s) => s.key)).toEqual(expected.strata.map((s) => s.key));
  actual.strata.forEach((s, i) => {
    sameCell(s.cell, expected.strata[i]!.cell, `stratum ${JSON.stringify(s.key)}`);
  });
  expect(actual.measures.map((m) => m.type)).toEqual(expected.measures.map((m) => m.type));
  actual.measures.forEach((m, i) => {
    const o = expected.measures[i]!;
    if (m.type === 'histogram' && o.type === 'histogram') {
      expect(m.unit).toBe(o.unit);
      expect(m.bins.map(({ from, to }) => ({ from, to }))).toEqual(
        o.bins.map(({ from, to }) => ({ from, to })),
      );
      m.bins.forEach((bin, b) => sameCell(bin.cell, o.bins[b]!.cell, `measure ${i} bin ${b}`));
      sameCell(m.missing, o.missing, `measure ${i} missing`);
    } else if (m.type === 'summary' && o.type === 'summary') {
      expect(m.unit).toBe(o.unit);
      sameCell(m.n, o.n, `measure ${i} n`);
      close(m.mean, o.mean, `measure ${i} mean`);
      close(m.sd, o.sd, `measure ${i} sd`);
      close(m.sumAbs, o.sumAbs, `measure ${i} sumAbs`);
      close(m.maxAbs, o.maxAbs, `measure ${i} maxAbs`);
      close(m.clampedSum, o.clampedSum, `measure ${i} clampedSum`);
      close(m.clampedSumSquares, o.clampedSumSquares, `measure ${i} clampedSumSquares`);
    }
  });
}
