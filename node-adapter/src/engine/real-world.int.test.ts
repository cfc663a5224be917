// The engine on shapes of real-world FHIR data that the generated
// populations lack, loaded by the real ingest: answers worked out by hand,
// and the oracle agreeing on every count, cell key and statistic.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FhirResource } from '../../test/oracle/read-fhir.ts';
import { ingestResources, oracleCheckedEngine, type TestStore } from '../../test/support/engine.ts';
import type { RawResult } from './raw-result.ts';

const OPS = 'http://fhir.de/CodeSystem/bfarm/ops';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const SNOMED = 'http://snomed.info/sct';
const LOCAL = 'http://example.org/codes';

const patient = (id: string): FhirResource => ({
  resourceType: 'Patient',
  id,
  gender: 'female',
  birthDate: '1960-01-01',
});

/** A population loaded once per describe, and queries checked against the oracle on it. */
function population(resources: readonly FhirResource[]) {
  let store: TestStore;
  beforeAll(async () => {
    store = await ingestResources(resources);
  });
  afterAll(async () => {
    await store.close();
  });
  return (body: Record<string, unknown>): Promise<RawResult> =>
    oracleCheckedEngine(store, resources)(body);
}

describe('OPS descendants', () => {
  const procedure = (id: string, subject: string, code: string): FhirResource => ({
    resourceType: 'Procedure',
    id,
    status: 'completed',
    subject: { reference: `Patient/${subject}` },
    code: { coding: [{ system: OPS, code }] },
    performedDateTime: '2024-03-01',
  });
  const evaluate = population([
    ...['p1', 'p2', 'p3', 'p4', 'p5'].map(patient),
    procedure('a', 'p1', '5-390.1'),
    procedure('b', 'p2', '5-399'),
    procedure('c', 'p3', '5-38a.1'), // another group: not under 5-39
    procedure('d', 'p4', '8-810.w3'),
    procedure('e', 'p5', '8-81'), // the parent is not a descendant of 8-810
  ]);
  const count = async (code: string) =>
    (
      await evaluate({
        cohort: { procedure: { code: [{ system: OPS, code, descendants: true }] } },
      })
    ).total.count;

  test('5-39 covers 5-390 to 5-399, 8-810 covers 8-810.*', async () => {
    expect(await count('5-39')).toBe(2);
    expect(await count('5-390')).toBe(1);
    expect(await count('8-810')).toBe(1);
    expect(await count('8-81')).toBe(2);
    expect(await count('5-3')).toBe(3);
  });
});

describe('Observation components', () => {
  const BP_PANEL = '85354-9';
  const SYSTOLIC = [{ system: LOINC, code: '8480-6' }];
  const DIASTOLIC = [{ system: LOINC, code: '8462-4' }];
  const mmHg = (value: number, unit = 'mm[Hg]') => ({ value, unit, system: UCUM, code: unit });
  const component = (code: string, value: number, unit?: string) => ({
    code: { coding: [{ system: LOINC, code }] },
    valueQuantity: mmHg(value, unit),
  });
  const panel = (
    id: string,
    subject: string,
    date: string,
    systolic: [number, string?],
    diastolic: number,
    status = 'final',
  ): FhirResource => ({
    resourceType: 'Observation',
    id,
    status,
    subject: { reference: `Patient/${subject}` },
    code: { coding: [{ system: LOINC, code: BP_PANEL }] },
    effectiveDateTime: date,
    component: [component('8480-6', ...systolic), component('8462-4', diastolic)],
  });
  const evaluate = population([
    ...['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7'].map(patient),
    panel('bp1', 'q1', '2024-01-10', [150], 95),
    panel('bp2a', 'q2', '2024-02-01', [130], 85),
    panel('bp2b', 'q2', '2024-06-01', [145], 88),
    // A systolic pressure recorded on its own, not in a panel.
    {
      resourceType: 'Observation',
      id: 'sys3',
      status: 'final',
      subject: { reference: 'Patient/q3' },
      code: { coding: [{ system: LOINC, code: '8480-6' }] },
      effectiveDateTime: '2024-03-01',
      valueQuantity: mmHg(160),
    },
    // 20 kPa is 150.01 mm[Hg]: a component's unit converts like any other.
    panel('bp4', 'q4', '2024-04-01', [20, 'kPa'], 80),
    // Only the diastolic is high: systolic criteria must not see it.
    panel('bp5', 'q5', '2024-05-01', [120], 150),
    panel('bp6', 'q6', '2024-05-01', [170], 100, 'entered-in-error'),
    // Coded values belong to their component.
    {
      resourceType: 'Observation',
      id: 'coded7',
      status: 'final',
      subject: { reference: 'Patient/q7' },
      code: { coding: [{ system: LOCAL, code: 'panel' }] },
      effectiveDateTime: '2024-07-01',
      component: [
        {
          code: { coding: [{ system: LOCAL, code: 'a' }] },
          valueCodeableConcept: { coding: [{ system: SNOMED, code: 'x' }] },
        },
        {
          code: { coding: [{ system: LOCAL, code: 'b' }] },
          valueCodeableConcept: { coding: [{ system: SNOMED, code: 'y' }] },
        },
        { code: { text: 'no coding: matches nothing' }, valueQuantity: mmHg(300) },
      ],
    },
  ]);
  const count = async (cohort: unknown) => (await evaluate({ cohort })).total.count;

  test('systolic >= 140 mm[Hg] counts values in components, each in its own unit', async () => {
    expect(
      await count({ observation: { code: SYSTOLIC, value: { min: 140, unit: 'mm[Hg]' } } }),
    ).toBe(4);
    expect(
      await count({ observation: { code: SYSTOLIC, value: { max: 139, unit: 'mm[Hg]' } } }),
    ).toBe(2);
    expect(
      await count({ observation: { code: DIASTOLIC, value: { min: 90, unit: 'mm[Hg]' } } }),
    ).toBe(2);
  });

  test('a code alone matches components; the panel code matches the panel; atLeast counts resources', async () => {
    expect(await count({ observation: { code: SYSTOLIC } })).toBe(5);
    expect(await count({ observation: { code: [{ system: LOINC, code: BP_PANEL }] } })).toBe(4);
    expect(await count({ observation: { code: SYSTOLIC, atLeast: 2 } })).toBe(1);
    expect(await count({ observation: { code: [...SYSTOLIC, ...DIASTOLIC], atLeast: 2 } })).toBe(1);
    // The panel's own value is absent: a value criterion on the panel code matches nothing.
    expect(
      await count({
        observation: {
          code: [{ system: LOINC, code: BP_PANEL }],
          value: { min: 0, unit: 'mm[Hg]' },
        },
      }),
    ).toBe(0);
  });

  test('code and valueCode must hold for the same component', async () => {
    const a = [{ system: LOCAL, code: 'a' }];
    expect(
      await count({ observation: { code: a, valueCode: [{ system: SNOMED, code: 'x' }] } }),
    ).toBe(1);
    expect(
      await count({ observation: { code: a, valueCode: [{ system: SNOMED, code: 'y' }] } }),
    ).toBe(0);
  });

  test('histograms and summaries read component values', async () => {
    const r = await evaluate({
      cohort: { patient: { gender: ['female'] } },
      measures: [
        { histogram: { observation: SYSTOLIC, unit: 'mm[Hg]', edges: [0, 120, 140, 160] } },
        { summary: { observation: SYSTOLIC, unit: 'mm[Hg]', pick: 'mean' } },
      ],
    });
    const [histogram, summary] = r.measures;
    if (histogram?.type !== 'histogram' || summary?.type !== 'summary')
      throw new TypeError('shape');
    // q1 150, q2's latest 145, q3 160, q4 150.01, q5 120; q6's is in error, q7 has none.
    expect(histogram.bins.map((b) => b.cell.count)).toEqual([0, 1, 3, 1]);
    expect(histogram.missing.count).toBe(2);
    expect(summary.n.count).toBe(5);
  });
});

describe('HbA1c in % (NGSP) and in mmol/mol (IFCC)', () => {
  const hba1c = (id: string, subject: string, code: string, value: number, unit: string) => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    subject: { reference: `Patient/${subject}` },
    code: { coding: [{ system: LOINC, code }] },
    effectiveDateTime: '2024-01-10',
    valueQuantity: { value, unit, system: UCUM, code: unit },
  });
  const evaluate = population([
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'].map(patient),
    hba1c('a', 'h1', '4548-4', 6.6, '%'), // 48.63 mmol/mol
    hba1c('b', 'h2', '4548-4', 7, '%'), // 53.01
    hba1c('c', 'h3', '4548-4', 5, '%'), // 31.15
    hba1c('d', 'h4', '17856-6', 4.9, '%'), // 30.06
    hba1c('e', 'h5', '59261-8', 50, 'mmol/mol'), // 6.72 %
    hba1c('f', 'h6', '59261-8', 40, 'mmol/mol'), // 5.81 %
    // A fraction of 1 is neither calibration's unit: it never compares.
    hba1c('g', 'h7', '4548-4', 0.07, '1'),
  ]);
  const HBA1C = [
    { system: LOINC, code: '4548-4' },
    { system: LOINC, code: '17856-6' },
    { system: LOINC, code: '59261-8' },
  ];
  const count = async (value: Record<string, unknown>) =>
    (await evaluate({ cohort: { observation: { code: HBA1C, value } } })).total.count;

  test('values convert by the master equation, not as UCUM ratios', async () => {
    // UCUM would read 48 mmol/mol as 4.8 % and count all of h1 to h5.
    expect(await count({ min: 48, unit: 'mmol/mol' })).toBe(3);
    // And 6.5 % as 65 mmol/mol, missing h5.
    expect(await count({ min: 6.5, unit: '%' })).toBe(3);
    expect(await count({ max: 6, unit: '%' })).toBe(3);
    expect(await count({ min: 0, unit: '1' })).toBe(1);
  });

  test('histograms convert each value by the master equation', async () => {
    const r = await evaluate({
      cohort: { patient: { gender: ['female'] } },
      measures: [
        { histogram: { observation: HBA1C, unit: 'mmol/mol', edges: [0, 42, 48, 53] } },
        { summary: { observation: HBA1C, unit: '%' } },
      ],
    });
    const [histogram, summary] = r.measures;
    if (histogram?.type !== 'histogram' || summary?.type !== 'summary')
      throw new TypeError('shape');
    expect(histogram.bins.map((b) => b.cell.count)).toEqual([3, 0, 2, 1]);
    expect(histogram.missing.count).toBe(1);
    expect(summary.n.count).toBe(6);
    const ngsp = (ifcc: number) => ifcc / 10.929 + 2.15;
    expect(summary.mean).toBeCloseTo((6.6 + 7 + 5 + 4.9 + ngsp(50) + ngsp(40)) / 6, 9);
  });
});
