// The engine against the brute-force oracle: random FHIR populations written
// as NDJSON, loaded by the real ingest, queried by random valid queries. Every
// count and cell key must agree exactly; means and deviations to 1e-9.
import fc from 'fast-check';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { describe, test } from 'vitest';
import { evaluateOracle } from '../oracle/oracle.ts';
import { populationWithQueries } from '../oracle/random-population.ts';
import type { EvaluableQuery } from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';
import { expectAgreement, ingestResources } from './test-support.ts';

const NUM_RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 30);

describe('engine = oracle on random populations', () => {
  test('every count, cell key and statistic agrees', async () => {
    await fc.assert(
      fc.asyncProperty(populationWithQueries(), async ([resources, queries]) => {
        const store = await ingestResources(resources);
        try {
          const engine = createEngine({ runner: store.runner, dialect: duckDbDialect });
          for (const raw of queries) {
            const query: EvaluableQuery = { ...canonicalQuery(parseQuery(raw)), asOf: raw.asOf };
            const expected = evaluateOracle(resources, query, { recordKey: store.recordKey });
            expectAgreement(await engine.evaluate(query), expected);
          }
        } finally {
          await store.close();
        }
      }),
      // Shrinking re-ingests every candidate; ask for it when a failure needs it.
      { numRuns: NUM_RUNS, endOnFailure: process.env.TESSERA_PROPERTY_SHRINK === undefined },
    );
  }, 600_000);
});
