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
import { evaluateOracle } from '../oracle/oracle.ts';
import { writeNdjsonDir } from '../oracle/ndjson.ts';
import { populationArbitrary, queryArbitrary } from '../oracle/random-population.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { recordKey } from '../store/record-key.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';
import type { EvaluableQuery } from './compile.ts';
import { expectAgreement } from './test-support.ts';

const SECRET = new TextEncoder().encode('property-test-record-key-secret');
const NUM_RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 60);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

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
