// The builder's model: edits of the query document by path, the codings
// no node holds (flagged at their field), and the steps of an attrition.
import type { CatalogueEntry } from '@tessera/schemas';
import { describe, expect, it } from 'vitest';
import {
  atPointer,
  attritionSteps,
  errorFor,
  getAt,
  placedCodings,
  setAt,
  unheldCodings,
} from './model.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const EXAMPLE_1 = {
  version: 1,
  cohort: {
    all: [
      { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
      { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
    ],
  },
  stratify: [{ ageBand: [0, 18, 40, 65, 80] }],
};

const entry = (codes: CatalogueEntry['codes']): CatalogueEntry => ({
  node: 'lombardia',
  title: 't',
  description: 'd',
  publisher: { name: 'p' },
  spatial: 's',
  accessRights: 'RESTRICTED',
  dataVersion: 'v',
  numberOfUniqueIndividuals: 100,
  hasCodingSystem: [ICD10],
  ...(codes === undefined ? {} : { codes }),
});

describe('the builder model', () => {
  it('writes and removes values by path without touching the original', () => {
    const next = setAt(EXAMPLE_1, ['cohort', 'all', 0, 'patient', 'age', 'max'], 64);
    expect(getAt(next, ['cohort', 'all', 0, 'patient', 'age'])).toEqual({ min: 40, max: 64 });
    expect(EXAMPLE_1.cohort.all[0]).toEqual({
      patient: { gender: ['female'], age: { min: 40, max: 79 } },
    });
    const removed = setAt(next, ['cohort', 'all', 0], undefined);
    expect(getAt(removed, ['cohort', 'all'])).toHaveLength(1);
    expect(setAt({ a: 1 }, ['a'], undefined)).toEqual({});
  });

  it('flags codings no node lists, by prefix where descendants are asked for', () => {
    const catalogue = [entry([{ kind: 'condition', system: ICD10, code: 'E11.9', patients: 40 }])];
    expect(unheldCodings(EXAMPLE_1, catalogue)).toEqual([]);
    const misspelt = setAt(EXAMPLE_1, ['cohort', 'all', 1, 'condition', 'code', 0, 'code'], 'E1l');
    expect(unheldCodings(misspelt, catalogue).map((c) => c.pointer)).toEqual([
      '/cohort/all/1/condition/code/0/code',
    ]);
    const exact = setAt(
      EXAMPLE_1,
      ['cohort', 'all', 1, 'condition', 'code', 0, 'descendants'],
      false,
    );
    expect(unheldCodings(exact, catalogue)).toHaveLength(1);
    // Nodes that publish no codes cannot tell a rare code from a misspelt one.
    expect(unheldCodings(misspelt, [entry(undefined)])).toEqual([]);
  });

  it('finds the codings of criteria, codes dimensions and measures', () => {
    const query = {
      version: 1,
      cohort: { not: { observation: { code: [{ system: 'http://loinc.org', code: '4548-4' }] } } },
      stratify: [{ codes: { of: 'condition', in: [{ system: ICD10, code: 'E11' }] } }],
      measures: [
        {
          histogram: {
            observation: [{ system: 'http://loinc.org', code: '2345-7' }],
            unit: 'mg/dL',
            edges: [0, 1],
          },
        },
      ],
    };
    expect(placedCodings(query).map((c) => [c.pointer, c.kind])).toEqual([
      ['/cohort/not/observation/code/0/code', 'observation'],
      ['/stratify/0/codes/in/0/code', 'condition'],
      ['/measures/0/histogram/observation/0/code', 'observation'],
    ]);
  });

  it('makes one query per step of an AND, without the breakdown', () => {
    const steps = attritionSteps(EXAMPLE_1);
    expect(steps.map((s) => s.cohort)).toEqual([
      EXAMPLE_1.cohort.all[0],
      { all: EXAMPLE_1.cohort.all },
    ]);
    expect(steps.every((s) => s.stratify === undefined && s.version === 1)).toBe(true);
    expect(attritionSteps({ version: 1, cohort: { any: EXAMPLE_1.cohort.all } })).toEqual([]);
  });

  it('shows a fault at its field, or at the nearest field holding it', () => {
    const error = { pointer: '/cohort/all/1/condition/code/0/descendants', detail: 'x' };
    expect(errorFor(error, '/cohort/all/1/condition/code/0/descendants', true)).toBe(true);
    expect(errorFor(error, '/cohort/all/1/condition/code', true)).toBe(true);
    expect(errorFor(error, '/cohort/all/1/condition/code', false)).toBe(false);
    expect(errorFor(undefined, '/cohort', false)).toBe(false);
  });
});

describe('atPointer', () => {
  it('reads the value a warning points at, escapes included, and nothing past the document', () => {
    expect(atPointer(EXAMPLE_1, '/cohort/all/1/condition/code/0/code')).toBe('E11');
    expect(atPointer({ 'a/b': { '~': 1 } }, '/a~1b/~0')).toBe(1);
    expect(atPointer(EXAMPLE_1, '/cohort/all/7/condition')).toBeUndefined();
    expect(atPointer(EXAMPLE_1, '/cohort/all/x')).toBeUndefined();
    expect(atPointer(EXAMPLE_1, '/constructor')).toBeUndefined();
  });
});
