// Public FHIR R4 data written by others (test/fixtures/fhir-corpus, sources
// and licences in its corpus-sources.json), loaded as published through the
// real ingest: the report names every resource read and why any was
// skipped, the engine agrees with the brute-force oracle on every count and
// cell key, and the counts are those the source itself states or shows.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFhirDir } from '../../test/oracle/ndjson.ts';
import type { FhirResource } from '../../test/oracle/read-fhir.ts';
import {
  oracleCheckedEngine,
  openTestStore,
  TEST_SECRET,
  type TestStore,
} from '../../test/support/engine.ts';
import type { RawResult } from '../engine/raw-result.ts';
import { recordKey } from '../store/record-key.ts';
import { ingest, type IngestReport } from './ingest.ts';

const CORPUS = fileURLToPath(new URL('../../test/fixtures/fhir-corpus/', import.meta.url));
const BFARM = 'http://fhir.de/CodeSystem/bfarm';
const DIMDI = 'http://fhir.de/CodeSystem/dimdi';
const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

function ingestSet(set: string, dbPath: string): Promise<IngestReport> {
  return ingest({
    sources: [join(CORPUS, set)],
    dbPath,
    recordKeySecret: TEST_SECRET,
    now: () => new Date('2026-11-20T10:00:00Z'),
    workers: 0,
  });
}

/**
 * One data set of the corpus, ingested once for its describe block: the
 * report, and its queries answered by the engine and checked against the
 * oracle reading the same files.
 */
function dataSet(set: string) {
  const loaded = {} as { report: IngestReport; store: TestStore; resources: FhirResource[] };
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-corpus-'));
    try {
      loaded.report = await ingestSet(set, join(dir, 'store.duckdb'));
      loaded.store = await openTestStore(join(dir, 'store.duckdb'), dir);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    loaded.resources = await readFhirDir(join(CORPUS, set));
  });
  afterAll(async () => {
    await loaded.store.close();
  });
  const evaluate = (body: Record<string, unknown>): Promise<RawResult> =>
    oracleCheckedEngine(loaded.store, loaded.resources)(body);
  const count = async (cohort: unknown): Promise<number> =>
    (await evaluate({ cohort })).total.count;
  return { loaded, evaluate, count };
}

const counts = (loaded: number, skipped = 0, malformed = 0) => ({ loaded, skipped, malformed });

interface Source {
  readonly repository: string;
  readonly commit: string;
  readonly path: string;
  readonly licence: string;
  readonly sha256: string;
}

test('every file of the corpus has its source, an open licence and its digest recorded', async () => {
  const sources = JSON.parse(await readFile(join(CORPUS, 'corpus-sources.json'), 'utf8')) as Record<
    string,
    Source
  >;
  // The data sets' files; the README and this record sit beside the folders.
  const files = (await readdir(CORPUS, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => relative(CORPUS, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((name) => name.includes('/'))
    .sort();
  expect(Object.keys(sources).sort()).toEqual(files);
  for (const [file, source] of Object.entries(sources)) {
    expect(['Apache-2.0', 'CC-BY-4.0', 'CC0-1.0'], file).toContain(source.licence);
    expect(source.commit, file).toMatch(/^[0-9a-f]{40}$/);
    const digest = createHash('sha256')
      .update(await readFile(join(CORPUS, file)))
      .digest('hex');
    expect(digest, file).toBe(source.sha256);
  }
});

describe('flare: the specimen and diagnosis test Bundle (MII, Apache-2.0)', () => {
  const { loaded, evaluate, count } = dataSet('flare-specimen');
  const E13_9 = [{ system: `${BFARM}/icd-10-gm`, code: 'E13.9' }];

  test('2 patients and their diagnosis stored; the Specimens skipped by name, none malformed', () => {
    const { report } = loaded;
    expect(report.resources).toEqual({
      Condition: counts(1),
      Patient: counts(2),
      Specimen: counts(0, 2),
    });
    expect(report.skippedReasons).toEqual({ Specimen: { 'resource type not read': 2 } });
    expect(report.total).toBe(5);
    expect(report.badLineCount).toBe(0);
    expect(report.droppedEvents).toBe(0);
    expect(report.rows.patients).toBe(2);
  });

  test("flare's own expectation: the diagnosis E13.9 finds id-pat-diab-test-1 alone", async () => {
    const result = await evaluate({ cohort: { condition: { code: E13_9 } } });
    expect(result.total).toEqual({
      count: 1,
      cellKey: recordKey(TEST_SECRET, 'id-pat-diab-test-1'),
    });
    expect(
      await count({ condition: { code: [{ ...E13_9[0], system: `${DIMDI}/icd-10-gm` }] } }),
    ).toBe(1);
    expect(
      await count({
        condition: { code: [{ system: `${BFARM}/icd-10-gm`, code: 'E13', descendants: true }] },
      }),
    ).toBe(1);
    // Dated by recordedDate, as written (2021-01-01T00:00:00+01:00).
    expect(
      await count({ condition: { code: E13_9, period: { from: '2021-01-01', to: '2021-01-01' } } }),
    ).toBe(1);
    expect(await count({ patient: { gender: ['male'] } })).toBe(2);
    expect(await count({ not: { condition: { code: E13_9 } } })).toBe(1);
  });
});

describe('MII Kerndatensatz Medikation: module examples (CC-BY-4.0)', () => {
  const { loaded, count } = dataSet('mii-medikation');
  const DOXORUBICIN = [{ system: `${BFARM}/atc`, code: 'L01DB01' }];

  test('the patient, an encounter and two medication uses stored; the request for the absent Patient/example dropped', () => {
    const { report } = loaded;
    expect(report.resources).toEqual({
      Encounter: counts(1),
      Medication: counts(3),
      MedicationAdministration: counts(1),
      MedicationRequest: counts(1),
      MedicationStatement: counts(1),
      Patient: counts(1),
    });
    expect(report.skippedReasons).toEqual({});
    expect(report.badLineCount).toBe(0);
    expect(report.rows).toMatchObject({ patients: 1, medications: 2, encounters: 1 });
    // MedicationRequest caelyx names Patient/example, which the module does not publish:
    // one event, four rows (the PZN and ATC codes of its Medication, and two of its ingredient).
    expect(report.droppedEvents).toBe(1);
    expect(report.droppedRows).toBe(4);
  });

  test('the compounded infusion ("85mg Doxorubicin ... in Glucose") is found by its ingredient ATC code', async () => {
    expect(await count({ medication: { code: DOXORUBICIN } })).toBe(1);
    expect(await count({ medication: { code: DOXORUBICIN, atLeast: 2 } })).toBe(1);
    expect(
      await count({ medication: { code: [{ system: `${DIMDI}/atc`, code: 'L01DB01' }] } }),
    ).toBe(1);
    expect(
      await count({
        medication: { code: DOXORUBICIN, resourceTypes: ['MedicationAdministration'] },
      }),
    ).toBe(1);
    expect(
      await count({ medication: { code: DOXORUBICIN, resourceTypes: ['MedicationRequest'] } }),
    ).toBe(0);
    // The administration's effectivePeriod starts 2020-01-06, the statement's date is 2020-01-14.
    expect(
      await count({
        medication: { code: DOXORUBICIN, period: { from: '2020-01-06', to: '2020-01-06' } },
      }),
    ).toBe(1);
    expect(
      await count({
        medication: {
          code: DOXORUBICIN,
          period: { from: '2020-01-07', to: '2020-01-13' },
        },
      }),
    ).toBe(0);
  });

  test('the glucose solution is an ingredient by reference: not followed, so its ATC code finds no one', async () => {
    expect(
      await count({ medication: { code: [{ system: `${BFARM}/atc`, code: 'V06DC01' }] } }),
    ).toBe(0);
  });

  test('the inpatient encounter counts by its class', async () => {
    expect(await count({ encounter: { code: [{ system: ACT_CODE, code: 'IMP' }] } })).toBe(1);
    expect(await count({ patient: { gender: ['male'], age: { min: 60, max: 60 } } })).toBe(1);
  });
});

describe('US Core: Patient/example with its blood pressure, diagnosis and encounter (HL7, CC0-1.0)', () => {
  const { loaded, evaluate, count } = dataSet('us-core');
  const SYSTOLIC = [{ system: LOINC, code: '8480-6' }];
  const DIASTOLIC = [{ system: LOINC, code: '8462-4' }];

  test('every resource loaded, none skipped or malformed; the panel stored with its two components', () => {
    const { report } = loaded;
    expect(report.resources).toEqual({
      Condition: counts(1),
      Encounter: counts(1),
      Observation: counts(1),
      Patient: counts(1),
    });
    expect(report.skippedReasons).toEqual({});
    expect(report.badLineCount).toBe(0);
    expect(report.droppedEvents).toBe(0);
    expect(report.rows).toMatchObject({
      patients: 1,
      observations: 3,
      conditions: 2,
      encounters: 2,
    });
  });

  test('the example reads 109/44 mmHg: components answer value criteria in any pressure unit', async () => {
    const systolic = (value: Record<string, unknown>) =>
      count({ observation: { code: SYSTOLIC, value } });
    expect(await systolic({ min: 109, max: 109, unit: 'mm[Hg]' })).toBe(1);
    expect(await systolic({ min: 110, unit: 'mm[Hg]' })).toBe(0);
    // 109 mm[Hg] is 14.53 kPa.
    expect(await systolic({ min: 14.5, max: 14.6, unit: 'kPa' })).toBe(1);
    expect(
      await count({ observation: { code: DIASTOLIC, value: { max: 44, unit: 'mm[Hg]' } } }),
    ).toBe(1);
    expect(
      await count({ observation: { code: DIASTOLIC, value: { max: 43, unit: 'mm[Hg]' } } }),
    ).toBe(0);
    expect(await count({ observation: { code: [{ system: LOINC, code: '85354-9' }] } })).toBe(1);
    const r = await evaluate({
      cohort: { patient: { gender: ['female'] } },
      measures: [{ summary: { observation: SYSTOLIC, unit: 'mm[Hg]' } }],
    });
    const [summary] = r.measures;
    if (summary?.type !== 'summary') throw new TypeError('shape');
    expect(summary.mean).toBe(109);
  });

  test('the burn of the ear by SNOMED CT and ICD-10-CM, at 28; the ambulatory visit', async () => {
    // Born 1987-02-20, diagnosis recorded 2015-11-01.
    for (const code of [
      { system: SNOMED, code: '39065001' },
      { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'T20.21' },
    ]) {
      expect(await count({ condition: { code: [code], ageAtEvent: { min: 28, max: 28 } } })).toBe(
        1,
      );
    }
    expect(await count({ encounter: { code: [{ system: ACT_CODE, code: 'AMB' }] } })).toBe(1);
    expect(
      await count({
        encounter: {
          code: [{ system: 'http://www.ama-assn.org/go/cpt', code: '99211' }],
          period: { from: '2015-11-01', to: '2015-11-01' },
        },
      }),
    ).toBe(1);
    expect(await count({ patient: { gender: ['female'], age: { min: 38, max: 38 } } })).toBe(1);
  });
});

describe('MII Kerndatensatz Labor: module examples (CC-BY-4.0)', () => {
  const { loaded, evaluate, count } = dataSet('mii-labor');
  const CREATININE = [{ system: LOINC, code: '59826-8' }];
  const ALBUMIN_24H = [{ system: LOINC, code: '1755-8' }];
  const EPITHELIAL_CELLS = [{ system: LOINC, code: '5787-7' }];

  test('the patient (no gender, no birth date) and four laboratory values, none skipped', () => {
    const { report } = loaded;
    expect(report.resources).toEqual({ Observation: counts(4), Patient: counts(1) });
    expect(report.skippedReasons).toEqual({});
    expect(report.badLineCount).toBe(0);
    expect(report.droppedEvents).toBe(0);
    expect(report.rows).toMatchObject({ patients: 1, observations: 4 });
  });

  test('creatinine 72 µmol/l is compared in its UCUM code; its translation to 0.81 mg/dL is not read', async () => {
    const creatinine = (value: Record<string, unknown>) =>
      count({ observation: { code: CREATININE, value } });
    expect(await creatinine({ min: 72, max: 72, unit: 'umol/L' })).toBe(1);
    expect(await creatinine({ min: 0.072, max: 0.072, unit: 'mmol/L' })).toBe(1);
    // UCUM converts no creatinine between mol and g; the quantity-translation extension is not read.
    expect(await creatinine({ min: 0, unit: 'mg/dL' })).toBe(0);
    // The second creatinine Observation has a dataAbsentReason and no value: it matches on its code.
    expect(await count({ observation: { code: CREATININE, atLeast: 2 } })).toBe(1);
  });

  test('the 24-hour albumin excretion as a ratio (15 mg / 24 h) is 0.625 mg/h, 15 mg/d', async () => {
    const albumin = (value: Record<string, unknown>) =>
      count({ observation: { code: ALBUMIN_24H, value } });
    expect(await albumin({ min: 0.625, max: 0.625, unit: 'mg/h' })).toBe(1);
    expect(await albumin({ min: 14.9, max: 15.1, unit: 'mg/d' })).toBe(1);
    expect(await albumin({ min: 15.1, unit: 'mg/d' })).toBe(0);
  });

  test('the range of epithelial cells (2-5 /HPF) has no value but matches on its code', async () => {
    expect(await count({ observation: { code: EPITHELIAL_CELLS } })).toBe(1);
    expect(
      await count({ observation: { code: EPITHELIAL_CELLS, value: { min: 0, unit: '/[HPF]' } } }),
    ).toBe(0);
  });

  test('dated by effectiveDateTime, not issued; without a birth date no age matches', async () => {
    const on = (day: string) =>
      count({ observation: { code: CREATININE, period: { from: day, to: day } } });
    expect(await on('2018-11-20')).toBe(1);
    expect(await on('2018-03-11')).toBe(0);
    expect(await count({ observation: { code: CREATININE, ageAtEvent: { min: 0 } } })).toBe(0);
    const r = await evaluate({
      cohort: { observation: { code: CREATININE } },
      stratify: ['gender'],
    });
    expect(r.strata.map((s) => [s.key.gender, s.cell.count])).toEqual([
      ['female', 0],
      ['male', 0],
      ['other', 0],
      ['unknown', 1],
    ]);
  });
});

describe('MII Kerndatensatz Diagnose and Person: module examples without their patient', () => {
  test('refused loudly with the numbers, and a store loaded before is left as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-corpus-'));
    try {
      const dbPath = join(dir, 'store.duckdb');
      const before = await ingestSet('us-core', dbPath);
      // The three Conditions name Patient/12345, which the Diagnose module does not publish.
      await expect(ingestSet('mii-diagnose', dbPath)).rejects.toMatchObject({
        code: 'ERR_INGEST_PATIENTS_MISSING',
        detail: expect.stringMatching(/^no patient would be stored, of 3 resources read/),
      });
      // The Person module publishes a patient, but its cause of death and vital status name Patient/example.
      await expect(ingestSet('mii-person', dbPath)).rejects.toMatchObject({
        code: 'ERR_INGEST_PATIENTS_MISSING',
        detail:
          '2 of 2 events name a patient not in the sources, more than the 0 kept ' +
          '(1 patients, 2 event rows dropped)',
      });
      const store = await openTestStore(dbPath);
      try {
        expect(await store.runner.all('SELECT count(*)::INTEGER AS n FROM patients', [])).toEqual([
          { n: before.rows.patients },
        ]);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
