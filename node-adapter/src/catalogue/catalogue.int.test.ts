// The catalogue names codes by the displays the data gives them, and only by
// a display that at least threshold patients' records carry: a name written
// for one patient never leaves the node.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogueEntry } from '@tessera/schemas';
import { ingest } from '../ingest/ingest.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { type CatalogueSettings, buildCatalogue } from './catalogue.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const THRESHOLD = 10;
const COMMON = 'Type 2 diabetes mellitus without complications';
const ONE_PATIENT = 'T2DM, told on the ward by the patient Rossi';

function condition(id: string, patient: string, code: string, display?: string) {
  return {
    resourceType: 'Condition',
    id,
    subject: { reference: `Patient/${patient}` },
    onsetDateTime: '2020-01-01',
    code: { coding: [{ system: ICD10, code, ...(display ? { display } : {}) }] },
  };
}

describe('catalogue displays', () => {
  let dir: string;
  let entry: CatalogueEntry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-catalogue-'));
    const patients = Array.from({ length: 14 }, (_, i) => `p${i}`);
    const resources = [
      ...patients.map((id) => ({
        resourceType: 'Patient',
        id,
        gender: 'female',
        birthDate: '1960-01-01',
      })),
      // E11.9: 13 patients carry the common name (one of them twice), one a name of their own.
      ...patients.slice(0, 13).map((p, i) => condition(`c${i}`, p, 'E11.9', COMMON)),
      condition('c-again', 'p0', 'E11.9', COMMON),
      condition('c13', 'p13', 'E11.9', ONE_PATIENT),
      // I10 for all, never named; E10 for too few patients to be listed at all.
      ...patients.map((p, i) => condition(`h${i}`, p, 'I10')),
      ...patients.slice(0, 3).map((p, i) => condition(`t${i}`, p, 'E10', 'Type 1 diabetes')),
    ];
    await writeFile(join(dir, 'data.ndjson'), resources.map((r) => JSON.stringify(r)).join('\n'));
    const dbPath = join(dir, 'store.duckdb');
    const report = await ingest({
      sources: [join(dir, 'data.ndjson')],
      dbPath,
      recordKeySecret: new Uint8Array(32).fill(5),
      workers: 0,
    });
    const store = await openStore(dbPath, { readOnly: true });
    try {
      const settings = {
        nodeId: 'lombardia',
        threshold: THRESHOLD,
        description: 'test',
        healthTheme: [],
        accessRights: 'RESTRICTED',
      } as unknown as CatalogueSettings;
      entry = await buildCatalogue(
        createDuckDbRunner(store.connection),
        settings,
        report.dataVersion,
        '2026-01-01',
      );
    } finally {
      store.close();
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("names a code by the display most of its patients' records carry", () => {
    const e11 = entry.codes?.find((c) => c.code === 'E119');
    expect(e11).toMatchObject({ kind: 'condition', system: ICD10, display: COMMON });
  });

  it('publishes no display that fewer than threshold patients carry, and none for an unnamed code', () => {
    expect(JSON.stringify(entry)).not.toContain('Rossi');
    const i10 = entry.codes?.find((c) => c.code === 'I10');
    expect(i10).toBeDefined();
    expect(i10).not.toHaveProperty('display');
    expect(entry.codes?.some((c) => c.code === 'E10')).toBe(false);
    expect(JSON.stringify(entry)).not.toContain('Type 1 diabetes');
  });
});
