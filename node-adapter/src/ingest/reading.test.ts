import { describe, expect, test } from 'vitest';
import { canonicalCodings, createCodeSystemAliases, readingFromConfig } from './reading.ts';

const DIMDI_OPS = 'http://fhir.de/CodeSystem/dimdi/ops';
const BFARM_OPS = 'http://fhir.de/CodeSystem/bfarm/ops';
const DIMDI_GM = 'http://fhir.de/CodeSystem/dimdi/icd-10-gm';
const BFARM_GM = 'http://fhir.de/CodeSystem/bfarm/icd-10-gm';

describe('code system aliases', () => {
  test('the dimdi URLs of ICD-10-GM, OPS, ATC and Alpha-ID stand for their bfarm URLs', () => {
    const aliases = createCodeSystemAliases();
    for (const name of ['icd-10-gm', 'ops', 'atc', 'alpha-id']) {
      expect(aliases.canonical(`http://fhir.de/CodeSystem/dimdi/${name}`)).toBe(
        `http://fhir.de/CodeSystem/bfarm/${name}`,
      );
    }
    expect(aliases.canonical('http://loinc.org')).toBe('http://loinc.org');
    expect(aliases.variants(DIMDI_OPS)).toEqual([BFARM_OPS, DIMDI_OPS]);
    expect(aliases.variants('http://loinc.org')).toEqual(['http://loinc.org']);
  });

  test('more aliases come from the configuration; chains and contradictions are refused', () => {
    const local = 'https://lab.example/CodeSystem/loinc-copy';
    const aliases = createCodeSystemAliases({ [local]: 'http://loinc.org' });
    expect(aliases.canonical(local)).toBe('http://loinc.org');
    expect(() => createCodeSystemAliases({ [DIMDI_OPS]: 'http://example.org/other' })).toThrow(
      `code system alias ${DIMDI_OPS}: already stands for ${BFARM_OPS}`,
    );
    expect(() => createCodeSystemAliases({ [local]: DIMDI_OPS })).toThrow(
      `code system alias ${local}: ${DIMDI_OPS} is itself an alias`,
    );
  });

  test('codings under an alias are read under the canonical URL and normalised for it', () => {
    const aliases = createCodeSystemAliases();
    expect(
      canonicalCodings(
        [
          { system: DIMDI_GM, code: 'E11.9' },
          { system: BFARM_GM, code: 'E119' },
          { system: DIMDI_OPS, code: '5-390.1' },
        ],
        aliases,
      ),
    ).toEqual([
      { system: BFARM_GM, code: 'E119' },
      { system: BFARM_OPS, code: '5-390.1' },
    ]);
  });

  test('the configuration block: aliases, and unconfirmed Conditions counted unless excluded', () => {
    expect(readingFromConfig({ codeSystemAliases: {}, unconfirmedConditions: 'count' })).toEqual({
      codeSystemAliases: {},
      excludeUnconfirmedConditions: false,
    });
    expect(
      readingFromConfig({ codeSystemAliases: { a: 'b' }, unconfirmedConditions: 'exclude' }),
    ).toEqual({ codeSystemAliases: { a: 'b' }, excludeUnconfirmedConditions: true });
  });
});
