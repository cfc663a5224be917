// Generated regions at size: thousands of patients whose records are
// plausible, and a region through the real ingest into DuckDB with nothing
// malformed and what the generator marks refuted or entered in error dropped.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ingest } from '../ingest/ingest.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { isoToDay } from './calendar.ts';
import { generateRegion } from './generate.ts';
import type { RegionId } from './regions.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-generate-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) out.set(name, await readFile(join(dir, name)));
  return out;
}

interface Coding {
  readonly system: string;
  readonly code: string;
}
/** The elements the plausibility checks read. */
interface Resource {
  readonly resourceType: string;
  readonly id: string;
  readonly status?: string;
  readonly gender?: string;
  readonly birthDate?: string;
  readonly deceasedDateTime?: string;
  readonly subject?: { readonly reference: string };
  readonly patient?: { readonly reference: string };
  readonly code?: { readonly coding: readonly Coding[] };
  readonly vaccineCode?: { readonly coding: readonly Coding[] };
  readonly medicationCodeableConcept?: { readonly coding: readonly Coding[] };
  readonly medicationReference?: { readonly reference: string };
  readonly valueQuantity?: {
    readonly value: number;
    readonly code: string;
    readonly system: string;
  };
  readonly onsetDateTime?: string;
  readonly recordedDate?: string;
  readonly effectiveDateTime?: string;
  readonly authoredOn?: string;
  readonly occurrenceDateTime?: string;
  readonly performedDateTime?: string;
  readonly performedPeriod?: { readonly start: string };
  readonly period?: { readonly start: string };
}

async function resources(dir: string): Promise<Resource[]> {
  const out: Resource[] = [];
  for (const [, bytes] of await files(dir)) {
    for (const line of bytes.toString('utf8').split('\n'))
      if (line !== '') out.push(JSON.parse(line) as Resource);
  }
  return out;
}

describe('a generated region is plausible', () => {
  const PATIENTS = 3000;
  const data = new Map<RegionId, Resource[]>();
  const REFERENCE = '2026-01-01';
  const WINDOW_START = '2011-01-01';

  beforeAll(async () => {
    for (const region of ['lombardia', 'sachsen'] as const) {
      const dir = await tempDir();
      await generateRegion({ region, patients: PATIENTS, seed: 11, outDir: dir });
      data.set(region, await resources(dir));
    }
  }, 120_000);

  const patientsOf = (region: RegionId) =>
    (data.get(region) ?? []).filter((r) => r.resourceType === 'Patient');
  const ageAt = (birth: string, day: string): number =>
    Math.floor((isoToDay(day) - isoToDay(birth)) / 365.2425);
  const owner = (r: Resource): string =>
    (r.subject ?? r.patient)?.reference.slice('Patient/'.length) ?? '';
  const eventDate = (r: Resource): string | undefined =>
    (
      r.onsetDateTime ??
      r.recordedDate ??
      r.effectiveDateTime ??
      r.authoredOn ??
      r.occurrenceDateTime ??
      r.performedDateTime ??
      r.performedPeriod?.start ??
      r.period?.start
    )?.slice(0, 10);
  const hasCondition = (region: RegionId, prefix: string): Set<string> =>
    new Set(
      (data.get(region) ?? [])
        .filter(
          (r) =>
            r.resourceType === 'Condition' && r.code?.coding.some((c) => c.code.startsWith(prefix)),
        )
        .map(owner),
    );

  test('about fifty resources per patient, a plausible sex ratio, age range and deaths', () => {
    const all = data.get('lombardia') ?? [];
    const patients = patientsOf('lombardia');
    expect(patients).toHaveLength(PATIENTS);
    const perPatient = (all.length - 3) / PATIENTS;
    expect(perPatient).toBeGreaterThan(40);
    expect(perPatient).toBeLessThan(65);
    const female = patients.filter((p) => p.gender === 'female').length / PATIENTS;
    expect(female).toBeGreaterThan(0.47);
    expect(female).toBeLessThan(0.57);
    const ages = patients.map((p) => ageAt(p.birthDate ?? '', REFERENCE));
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ages)).toBeLessThanOrEqual(106);
    const meanAge = ages.reduce((a, b) => a + b, 0) / ages.length;
    expect(meanAge).toBeGreaterThan(40);
    expect(meanAge).toBeLessThan(52);
    const deceased = patients.filter((p) => p.deceasedDateTime !== undefined).length / PATIENTS;
    expect(deceased).toBeGreaterThan(0.03);
    expect(deceased).toBeLessThan(0.2);
  });

  test('every event lies in the window, after birth and not after death', () => {
    const patients = new Map(patientsOf('lombardia').map((p) => [p.id, p]));
    const wrong: string[] = [];
    for (const r of data.get('lombardia') ?? []) {
      if (r.resourceType === 'Patient' || r.resourceType === 'Medication') continue;
      const date = eventDate(r) ?? '';
      const patient = patients.get(owner(r));
      const death = patient?.deceasedDateTime?.slice(0, 10) ?? REFERENCE;
      const ok =
        patient !== undefined &&
        date >= WINDOW_START &&
        date < REFERENCE &&
        date >= (patient.birthDate ?? '') &&
        date <= death;
      if (!ok) wrong.push(`${r.id} ${date}`);
    }
    expect(wrong).toEqual([]);
  });

  test('codes come from the expected systems; breast cancer only in women', () => {
    const all = data.get('lombardia') ?? [];
    const systems = (type: string, pick: (r: Resource) => readonly Coding[] | undefined) =>
      new Set(
        all
          .filter((r) => r.resourceType === type)
          .flatMap((r) => pick(r) ?? [])
          .map((c) => c.system),
      );
    // ICD-10 on every condition; some also carry their SNOMED CT equivalent.
    expect(systems('Condition', (r) => r.code?.coding)).toEqual(
      new Set(['http://hl7.org/fhir/sid/icd-10', 'http://snomed.info/sct']),
    );
    const conditions = all.filter((r) => r.resourceType === 'Condition');
    expect(
      conditions.filter((r) => r.code?.coding[0]?.system !== 'http://hl7.org/fhir/sid/icd-10'),
    ).toEqual([]);
    expect(systems('Observation', (r) => r.code?.coding)).toEqual(new Set(['http://loinc.org']));
    expect(systems('Procedure', (r) => r.code?.coding)).toEqual(
      new Set(['http://snomed.info/sct']),
    );
    expect(systems('Immunization', (r) => r.vaccineCode?.coding)).toEqual(
      new Set(['http://hl7.org/fhir/sid/cvx']),
    );
    expect(systems('MedicationRequest', (r) => r.medicationCodeableConcept?.coding)).toEqual(
      new Set(['http://www.whocc.no/atc']),
    );
    expect(all.some((r) => r.medicationReference !== undefined)).toBe(true);
    const gender = new Map(patientsOf('lombardia').map((p) => [p.id, p.gender]));
    const breast = hasCondition('lombardia', 'C50');
    expect(breast.size).toBeGreaterThan(0);
    for (const id of breast) expect(gender.get(id)).toBe('female');
  });

  test('observation values and UCUM units are plausible, with some in alternative units', () => {
    const ranges: Record<string, readonly [number, number]> = {
      '4548-4|%': [4, 15],
      '2345-7|mg/dL': [50, 500],
      '2345-7|mmol/L': [2.5, 28],
      '39156-5|kg/m2': [10, 61],
      '8480-6|mm[Hg]': [70, 240],
      '8462-4|mm[Hg]': [35, 140],
      '29463-7|kg': [1, 250],
      '29463-7|g': [1000, 250000],
    };
    const units = new Map<string, Set<string>>();
    const wrong: string[] = [];
    for (const r of [...(data.get('lombardia') ?? []), ...(data.get('sachsen') ?? [])]) {
      if (r.resourceType !== 'Observation' || r.valueQuantity === undefined) continue;
      const code = r.code?.coding[0]?.code ?? '';
      const { value, code: unit, system } = r.valueQuantity;
      let seen = units.get(code);
      if (seen === undefined) units.set(code, (seen = new Set()));
      seen.add(unit);
      const bounds = ranges[`${code}|${unit}`];
      const inRange = bounds === undefined || (value >= bounds[0] && value <= bounds[1]);
      if (system !== 'http://unitsofmeasure.org' || !inRange)
        wrong.push(`${r.id} ${code} ${value} ${unit}`);
    }
    expect(wrong).toEqual([]);
    expect(units.get('4548-4')).toEqual(new Set(['%']));
    expect(units.get('2345-7')).toEqual(new Set(['mg/dL', 'mmol/L']));
    expect(units.get('29463-7')).toEqual(new Set(['kg', 'g']));
    expect(units.get('8480-6')).toEqual(new Set(['mm[Hg]']));
    expect(units.get('39156-5')).toEqual(new Set(['kg/m2']));
  });

  test('prevalences are plausible and differ by region as profiled', () => {
    const share = (region: RegionId, prefix: string, minAge: number): number => {
      const adults = patientsOf(region).filter(
        (p) => ageAt(p.birthDate ?? '', REFERENCE) >= minAge,
      );
      const withIt = hasCondition(region, prefix);
      return adults.filter((p) => withIt.has(p.id)).length / adults.length;
    };
    const lombardiaDiabetes = share('lombardia', 'E11', 40);
    const sachsenDiabetes = share('sachsen', 'E11', 40);
    expect(lombardiaDiabetes).toBeGreaterThan(0.04);
    expect(sachsenDiabetes).toBeLessThan(0.3);
    expect(sachsenDiabetes).toBeGreaterThan(lombardiaDiabetes);
    const hypertension = share('sachsen', 'I10', 60);
    expect(hypertension).toBeGreaterThan(0.3);
    expect(hypertension).toBeLessThan(0.85);
  });
});

describe('a generated region ingests cleanly', () => {
  test('no malformed lines; the rules drop what the generator marks refuted or entered in error', async () => {
    const dir = await tempDir();
    await generateRegion({
      region: 'dolnoslaskie',
      patients: 800,
      seed: 5,
      outDir: join(dir, 'ndjson'),
    });
    const dbPath = join(dir, 'store.duckdb');
    const report = await ingest({
      sources: [join(dir, 'ndjson')],
      dbPath,
      recordKeySecret: new Uint8Array(32).fill(1),
    });
    expect(report.badLineCount).toBe(0);
    expect(report.droppedRows).toBe(0);
    expect(report.rows.patients).toBe(800);
    expect(report.resources.Medication?.loaded).toBe(3);
    const store = await openStore(dbPath, { readOnly: true });
    try {
      const runner = createDuckDbRunner(store.connection);
      const [insulin] = await runner.all(
        "SELECT count(*) AS n FROM medications WHERE system = 'http://www.whocc.no/atc' AND code LIKE 'A10A%'",
        [],
      );
      expect(Number(insulin?.n)).toBeGreaterThan(0);
      const [codes] = await runner.all('SELECT count(*) AS n FROM observation_value_codes', []);
      expect(Number(codes?.n)).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  });
});
