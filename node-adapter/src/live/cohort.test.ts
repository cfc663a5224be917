// The node-side semantics of the live source, on hand-made patients and events.
import { describe, expect, it } from 'vitest';
import { canonicalQuery } from '@tessera/schemas';
import type { CodeSet, CohortQuery } from '@tessera/schemas';
import { cellKeyOf } from '../store/record-key.ts';
import {
  buildResult,
  eventCriteria,
  evaluateExpr,
  measureValues,
  patientsMatching,
  wholeYears,
} from './cohort.ts';
import type { EvaluableQuery, LiveEvent, LivePatient } from './cohort.ts';

const LOINC = 'http://loinc.org';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

const patients = new Map<string, LivePatient>(
  (
    [
      ['a', 'female', '1980-02-29', false, null, 10],
      ['b', 'male', '2000-06-15', true, null, 20],
      ['c', 'female', null, false, null, 40],
      ['d', 'other', '2030-01-01', false, null, 80],
      // Died the day before their 90th birthday, and on their 70th.
      ['e', 'female', '1930-05-10', true, '2020-05-09', 160],
      ['f', 'male', '1950-05-10', true, '2020-05-10', 320],
    ] as const
  ).map(([id, gender, birthDate, deceased, deceasedDate, recordKey]) => [
    id,
    { id, gender, birthDate, deceased, deceasedDate, recordKey },
  ]),
);

function event(
  key: string,
  patientId: string,
  date: string | null,
  code: string,
  value?: [number, string],
): LiveEvent {
  return {
    key,
    patientId,
    date,
    codings: [{ system: code.startsWith('E') ? ICD10 : LOINC, code }],
    value: value?.[0] ?? null,
    unit: value?.[1] ?? null,
    valueCodings: [],
  };
}

function query(q: Omit<CohortQuery, 'version'>): EvaluableQuery {
  return { ...canonicalQuery({ version: 1, ...q }), asOf: '2026-01-01' };
}

describe('wholeYears', () => {
  it('counts birthdays, 29 February turning on 1 March, and nothing before birth', () => {
    expect(wholeYears('1980-02-29', '2025-02-28')).toBe(44);
    expect(wholeYears('1980-02-29', '2025-03-01')).toBe(45);
    expect(wholeYears('2000-06-15', '2026-06-15')).toBe(26);
    expect(wholeYears('2030-01-01', '2026-01-01')).toBeUndefined();
  });
});

describe('criteria and set algebra', () => {
  const events = [
    event('Condition/1', 'a', '2020-01-01', 'E119'),
    event('Condition/2', 'a', null, 'E110'),
    event('Condition/3', 'b', '2010-01-01', 'E119'),
    event('Condition/3', 'b', '2010-01-01', 'E119'),
  ];

  it('counts distinct resources for atLeast, and dateless events fail a period', () => {
    const code: CodeSet = [{ system: ICD10, code: 'E11', descendants: true }];
    const ids = (c: Parameters<typeof patientsMatching>[1]): string[] =>
      [...patientsMatching(events, c, patients)].sort();
    expect(ids({ code, atLeast: 2 })).toEqual(['a']);
    expect(ids({ code, period: { from: '2000-01-01' } })).toEqual(['a', 'b']);
    expect(ids({ code, period: { from: '2000-01-01' }, atLeast: 2 })).toEqual([]);
    expect(ids({ code, ageAtEvent: { max: 15 } })).toEqual(['b']);
  });

  it('takes `not` within every patient, and keeps patients without a birth date out of age criteria', () => {
    const q = query({ cohort: { not: { patient: { age: { min: 18 } } } } });
    const cohort = evaluateExpr(
      q.cohort,
      patients,
      q.asOf,
      () => new Set(),
      () => new Set(),
    );
    expect([...cohort].sort()).toEqual(['c', 'd']);
  });

  it('takes the age at death of a patient who died before asOf', () => {
    const ids = (age: { min?: number; max?: number }, asOf = '2026-01-01'): string[] => {
      const q = query({ cohort: { patient: { age } } });
      return [
        ...evaluateExpr(
          q.cohort,
          patients,
          asOf,
          () => new Set(),
          () => new Set(),
        ),
      ].sort();
    };
    // e died at 89 and f at 70; alive, they would be 95 and 75 on 2026-01-01.
    expect(ids({ min: 90 })).toEqual([]);
    expect(ids({ min: 89, max: 89 })).toEqual(['e']);
    expect(ids({ min: 70, max: 70 })).toEqual(['f']);
    // Before their deaths, they age as everyone does.
    expect(ids({ min: 69, max: 69 }, '2020-05-09')).toEqual(['f']);
    expect(ids({ min: 70, max: 70 }, '2020-05-10')).toEqual(['f']);
    // The death date itself decides; a day later changes nothing.
    expect(ids({ min: 89, max: 89 }, '2020-05-10')).toEqual(['e']);
    // Known dead without a date: ages on (b is 25 on 2026-01-01).
    expect(ids({ min: 25, max: 25 })).toEqual(['b']);
    const ageAtEvent = {
      code: [{ system: ICD10, code: 'E119' }] as CodeSet,
      ageAtEvent: { min: 90 },
    };
    const late = [event('Condition/9', 'e', '2021-06-01', 'E119')];
    expect([...patientsMatching(late, ageAtEvent, patients)]).toEqual([]);
  });

  it('collects each distinct criterion once', () => {
    const c = { condition: { code: [{ system: ICD10, code: 'E11' }] as CodeSet } };
    const q = query({
      cohort: { any: [c, { not: c }, { all: [c, { patient: { deceased: true } }] }] },
    });
    expect(eventCriteria(q.cohort).size).toBe(1);
  });
});

describe('measures', () => {
  it('picks the mean of the values on the latest or earliest date, in the measure unit', () => {
    const obs = [
      event('Observation/1', 'a', '2020-01-01', '2339-0', [100, 'mg/dL']),
      event('Observation/2', 'a', '2021-01-01', '2339-0', [120, 'mg/dL']),
      event('Observation/3', 'a', '2021-01-01', '2339-0', [1.4, 'g/L']),
      event('Observation/4', 'a', null, '2339-0', [500, 'mg/dL']),
      event('Observation/5', 'b', '2021-01-01', '2339-0', [7, 'mmol/L']),
      event('Observation/6', 'b', '2021-02-01', '2339-0', [5, 'kg']),
    ];
    const observation: CodeSet = [{ system: LOINC, code: '2339-0' }];
    const latest = measureValues(obs, { observation, unit: 'mg/dL', pick: 'latest' });
    expect(latest.get('a')).toBeCloseTo(130);
    expect(latest.get('b')).toBeCloseTo(126.112);
    expect(measureValues(obs, { observation, unit: 'mg/dL', pick: 'earliest' }).get('a')).toBe(100);
    expect(measureValues(obs, { observation, unit: 'mg/dL', pick: 'mean' }).get('a')).toBeCloseTo(
      120,
    );
  });
});

describe('buildResult', () => {
  it('reports every stratum of the cross product, with cell keys of the members', () => {
    const q = query({
      cohort: { patient: { gender: ['female', 'male', 'other'] } },
      stratify: ['gender', 'deceased'],
    });
    const result = buildResult(q, {
      patients,
      cohort: new Set(['a', 'b', 'c']),
      dimensionEvents: new Map(),
      measureEvents: new Map(),
    });
    expect(result.total).toEqual({ count: 3, cellKey: cellKeyOf([10, 20, 40]) });
    expect(result.strata).toHaveLength(8);
    expect(result.strata[0]).toEqual({
      key: { gender: 'female', deceased: 'true' },
      cell: { count: 0, cellKey: 0 },
    });
    expect(result.strata[1]).toEqual({
      key: { gender: 'female', deceased: 'false' },
      cell: { count: 2, cellKey: 50 },
    });
    expect(result.strata[2]).toEqual({
      key: { gender: 'male', deceased: 'true' },
      cell: { count: 1, cellKey: 20 },
    });
    expect(result.overlapping).toBe(false);
    expect(result.measures).toEqual([{ type: 'count' }]);
  });

  it('places a patient who died before asOf in the age band of the age at death', () => {
    const q = query({
      cohort: { patient: { deceased: true } },
      stratify: [{ ageBand: [0, 70, 90] }],
    });
    const result = buildResult(q, {
      patients,
      cohort: new Set(['b', 'e', 'f']),
      dimensionEvents: new Map(),
      measureEvents: new Map(),
    });
    expect(result.strata.map((s) => [s.key.ageBand, s.cell.count])).toEqual([
      ['0-69', 1],
      ['70-89', 2],
      ['90+', 0],
    ]);
  });

  it('sums the values clamped to the bounds given, over the patients with a value', () => {
    const observation: CodeSet = [{ system: LOINC, code: '4548-4' }];
    const q = query({
      cohort: { patient: { gender: ['female', 'male', 'other'] } },
      measures: [{ count: 'patients' }, { summary: { observation, unit: '%' } }],
    });
    const inputs = {
      patients,
      cohort: new Set(['a', 'b', 'c', 'd']),
      dimensionEvents: new Map(),
      measureEvents: new Map([
        [
          1,
          [
            event('Observation/1', 'a', '2020-01-01', '4548-4', [4.5, '%']),
            event('Observation/2', 'b', '2020-01-01', '4548-4', [9.5, '%']),
            event('Observation/3', 'c', '2020-01-01', '4548-4', [6, '%']),
          ],
        ],
      ]),
    };
    const bounded = buildResult({ ...q, summaryBounds: [undefined, { min: 5, max: 8 }] }, inputs)
      .measures[1];
    expect(bounded).toMatchObject({ n: { count: 3 }, clampedSum: 19, clampedSumSquares: 125 });
    expect(bounded).toMatchObject({ mean: 20 / 3, sumAbs: 20, maxAbs: 9.5 });
    expect(buildResult(q, inputs).measures[1]).toMatchObject({
      clampedSum: null,
      clampedSumSquares: null,
    });
    const none = buildResult(
      { ...q, summaryBounds: [undefined, { min: 5, max: 8 }] },
      { ...inputs, measureEvents: new Map() },
    ).measures[1];
    expect(none).toMatchObject({ n: { count: 0 }, clampedSum: 0, clampedSumSquares: 0 });
    expect(() =>
      buildResult({ ...q, summaryBounds: [undefined, { min: 8, max: 5 }] }, inputs),
    ).toThrow(RangeError);
  });

  it('puts a patient in every code stratum it has, and counts values below the first edge as missing', () => {
    const q = query({
      cohort: { patient: { deceased: false } },
      stratify: [
        {
          codes: {
            of: 'condition',
            in: [
              { system: ICD10, code: 'E11', descendants: true },
              { system: ICD10, code: 'E119' },
            ],
          },
        },
      ],
      measures: [
        {
          histogram: { observation: [{ system: LOINC, code: '4548-4' }], unit: '%', edges: [5, 7] },
        },
      ],
    });
    const result = buildResult(q, {
      patients,
      cohort: new Set(['a', 'c', 'd']),
      dimensionEvents: new Map([
        [0, [event('Condition/1', 'a', null, 'E119'), event('Condition/2', 'c', null, 'E110')]],
      ]),
      measureEvents: new Map([
        [
          0,
          [
            event('Observation/1', 'a', '2020-01-01', '4548-4', [4.9, '%']),
            event('Observation/2', 'c', '2020-01-01', '4548-4', [7.1, '%']),
          ],
        ],
      ]),
    });
    expect(result.overlapping).toBe(true);
    expect(result.strata.map((s) => [s.key.codes, s.cell.count])).toEqual([
      [`${ICD10}|E11`, 2],
      [`${ICD10}|E119`, 1],
    ]);
    expect(result.measures[0]).toMatchObject({
      type: 'histogram',
      bins: [
        { from: 5, to: 7, cell: { count: 0 } },
        { from: 7, cell: { count: 1, cellKey: 40 } },
      ],
      missing: { count: 2, cellKey: 90 },
    });
  });
});
