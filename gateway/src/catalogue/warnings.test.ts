// Warnings from the catalogue: a coding no node lists, by code or by system,
// pointed at in the query as submitted; none when the nodes publish no codes.
import { describe, expect, it } from 'vitest';
import type { CatalogueEntry } from '@tessera/schemas';
import { queryWarnings } from './warnings.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';

function entry(node: string, codes: CatalogueEntry['codes']): CatalogueEntry {
  const described: CatalogueEntry = {
    node,
    title: node,
    description: node,
    publisher: { name: node },
    spatial: 'IT',
    numberOfUniqueIndividuals: 1000,
    hasCodingSystem: [...new Set((codes ?? []).map((c) => c.system))],
    dataVersion: 'v1',
    accessRights: 'RESTRICTED',
    ...(codes === undefined ? {} : { codes }),
  };
  return described;
}

const CATALOGUE = [
  entry('a', [{ kind: 'condition', system: ICD10, code: 'E11.9', patients: 120 }]),
  entry('b', [{ kind: 'observation', system: LOINC, code: '4548-4', patients: 90 }]),
];

describe('queryWarnings', () => {
  it('is silent when every coding is held, a prefix with descendants included', () => {
    const query = {
      version: 1,
      cohort: {
        all: [
          { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
          { observation: { code: [{ system: LOINC, code: '4548-4' }] } },
        ],
      },
    };
    expect(queryWarnings(query, CATALOGUE)).toEqual([]);
  });

  it('names a misspelt code and a system no node holds, each at its code field', () => {
    const query = {
      version: 1,
      cohort: {
        any: [
          { condition: { code: [{ system: ICD10, code: 'E1l' }] } },
          {
            not: { condition: { code: [{ system: 'http://snomed.info/sct', code: '44054006' }] } },
          },
        ],
      },
      measures: [{ summary: { observation: [{ system: LOINC, code: '2345-7' }] } }],
    };
    expect(queryWarnings(query, CATALOGUE)).toEqual([
      {
        code: 'WARN_CODE_NOT_HELD',
        pointer: '/cohort/any/0/condition/code/0/code',
        detail: expect.stringContaining('E1l'),
      },
      {
        code: 'WARN_SYSTEM_NOT_HELD',
        pointer: '/cohort/any/1/not/condition/code/0/code',
        detail: expect.stringContaining('http://snomed.info/sct'),
      },
      {
        code: 'WARN_CODE_NOT_HELD',
        pointer: '/measures/0/summary/observation/0/code',
        detail: expect.stringContaining('2345-7'),
      },
    ]);
  });

  it('takes a code held for another kind of event as not held for this one', () => {
    const query = {
      version: 1,
      cohort: { procedure: { code: [{ system: ICD10, code: 'E11.9' }] } },
    };
    expect(queryWarnings(query, CATALOGUE).map((w) => w.code)).toEqual(['WARN_CODE_NOT_HELD']);
  });

  it('says nothing when no node publishes codes: a rare code cannot be told from a misspelt one', () => {
    const query = { version: 1, cohort: { condition: { code: [{ system: ICD10, code: 'E1l' }] } } };
    expect(queryWarnings(query, [entry('a', undefined), entry('b', [])])).toEqual([]);
  });
});
