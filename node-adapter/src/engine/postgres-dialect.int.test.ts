// The PostgreSQL dialect: its SQL text, and the same compiled queries run on
// an embedded PostgreSQL (PGlite) over a copy of a DuckDB store, agreeing
// with DuckDB and with the oracle.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLINIC } from '../../test/oracle/clinic.ts';
import { evaluateOracle } from '../../test/oracle/oracle.ts';
import { populationWithBoundedQueries } from '../../test/oracle/random-population.ts';
import type { SourceQuery } from './bounds.ts';
import { compileQuery, type EvaluableQuery } from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';
import { postgresDialect } from './postgres-dialect.ts';
import type { SqlRunner } from './runner.ts';
import {
  POSTGRES_DDL,
  copyStore,
  expectAgreement,
  ingestResources,
} from '../../test/support/engine.ts';

const REPO = join(import.meta.dirname, '../../..');

function pgliteRunner(db: PGlite): SqlRunner {
  return {
    async all(sql, params) {
      return (await db.query<Record<string, unknown>>(sql, [...params])).rows;
    },
  };
}

describe('PostgreSQL SQL text', () => {
  const q: SourceQuery = {
    ...canonicalQuery(
      parseQuery({
        version: 1,
        cohort: {
          all: [
            { patient: { age: { min: 18 } } },
            {
              condition: {
                code: [
                  { system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11', descendants: true },
                ],
                ageAtEvent: { max: 40 },
              },
            },
          ],
        },
        measures: [
          { summary: { observation: [{ system: 'http://loinc.org', code: '4548-4' }], unit: '%' } },
        ],
      }),
    ),
    asOf: '2026-01-01',
    summaryBounds: [{ min: 4.25, max: 14.75 }],
  };
  const { sql, params } = compileQuery(q, { dialect: postgresDialect });

  test('uses PostgreSQL spellings and $n placeholders for every value', () => {
    expect(sql).toContain('CAST(EXTRACT(YEAR FROM e.event_date) AS INTEGER) * 10000');
    expect(sql).toMatch(
      /CAST\(p\.deceased_date - make_interval\(years => CAST\(\$\d+ AS INTEGER\)\) AS DATE\)/,
    );
    expect(sql).toContain('starts_with(e.code, CAST($');
    expect(sql).toContain('AS DOUBLE PRECISION)');
    expect(sql).toContain('AS TEXT)');
    expect(sql).toContain('cohort AS MATERIALIZED (');
    expect(sql).toContain('CAST(COALESCE(sum(c.record_key), 0) % 4294967296 AS BIGINT)');
    expect(sql).not.toMatch(/year\(|month\(|day\(|VARCHAR|\bDOUBLE\)/);
    expect(params).toContain('E11');
    expect(params).toContain('2008-01-01');
    expect(sql).toMatch(/LEAST\(GREATEST\(v\.v, CAST\(\$\d+ AS DOUBLE PRECISION\)\)/);
    expect(params).toContain(4.25);
    expect(params).toContain(14.75);
  });

  test('differs from DuckDB only in what the dialect spells', () => {
    const duck = compileQuery(q, { dialect: duckDbDialect });
    expect(duck.params).toEqual(params);
    expect(duck.plan).toEqual(compileQuery(q, { dialect: postgresDialect }).plan);
  });
});

describe('PostgreSQL (PGlite) agrees with DuckDB and the oracle', () => {
  let pg: PGlite;

  beforeAll(async () => {
    pg = await PGlite.create();
    await pg.exec(POSTGRES_DDL);
  }, 120_000);
  afterAll(async () => {
    await pg.close();
  });

  test('the clinic population under every schema fixture query and the example queries', async () => {
    const store = await ingestResources(CLINIC);
    try {
      const runner = pgliteRunner(pg);
      await copyStore(store.runner, runner);
      const engines = {
        duckdb: createEngine({ runner: store.runner, dialect: duckDbDialect }),
        postgres: createEngine({ runner, dialect: postgresDialect }),
      };
      const dir = join(REPO, 'schemas/fixtures/queries/valid');
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
        const raw = parseQuery(JSON.parse(readFileSync(join(dir, file), 'utf8')));
        const query: EvaluableQuery = { ...canonicalQuery(raw), asOf: raw.asOf ?? '2026-01-01' };
        const expected = evaluateOracle(CLINIC, query, { recordKey: store.recordKey });
        expectAgreement(await engines.duckdb.evaluate(query), expected);
        expectAgreement(await engines.postgres.evaluate(query), expected);
      }
    } finally {
      await store.close();
    }
  }, 120_000);

  test('random populations and queries', async () => {
    await fc.assert(
      fc.asyncProperty(
        populationWithBoundedQueries({ maxQueries: 4 }),
        async ([resources, queries]) => {
          const store = await ingestResources(resources);
          try {
            const runner = pgliteRunner(pg);
            await copyStore(store.runner, runner);
            const engine = createEngine({ runner, dialect: postgresDialect });
            for (const { query: raw, summaryBounds } of queries) {
              const query: SourceQuery = {
                ...canonicalQuery(parseQuery(raw)),
                asOf: raw.asOf,
                summaryBounds,
              };
              const expected = evaluateOracle(resources, query, { recordKey: store.recordKey });
              expectAgreement(await engine.evaluate(query), expected);
            }
          } finally {
            await store.close();
          }
        },
      ),
      {
        // A whole number: fast-check never reaches a fractional count of runs.
        numRuns: Math.max(1, Math.ceil(Number(process.env.TESSERA_PROPERTY_RUNS ?? 30) / 3)),
        endOnFailure: true,
      },
    );
  }, 600_000);
});
