// Code search over the nodes' catalogue entries: by the start of a code or by
// words of its name, accents and case ignored, each node's band kept apart.
import { describe, expect, it } from 'vitest';
import type { CatalogueEntry } from '@tessera/schemas';
import { fold, searchCodes } from './catalogue.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SNOMED = 'http://snomed.info/sct';

function entry(node: string, codes: NonNullable<CatalogueEntry['codes']>): CatalogueEntry {
  return {
    node,
    title: node,
    description: '',
    publisher: { name: node },
    spatial: node,
    accessRights: 'RESTRICTED',
    dataVersion: 'v1',
    numberOfUniqueIndividuals: 1000,
    hasCodingSystem: [ICD10],
    codes,
  };
}

const ENTRIES = [
  entry('lombardia', [
    { kind: 'condition', system: ICD10, code: 'E119', display: 'Diabète de type 2', patients: 120 },
    {
      kind: 'condition',
      system: ICD10,
      code: 'I10',
      display: 'Essential hypertension',
      patients: 400,
    },
  ]),
  entry('galicia', [
    { kind: 'condition', system: ICD10, code: 'E119', patients: 80 },
    {
      kind: 'condition',
      system: SNOMED,
      code: '44054006',
      display: 'Diabetes mellitus type 2',
      patients: 60,
    },
    {
      kind: 'condition',
      system: ICD10,
      code: 'E11',
      display: 'Type 2 diabetes mellitus',
      patients: 30,
    },
  ]),
];

describe('searchCodes', () => {
  it('finds a code by the start of its code, written with or without the dot', () => {
    for (const q of ['E11', 'e11', 'E11.9']) {
      const found = searchCodes(ENTRIES, { q, limit: 10 });
      expect(found.codes.map((c) => c.code)).toContain('E119');
    }
    expect(searchCodes(ENTRIES, { q: 'E11.9', limit: 10 }).codes.map((c) => c.code)).toEqual([
      'E119',
    ]);
  });

  it('finds codes by words of their name, whatever the accents and case', () => {
    const found = searchCodes(ENTRIES, { q: 'DIABETE', limit: 10 });
    expect(found.codes.map((c) => `${c.system}|${c.code}`).sort()).toEqual(
      [`${ICD10}|E11`, `${ICD10}|E119`, `${SNOMED}|44054006`].sort(),
    );
    expect(searchCodes(ENTRIES, { q: 'diabète type', limit: 10 }).codes).toHaveLength(3);
    expect(fold('Diabète')).toBe('diabete');
  });

  it("gives each node's band for a code, the name from any node that has one", () => {
    const [e119] = searchCodes(ENTRIES, { q: 'E119', limit: 10 }).codes;
    expect(e119).toEqual({
      kind: 'condition',
      system: ICD10,
      code: 'E119',
      display: 'Diabète de type 2',
      nodes: [
        { node: 'lombardia', patients: 120 },
        { node: 'galicia', patients: 80 },
      ],
    });
  });

  it('puts codes found by their code first, then the most widely held, and says when it cut', () => {
    const found = searchCodes(ENTRIES, { q: 'e', limit: 2 });
    expect(found.codes.map((c) => c.code)).toEqual(['E119', 'E11']);
    expect(found.truncated).toBe(true);
    expect(searchCodes(ENTRIES, { q: 'e', system: SNOMED, limit: 5 }).codes).toEqual([
      expect.objectContaining({ code: '44054006' }),
    ]);
  });

  it('says so when nothing matches', () => {
    const found = searchCodes(ENTRIES, { q: 'zzz', limit: 10 });
    expect(found).toEqual({
      q: 'zzz',
      codes: [],
      truncated: false,
      message: 'No code or name in the catalogue matches "zzz".',
    });
  });
});
