// The consent criterion, the opt-out policy and medication criteria kept to
// some resource types, answered three ways over one hand-written population
// (MII broad consents, medication uses of every type): the embedded store
// (the real ingest), the live source against a real FHIR server (full and
// trimmed capabilities) and the brute-force oracle. Counts and cell keys
// equal everywhere.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import type { CodeSet, CohortQuery } from '@tessera/schemas';
import type { Resource } from '@medplum/fhirtypes';
import { expectAgreement } from '@tessera/node-adapter/testing';
import type { DuckDbSource, FhirSource, SourceQuery } from '@tessera/node-adapter';
import { excludeOptedOut, ingest, openDuckDbSource, recordKey } from '@tessera/node-adapter';
import {
  CONSENT_CLINIC,
  MDAT_USE,
  MII_POLICY,
  RECONTACT,
  evaluateOracle,
  writeNdjsonDir,
} from '@tessera/node-adapter/oracle';
import { loadResources, startFhirServer } from '../fhir-server/server.ts';
import type { FhirServer } from '../fhir-server/server.ts';
import { liveSourceOn } from '../support/live-source.ts';

const SECRET = new TextEncoder().encode('consent-conformance-record-key-32');

const ATC = 'http://www.whocc.no/atc';
const METFORMIN: CodeSet = [{ system: ATC, code: 'A10BA02' }];
const MDAT: CodeSet = [{ system: MII_POLICY, code: MDAT_USE }];
const RECONTACT_CODES: CodeSet = [{ system: MII_POLICY, code: RECONTACT }];

const QUERIES: readonly [Omit<CohortQuery, 'version'>, string][] = [
  [{ cohort: { consent: { code: MDAT } } }, '2026-01-01'],
  [{ cohort: { consent: { code: MDAT } } }, '2027-06-01'],
  [{ cohort: { consent: { code: MDAT } } }, '2016-01-01'],
  [{ cohort: { consent: { code: MDAT, decision: 'deny' } } }, '2026-01-01'],
  [{ cohort: { not: { consent: { code: RECONTACT_CODES, decision: 'deny' } } } }, '2026-01-01'],
  [
    {
      cohort: { all: [{ consent: { code: MDAT } }, { medication: { code: METFORMIN } }] },
      stratify: ['gender'],
    },
    '2026-01-01',
  ],
  [
    { cohort: { medication: { code: METFORMIN, resourceTypes: ['MedicationAdministration'] } } },
    '2026-01-01',
  ],
  [
    {
      cohort: {
        medication: {
          code: METFORMIN,
          resourceTypes: ['MedicationRequest', 'MedicationStatement'],
        },
      },
      stratify: ['gender'],
    },
    '2026-01-01',
  ],
];

function queries(): SourceQuery[] {
  const plain = QUERIES.map(([body, asOf]) => ({
    ...canonicalQuery(parseQuery({ version: 1, ...body })),
    asOf,
  }));
  // The same questions on a node that applies an opt-out of MDAT use.
  return [...plain, ...plain.map((q) => excludeOptedOut(q, [MDAT[0]]))];
}

let dir: string;
let store: DuckDbSource;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-consent-'));
  await writeNdjsonDir(join(dir, 'ndjson'), CONSENT_CLINIC);
  await ingest({
    sources: [join(dir, 'ndjson')],
    dbPath: join(dir, 'store.duckdb'),
    recordKeySecret: SECRET,
    workers: 0,
  });
  store = await openDuckDbSource(join(dir, 'store.duckdb'));
});

afterAll(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each(['full', 'trimmed'] as const)(
  'consent and medication types, %s capabilities',
  (level) => {
    let server: FhirServer;
    let live: FhirSource;

    beforeAll(async () => {
      server = await startFhirServer({ capabilities: level, defaultPageSize: 3 });
      await loadResources(server.baseUrl, CONSENT_CLINIC as unknown as Resource[], 50);
      live = liveSourceOn(server.baseUrl, SECRET);
    });

    afterAll(async () => {
      await live.close();
      await server.close();
    });

    it('store, live source and oracle give the same answers', async () => {
      const signal = AbortSignal.timeout(60_000);
      const keyOf = (id: string): number => recordKey(SECRET, id);
      const totals: number[] = [];
      for (const query of queries()) {
        const oracle = evaluateOracle(CONSENT_CLINIC, query, { recordKey: keyOf });
        expectAgreement(await store.evaluate(query, signal), oracle);
        expectAgreement(await live.evaluate(query, signal), oracle);
        totals.push(oracle.total.count);
      }
      // The hand-worked answers (test/oracle/consent-clinic.ts), then with the opt-out.
      expect(totals).toEqual([3, 4, 2, 1, 7, 1, 3, 3, 3, 4, 2, 0, 6, 1, 3, 2]);
    });
  },
);
