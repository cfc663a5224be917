// The catalogue of a node that applies an opt-out describes its data
// without the opted-out patients, like every other answer it gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@tessera/schemas';
import type { FhirResource } from '../../test/oracle/read-fhir.ts';
import { ingestResources, type TestStore } from '../../test/support/engine.ts';
import { buildCatalogue, type CatalogueSettings } from './catalogue.ts';

const POLICY = 'urn:oid:2.16.840.1.113883.3.1937.777.24.5.3';
const MDAT = '2.16.840.1.113883.3.1937.777.24.5.3.8';
const SNOMED = 'http://snomed.info/sct';

const patient = (id: string): FhirResource => ({
  resourceType: 'Patient',
  id,
  gender: 'female',
  birthDate: '1970-01-01',
});
const condition = (id: string, subject: string): FhirResource => ({
  resourceType: 'Condition',
  id,
  subject: { reference: `Patient/${subject}` },
  code: { coding: [{ system: SNOMED, code: '44054006' }] },
  recordedDate: '2024-01-01',
});

// Two patients with type 2 diabetes; one of them denies MDAT use.
const RESOURCES: FhirResource[] = [
  patient('a'),
  patient('b'),
  patient('c'),
  condition('x1', 'a'),
  condition('x2', 'b'),
  {
    resourceType: 'Consent',
    id: 'k',
    status: 'active',
    patient: { reference: 'Patient/b' },
    provision: { type: 'deny', code: [{ coding: [{ system: POLICY, code: MDAT }] }] },
  },
];

let store: TestStore;
beforeAll(async () => {
  store = await ingestResources(RESOURCES);
});
afterAll(async () => {
  await store.close();
});

function settings(optOut: CatalogueSettings['optOut']): CatalogueSettings {
  const catalogue = loadConfig('node-config', {
    nodeId: 'n',
    source: { kind: 'duckdb', path: 'x.duckdb' },
    stateDir: 'state',
    gateway: { issuer: 'https://gateway.example', publicJwks: { keys: [] } },
    projects: ['p'],
  }).catalogue;
  return { ...catalogue, nodeId: 'n', threshold: 2, ...(optOut ? { optOut } : {}) };
}

describe('the catalogue and the opt-out', () => {
  it('lists a code only when enough patients who did not opt out hold it', async () => {
    const all = await buildCatalogue(store.runner, settings(undefined), 'v', '2026-01-01');
    const without = await buildCatalogue(
      store.runner,
      settings([{ system: POLICY, code: MDAT }]),
      'v',
      '2026-01-01',
    );
    expect(all.appliesOptOut).toBe(false);
    expect(without.appliesOptOut).toBe(true);
    expect(all.codes?.map((c) => c.code)).toEqual(['44054006']);
    expect(without.codes).toEqual([]);
  });
});
