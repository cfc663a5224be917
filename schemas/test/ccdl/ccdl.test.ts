import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CohortQuery } from '../../src/generated/query.ts';
import { ProblemError } from '../../src/problem.ts';
import { queryHash } from '../../src/query/canonical.ts';
import { parseQuery } from '../../src/query/parse.ts';
import { readFixtures } from '../support/fixtures.ts';
import { ccdlToQuery } from '../../src/ccdl/ccdl-to-query.ts';

interface Supported {
  about: string;
  ccdl: unknown;
  query: CohortQuery;
}

interface Refused {
  about: string;
  ccdl: unknown;
  code: 'ERR_CCDL_UNSUPPORTED' | 'ERR_QUERY_INVALID';
  pointer: string;
  detail: string;
}

function refusal(doc: unknown): ProblemError {
  try {
    ccdlToQuery(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemError);
    return err as ProblemError;
  }
  return expect.fail('ccdlToQuery accepted the document');
}

const VERSION = 'http://to_be_decided.com/draft-2/schema#';
const ICD10_GM = 'http://fhir.de/CodeSystem/bfarm/icd-10-gm';
const diagnosis = (code: string) => ({
  termCodes: [{ system: ICD10_GM, code, display: code }],
});
const icdCodes = (n: number) =>
  Array.from({ length: n }, (_, i) => `C${String(i).padStart(2, '0')}`);

describe('supported CCDL documents', () => {
  it.each(readFixtures('ccdl/supported') as [string, Supported][])(
    '%s',
    (_name, { about, ccdl, query }) => {
      expect(about.length).toBeGreaterThan(0);
      parseQuery(query); // the expectation itself is a valid v1 query
      const before = structuredClone(ccdl);
      expect(ccdlToQuery(ccdl)).toEqual(query);
      expect(ccdl).toEqual(before);
    },
  );
});

describe('refused CCDL documents', () => {
  it.each(readFixtures('ccdl/refused') as [string, Refused][])(
    '%s',
    (_name, { ccdl, code, pointer, detail }) => {
      const problem = refusal(ccdl);
      expect(problem.code).toBe(code);
      expect(problem.status).toBe(code === 'ERR_CCDL_UNSUPPORTED' ? 422 : 400);
      expect(problem.pointer).toBe(pointer);
      expect(problem.detail).toContain(detail);
    },
  );
});

describe('limits of v1, with pointers into the CCDL document', () => {
  it('accepts 32 OR-ed criteria and refuses 33', () => {
    const doc = (n: number) => ({
      version: VERSION,
      inclusionCriteria: [icdCodes(n).map(diagnosis)],
    });
    expect(() => ccdlToQuery(doc(32))).not.toThrow();
    const problem = refusal(doc(33));
    expect([problem.code, problem.pointer]).toEqual([
      'ERR_CCDL_UNSUPPORTED',
      '/inclusionCriteria/0',
    ]);
    expect(problem.detail).toContain('at most 32');
  });

  it('accepts 32 AND-ed groups and refuses 33', () => {
    const doc = (n: number) => ({
      version: VERSION,
      inclusionCriteria: icdCodes(n).map((c) => [diagnosis(c)]),
    });
    expect(() => ccdlToQuery(doc(32))).not.toThrow();
    expect(refusal(doc(33)).pointer).toBe('/inclusionCriteria');
  });

  it('accepts 100 criteria and refuses the 101st', () => {
    const doc = (n: number) => ({
      version: VERSION,
      inclusionCriteria: Array.from({ length: 4 }, (_, g) =>
        icdCodes(100)
          .slice(g * 25, Math.min(n, g * 25 + 25))
          .map(diagnosis),
      ).filter((group) => group.length > 0),
      exclusionCriteria: n > 100 ? [[diagnosis('Z99')]] : undefined,
    });
    expect(() => ccdlToQuery(doc(100))).not.toThrow();
    const problem = refusal(doc(101));
    expect([problem.code, problem.pointer]).toEqual([
      'ERR_CCDL_UNSUPPORTED',
      '/exclusionCriteria/0/0',
    ]);
    expect(problem.detail).toContain('more than 100 criteria');
  });

  it('counts a criterion split across kinds as several', () => {
    const mixed = {
      termCodes: [
        { system: 'http://loinc.org', code: '4548-4', display: 'HbA1c' },
        {
          system: 'http://snomed.info/sct',
          code: '43396009',
          display: 'Hemoglobin A1c measurement (procedure)',
        },
      ],
    };
    const doc = {
      version: VERSION,
      inclusionCriteria: [Array.from({ length: 32 }, () => mixed)],
      exclusionCriteria: [icdCodes(37).map(diagnosis)],
    };
    expect(refusal(doc).detail).toContain('more than 100 criteria');
  });

  it('accepts 200 synonyms in one criterion and refuses 201', () => {
    const doc = (n: number) => ({
      version: VERSION,
      inclusionCriteria: [
        [
          {
            termCodes: Array.from({ length: n }, (_, i) => ({
              system: ICD10_GM,
              code: `A${i}`,
              display: '',
            })),
          },
        ],
      ],
    });
    expect(() => ccdlToQuery(doc(200))).not.toThrow();
    expect(refusal(doc(201)).pointer).toBe('/inclusionCriteria/0/0/termCodes');
  });

  it('refuses prototype keys anywhere, leaving Object.prototype alone', () => {
    for (const json of [
      `{"version":"v","inclusionCriteria":[[{"termCodes":[{"system":"${ICD10_GM}","code":"E11","display":"","__proto__":{"polluted":1}}]}]]}`,
      `{"version":"v","constructor":{},"inclusionCriteria":[[{"termCodes":[{"system":"${ICD10_GM}","code":"E11","display":""}]}]]}`,
      `{"version":"v","inclusionCriteria":[[{"prototype":{},"termCodes":[{"system":"${ICD10_GM}","code":"E11","display":""}]}]]}`,
    ]) {
      const problem = refusal(JSON.parse(json));
      expect(problem.code).toBe('ERR_QUERY_INVALID');
      expect(problem.detail).toContain('is not allowed');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses 10,000 levels of nesting without overflowing the stack', () => {
    const json = `{"version":"v","inclusionCriteria":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    expect(refusal(JSON.parse(json)).detail).toContain('nested deeper than');
  });
});

describe('translation', () => {
  it('keeps display as the label, cut to 200 characters', () => {
    const doc = {
      version: VERSION,
      display: 'x'.repeat(300),
      inclusionCriteria: [[diagnosis('E11')]],
    };
    expect(ccdlToQuery(doc).label).toBe('x'.repeat(200));
    expect(ccdlToQuery({ ...doc, display: '' })).not.toHaveProperty('label');
  });

  it('means the same whatever the order of groups and of criteria in them', () => {
    const criteria = ['E10', 'E11', 'I10', 'I11', 'N18', 'C50', 'J45', 'F32'].map(diagnosis);
    const groups = fc.array(fc.subarray(criteria, { minLength: 1 }), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(groups, groups, fc.integer(), (inc, exc, seed) => {
        const doc = { version: VERSION, inclusionCriteria: inc, exclusionCriteria: exc };
        const shuffle = <T>(xs: T[]): T[] =>
          xs
            .map((x, i) => [x, Math.sin(seed + i)] as const)
            .sort((a, b) => a[1] - b[1])
            .map(([x]) => x);
        const reordered = {
          version: VERSION,
          inclusionCriteria: shuffle(inc.map(shuffle)),
          exclusionCriteria: shuffle(exc.map(shuffle)),
        };
        expect(queryHash(ccdlToQuery(reordered))).toBe(queryHash(ccdlToQuery(doc)));
      }),
    );
  });

  it('says the same as a hand-written v1 query of the same cohort', () => {
    const doc = {
      version: VERSION,
      inclusionCriteria: [[diagnosis('E11.9'), diagnosis('E10')]],
      exclusionCriteria: [[diagnosis('N18')]],
    };
    const handWritten: CohortQuery = {
      version: 1,
      cohort: {
        all: [
          { not: { condition: { code: [{ system: ICD10_GM, code: 'N18', descendants: true }] } } },
          {
            any: [
              { condition: { code: [{ system: ICD10_GM, code: 'E10', descendants: true }] } },
              { condition: { code: [{ system: ICD10_GM, code: 'E119', descendants: true }] } },
            ],
          },
        ],
      },
    };
    expect(queryHash(ccdlToQuery(doc))).toBe(queryHash(handWritten));
  });
});
