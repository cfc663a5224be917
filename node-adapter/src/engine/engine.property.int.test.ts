// The engine against the brute-force oracle: random FHIR populations written
// as NDJSON, loaded by the real ingest, queried by random valid queries with
// random clamping bounds for their summaries. Every count and cell key must
// agree exactly; means, deviations and clamped sums to 1e-9.
import fc from 'fast-check';
import { PREFIX_HIERARCHY_SYSTEMS, canonicalQuery, parseQuery } from '@tessera/schemas';
import type { CohortQuery } from '@tessera/schemas';
import { describe, test } from 'vitest';
import { evaluateOracle } from '../../test/oracle/oracle.ts';
import type { FhirResource } from '../../test/oracle/read-fhir.ts';
import {
  AS_OF_DATES,
  populationArbitrary,
  populationWithBoundedQueries,
} from '../../test/oracle/random-population.ts';
import type { SourceQuery } from './bounds.ts';
import type { EvaluableQuery } from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';
import { expectAgreement, ingestResources } from '../../test/support/engine.ts';

const NUM_RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 30);

describe('engine = oracle on random populations', () => {
  test('every count, cell key and statistic agrees', async () => {
    await fc.assert(
      fc.asyncProperty(populationWithBoundedQueries(), async ([resources, queries]) => {
        const store = await ingestResources(resources);
        try {
          const engine = createEngine({ runner: store.runner, dialect: duckDbDialect });
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
      }),
      // Shrinking re-ingests every candidate; ask for it when a failure needs it.
      { numRuns: NUM_RUNS, endOnFailure: process.env.TESSERA_PROPERTY_SHRINK === undefined },
    );
  }, 600_000);

  // A count of codes alone is read from the code index without the patients
  // table; random queries rarely are exactly that, so here every code the
  // population holds is asked for, alone, with its neighbour and as a prefix.
  test('counts of codes alone agree, for every code of the population', async () => {
    await fc.assert(
      fc.asyncProperty(populationArbitrary(), async (resources) => {
        const store = await ingestResources(resources);
        try {
          const engine = createEngine({ runner: store.runner, dialect: duckDbDialect });
          for (const raw of codeCountQueries(resources)) {
            const query: EvaluableQuery = {
              ...canonicalQuery(parseQuery(raw)),
              asOf: AS_OF_DATES[0],
            };
            const expected = evaluateOracle(resources, query, { recordKey: store.recordKey });
            expectAgreement(await engine.evaluate(query), expected);
          }
        } finally {
          await store.close();
        }
      }),
      {
        numRuns: Math.max(1, Math.ceil(NUM_RUNS / 3)),
        endOnFailure: process.env.TESSERA_PROPERTY_SHRINK === undefined,
      },
    );
  }, 600_000);
});

/** Total-only queries of one condition or immunization criterion on codes alone, from the codes present. */
function codeCountQueries(resources: readonly FhirResource[]): CohortQuery[] {
  const kinds = { Condition: 'condition', Immunization: 'immunization' } as const;
  const queries: CohortQuery[] = [];
  for (const [resourceType, kind] of Object.entries(kinds)) {
    const codings = new Map<string, { system: string; code: string }>();
    for (const r of resources) {
      if (r.resourceType !== resourceType) continue;
      const concept =
        (r as { code?: unknown; vaccineCode?: unknown }).code ??
        (r as { vaccineCode?: unknown }).vaccineCode;
      for (const c of (concept as { coding?: { system?: string; code?: string }[] } | undefined)
        ?.coding ?? []) {
        if (c.system !== undefined && c.code !== undefined)
          codings.set(`${c.system}|${c.code}`, { system: c.system, code: c.code });
      }
    }
    const list = [...codings.values()];
    list.forEach((coding, i) => {
      const next = list[(i + 1) % list.length]!;
      const prefix = { ...coding, code: coding.code.slice(0, 2), descendants: true };
      const sets = [
        [coding],
        [coding, next],
        ...(PREFIX_HIERARCHY_SYSTEMS.has(coding.system) ? [[prefix]] : []),
      ];
      for (const code of sets) {
        queries.push({ version: 1, cohort: { [kind]: { code } } } as unknown as CohortQuery);
      }
    });
  }
  return queries;
}
