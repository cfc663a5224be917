// The engine against the brute-force oracle: random FHIR populations written
// as NDJSON, loaded by the real ingest, queried by random valid queries. Every
// count and cell key must agree exactly; means and deviations to 1e-9.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { afterAll, describe, expect, test } from 'vitest';
import { ingest } from '../ingest/index.ts';
import { evaluateOracle, type OracleCell, type OracleResult } from '../oracle/oracle.ts';
import { writeNdjsonDir } from '../oracle/ndjson.ts';
import { populationArbitrary, queryArbitrary } from '../oracle/random-population.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { recordKey } from '../store/record-key.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';
import type { EvaluableQuery } from './compile.ts';
import type { RawCell, RawResult } from './raw-result.ts';

const SECRET = new TextEncoder().encode('property-test-record-key-secret');
const NUM_RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 60);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function close(actual: number | null, expected: number | null, what: string): void {
  if (actual === null || expected === null) {
    expect(actual, what).toBe(expected);
    return;
  }
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    1e-9 * Math.max(1, Math.abs(expected)),
  );
}

function sameCell(actual: RawCell, expected: OracleCell, what: string): void {
  expect({ count: actual.count, cellKey: actual.cellKey }, what).toEqual(expected);
}

function expectAgreement(actual: RawResult, expected: OracleResult): void {
  sameCell(actual.total, expected.total, 'total');
  expect(actual.overlapping).toBe(expected.overlapping);
  expect(actual.strata.map((s) => s.key)).toEqual(expected.strata.map((s) => s.key));
  actual.strata.forEach((s, i) =>
    sameCell(s.cell, expected.strata[i]!.cell, `stratum ${JSON.stringify(s.key)}`),
  );
  expect(actual.measures.map((m) => m.type)).toEqual(expected.measures.map((m) => m.type));
  actual.measures.forEach((m, i) => {
    const o = expected.measures[i]!;
    if (m.type === 'histogram' && o.type === 'histogram') {
      expect(m.bins.map(({ from, to }) => ({ from, to }))).toEqual(
        o.bins.map(({ from, to }) => ({ from, to })),
      );
      m.bins.forEach((bin, b) => sameCell(bin.cell, o.bins[b]!.cell, `measure ${i} bin ${b}`));
      sameCell(m.missing, o.missing, `measure ${i} missing`);
    } else if (m.type === 'summary' && o.type === 'summary') {
      sameCell(m.n, o.n, `measure ${i} n`);
      close(m.mean, o.mean, `measure ${i} mean`);
      close(m.sd, o.sd, `measure ${i} sd`);
      close(m.sumAbs, o.sumAbs, `measure ${i} sumAbs`);
      close(m.maxAbs, o.maxAbs, `measure ${i} maxAbs`);
    }
  });
}

describe('engine = oracle on random populations', () => {
  test('every count, cell key and statistic agrees', async () => {
    await fc.assert(
      fc.asyncProperty(
        populationArbitrary(),
        fc.array(queryArbitrary(), { minLength: 1, maxLength: 6 }),
        async (resources, queries) => {
          const dir = await mkdtemp(join(tmpdir(), 'tessera-engine-property-'));
          dirs.push(dir);
          await writeNdjsonDir(join(dir, 'ndjson'), resources);
          const dbPath = join(dir, 'store.duckdb');
          // Some generated resources are malformed on purpose.
          await ingest({
            sources: [join(dir, 'ndjson')],
            dbPath,
            recordKeySecret: SECRET,
            maxBadShare: 1,
          });
          const store = await openStore(dbPath, { readOnly: true });
          try {
            const engine = createEngine({
              runner: createDuckDbRunner(store.connection),
              dialect: duckDbDialect,
            });
            for (const raw of queries) {
              const query: EvaluableQuery = { ...canonicalQuery(parseQuery(raw)), asOf: raw.asOf };
              const expected = evaluateOracle(resources, query, {
                recordKey: (id) => recordKey(SECRET, id),
              });
              expectAgreement(await engine.evaluate(query), expected);
            }
          } finally {
            store.close();
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: NUM_RUNS, endOnFailure: process.env.TESSERA_PROPERTY_SHRINK === undefined },
    );
  }, 600_000);
});
