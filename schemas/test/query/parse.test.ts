import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CohortQuery, Expr } from '../../src/generated/query.ts';
import { ProblemError } from '../../src/problem.ts';
import { readFixtures } from '../support/fixtures.ts';
import { RAW_LIMITS } from '../../src/validate.ts';
import { queryHash } from '../../src/query/canonical.ts';
import { parseQuery } from '../../src/query/parse.ts';
import { DEFAULT_LIMITS } from '../../src/query/semantic.ts';

interface InvalidCase {
  rule: string;
  query: unknown;
  pointer: string;
  detail: string;
}

/** The problem parseQuery throws, or a failed expectation when it accepts the input. */
function refusal(input: unknown): ProblemError {
  try {
    parseQuery(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemError);
    return err as ProblemError;
  }
  return expect.fail('parseQuery accepted the input');
}

function expectRefused(input: unknown, pointer: string, detail: string): void {
  const problem = refusal(input);
  expect(problem.code).toBe('ERR_QUERY_INVALID');
  expect(problem.status).toBe(400);
  expect(problem.pointer).toBe(pointer);
  expect(problem.detail).toContain(detail);
}

const SNOMED = 'http://snomed.info/sct';
const criterion = (code: string): Expr => ({ condition: { code: [{ system: SNOMED, code }] } });
const query = (cohort: Expr, extra: Partial<CohortQuery> = {}): CohortQuery => ({
  version: 1,
  cohort,
  ...extra,
});
const criteria = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => criterion(String(100_000 + from + i))) as [Expr, ...Expr[]];
const notChain = (n: number, leaf: Expr): Expr => {
  let e = leaf;
  for (let i = 0; i < n; i++) e = { not: e };
  return e;
};
const codes = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ system: SNOMED, code: String(1000 + i) }));

describe('valid fixtures', () => {
  const fixtures = readFixtures('queries/valid');

  it('include the three examples of the query-language page', () => {
    const names = fixtures.map(([name]) => name);
    for (const n of [1, 2, 3]) expect(names.some((f) => f.startsWith(`example-${n}-`))).toBe(true);
  });

  it.each(fixtures)('%s validates', (_name, fixture) => {
    const parsed = parseQuery(fixture);
    expect(parsed).toBe(fixture);
    expect(queryHash(parsed)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('cover every criterion kind, dimension and measure', () => {
    const seen = new Set<string>();
    const visit = (value: unknown, key: string): void => {
      seen.add(key);
      if (Array.isArray(value)) value.forEach((v) => visit(v, key));
      else if (typeof value === 'string') seen.add(`${key}=${value}`);
      else if (value !== null && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) visit(v, k);
      }
    };
    for (const [, fixture] of fixtures) visit(fixture, '');
    const expected = [
      'all', 'any', 'not', 'patient', 'condition', 'observation', 'procedure', 'medication',
      'immunization', 'encounter', 'gender', 'age', 'birthDate', 'deceased', 'period', 'value',
      'valueCode', 'ageAtEvent', 'atLeast', 'descendants', 'stratify=gender', 'stratify=deceased',
      'ageBand', 'codes', 'count', 'histogram', 'summary', 'pick=latest', 'pick=earliest',
      'pick=mean', 'asOf', 'nodes', 'label', 'consent', 'decision', 'resourceTypes',
    ]; // prettier-ignore
    expect(expected.filter((k) => !seen.has(k))).toEqual([]);
  });

  it('are the examples docs/query-language.md shows', () => {
    const doc = readFileSync(new URL('../../../docs/query-language.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map(
      (m) => JSON.parse(m[1]!) as unknown,
    );
    const queries = blocks.filter((b) => typeof b === 'object' && b !== null && 'version' in b);
    expect(queries.length).toBeGreaterThanOrEqual(3);
    const hashes = new Set(fixtures.map(([, f]) => JSON.stringify(f)));
    for (const q of queries) {
      parseQuery(q);
      expect(hashes.has(JSON.stringify(q)), JSON.stringify(q)).toBe(true);
    }
  });
});

describe('invalid fixtures', () => {
  const fixtures = readFixtures('queries/invalid') as [string, InvalidCase][];

  it.each(fixtures)('%s is refused at its pointer', (_name, c) => {
    expect(typeof c.rule).toBe('string');
    expectRefused(c.query, c.pointer, c.detail);
  });
});

describe('prototype keys', () => {
  const places: [where: string, json: (key: string) => string, pointer: (key: string) => string][] =
    [
      ['top level', (k) => `{"version":1,"cohort":{"patient":{"deceased":true}},"${k}":{}}`, (k) => `/${k}`],
      ['an Expr', (k) => `{"version":1,"cohort":{"${k}":{"polluted":true}}}`, (k) => `/cohort/${k}`],
      ['a nested Expr', (k) => `{"version":1,"cohort":{"all":[{"patient":{"deceased":true}},{"${k}":{}}]}}`, (k) => `/cohort/all/1/${k}`],
      ['a patient criterion', (k) => `{"version":1,"cohort":{"patient":{"deceased":true,"${k}":{"polluted":true}}}}`, (k) => `/cohort/patient/${k}`],
      ['an event criterion', (k) => `{"version":1,"cohort":{"condition":{"code":[{"system":"s","code":"c"}],"${k}":{}}}}`, (k) => `/cohort/condition/${k}`],
      ['a coding', (k) => `{"version":1,"cohort":{"condition":{"code":[{"system":"s","code":"c","${k}":{"polluted":true}}]}}}`, (k) => `/cohort/condition/code/0/${k}`],
      ['a dimension', (k) => `{"version":1,"cohort":{"patient":{"deceased":true}},"stratify":[{"ageBand":[0,18],"${k}":{}}]}`, (k) => `/stratify/0/${k}`],
      ['a measure', (k) => `{"version":1,"cohort":{"patient":{"deceased":true}},"measures":[{"count":"patients","${k}":{}}]}`, (k) => `/measures/0/${k}`],
    ]; // prettier-ignore
  const cases = places.flatMap(([where, json, pointer]) =>
    ['__proto__', 'constructor', 'prototype'].map((key) => [key, where, json(key), pointer(key)]),
  );

  it.each(cases)('%s in %s is refused', (key, _where, json, pointer) => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    // JSON.parse makes "__proto__" an own key; an object literal would set the prototype instead.
    const input: unknown = JSON.parse(json);
    expectRefused(input, pointer, `key "${key}" is not allowed`);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('limits', () => {
  it('accepts depth 8 and refuses depth 9', () => {
    expect(() => parseQuery(query(notChain(7, criterion('1'))))).not.toThrow();
    expectRefused(
      query(notChain(8, criterion('1'))),
      `/cohort${'/not'.repeat(8)}`,
      'nesting depth exceeds 8',
    );
  });

  it('accepts 100 criteria and refuses 101', () => {
    const groups = (n: number): Expr => ({
      all: [0, 1, 2, 3].map((g) => ({ any: criteria(Math.min(25, n - g * 25), g * 25) })) as [
        Expr,
        ...Expr[],
      ],
    });
    expect(() => parseQuery(query(groups(100)))).not.toThrow();
    const over = query({ all: [groups(100), criterion('9')] });
    expectRefused(over, '/cohort/all/0/all/0/any/0', 'more than 100 criteria');
    expect(DEFAULT_LIMITS.maxCriteria).toBe(100);
  });

  it.each(['all', 'any'] as const)('accepts 32 children of %s and refuses 33', (op) => {
    expect(() => parseQuery(query({ [op]: criteria(32) } as unknown as Expr))).not.toThrow();
    expectRefused(
      query({ [op]: criteria(33) } as unknown as Expr),
      `/cohort/${op}`,
      'more than 32 items',
    );
  });

  it('accepts a CodeSet of 200 codes and refuses 201', () => {
    const set = (n: number) => query({ condition: { code: codes(n) } } as Expr);
    expect(() => parseQuery(set(200))).not.toThrow();
    expectRefused(set(201), '/cohort/condition/code', 'more than 200 items');
  });

  it('accepts a codes dimension of 50 codes and refuses 51', () => {
    const dim = (n: number) =>
      query(criterion('1'), {
        stratify: [{ codes: { of: 'condition', in: codes(n) } }],
      } as Partial<CohortQuery>);
    expect(() => parseQuery(dim(50))).not.toThrow();
    expectRefused(dim(51), '/stratify/0/codes/in', 'more than 50 codes');
  });

  it('accepts 200 strata and refuses 201 or more', () => {
    const strata = (edges: number, n: number) =>
      query(criterion('1'), {
        stratify: [
          'gender',
          { ageBand: Array.from({ length: edges }, (_, i) => i * 10) },
          { codes: { of: 'condition', in: codes(n) } },
        ],
      } as Partial<CohortQuery>);
    expect(() => parseQuery(strata(10, 5))).not.toThrow(); // 4 x 10 x 5 = 200
    expectRefused(strata(12, 5), '/stratify', '240 strata exceed the maximum of 200');
  });

  it('accepts 12 age-band edges and 3 dimensions', () => {
    const ageBand = Array.from({ length: 12 }, (_, i) => i * 10) as [number, number];
    const q = query(criterion('1'), { stratify: ['gender', 'deceased', { ageBand }] });
    expect(() => parseQuery(q)).not.toThrow();
  });

  it('accepts a label of 200 characters', () => {
    expect(() => parseQuery(query(criterion('1'), { label: 'é'.repeat(200) }))).not.toThrow();
  });
});

describe('hostile input', () => {
  it('refuses 10,000 levels of nesting without overflowing the stack', () => {
    const leaf = JSON.stringify(criterion('1'));
    const json = `{"version":1,"cohort":${'{"not":'.repeat(10_000)}${leaf}${'}'.repeat(10_000)}}`;
    const problem = refusal(JSON.parse(json));
    expect(problem.detail).toBe(`nested deeper than ${RAW_LIMITS.maxDepth} levels`);
    expect(problem.pointer).toBe(`/cohort${'/not'.repeat(RAW_LIMITS.maxDepth - 1)}`);
  });

  it('refuses 10,000 levels of nested arrays in a free-text key', () => {
    const json = `{"version":1,"cohort":{"patient":{"deceased":true}},"label":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    expect(refusal(JSON.parse(json)).detail).toContain('nested deeper than');
  });

  it.each([
    ['an any', (big: Expr[]) => query({ any: big } as Expr), '/cohort/any'],
    [
      'stratify',
      (big: Expr[]) => ({ version: 1, cohort: criterion('1'), stratify: big }),
      '/stratify',
    ],
    [
      'a CodeSet',
      (big: Expr[]) => ({ version: 1, cohort: { condition: { code: big } } }),
      '/cohort/condition/code',
    ],
  ])(
    'refuses an array of 1,000,000 items in %s before looking at them',
    (_where, build, pointer) => {
      const big = new Array<Expr>(1_000_000).fill(criterion('1'));
      const started = performance.now();
      expectRefused(build(big), pointer, `array longer than ${RAW_LIMITS.maxArray} items`);
      expect(performance.now() - started).toBeLessThan(1000);
    },
  );

  it.each([
    ['label', (s: string) => query(criterion('1'), { label: s }), '/label'],
    ['a code', (s: string) => query(criterion(s)), '/cohort/condition/code/0/code'],
    ['a system', (s: string) => query({ condition: { code: [{ system: s, code: '1' }] } }), '/cohort/condition/code/0/system'],
    ['a unit', (s: string) => query({ observation: { code: [{ system: 'http://loinc.org', code: '1-8' }], value: { min: 1, unit: s } } }), '/cohort/observation/value/unit'],
    ['a node id', (s: string) => query(criterion('1'), { nodes: [s] }), '/nodes/0'],
  ])('refuses a string of a million characters in %s', (_where, build, pointer) => {
    expectRefused(build('a'.repeat(1_000_000)), pointer, `string longer than ${RAW_LIMITS.maxString}`);
  }); // prettier-ignore

  it.each([
    ['a code of 65 characters', query(criterion('1'.repeat(65))), '/cohort/condition/code/0/code', 'more than 64 characters'],
    ['a system of 256 characters', query({ condition: { code: [{ system: 's'.repeat(256), code: '1' }] } }), '/cohort/condition/code/0/system', 'more than 255 characters'],
    ['a label of 2,000 characters', query(criterion('1'), { label: 'x'.repeat(2000) }), '/label', 'more than 200 characters'],
  ])('refuses %s by schema', (_what, input, pointer, detail) => {
    expectRefused(input, pointer, detail);
  }); // prettier-ignore

  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'query'],
    ['a number', 1],
  ])('refuses %s as the whole query', (_what, input) => {
    expectRefused(input, '', 'must be object');
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['1e13', 1e13],
  ])('refuses %s as a value bound', (_what, bound) => {
    const q = query({
      observation: {
        code: [{ system: 'http://loinc.org', code: '4548-4' }],
        value: { min: bound, unit: '%' },
      },
    });
    expect(refusal(q).pointer).toBe('/cohort/observation/value/min');
  });

  it.each(['condition', 'procedure', 'medication', 'immunization', 'encounter'])(
    'refuses value and valueCode on %s',
    (kind) => {
      const code = [{ system: SNOMED, code: '1' }];
      for (const [key, val] of [
        ['value', { min: 1, unit: '1' }],
        ['valueCode', code],
      ] as const) {
        const q = query({ [kind]: { code, [key]: val } } as unknown as Expr);
        expectRefused(q, `/cohort/${kind}/${key}`, `unknown key "${key}"`);
      }
    },
  );

  it('names the code system in a refused descendants flag', () => {
    for (const system of [SNOMED, 'http://loinc.org', 'urn:oid:1.2.276.0.76.5.409']) {
      const q = query({ condition: { code: [{ system, code: '1', descendants: true }] } });
      expectRefused(q, '/cohort/condition/code/0/descendants', system);
    }
  });

  it('accepts descendants on OPS, which is prefix-hierarchical like ICD-10', () => {
    const ops = 'http://fhir.de/CodeSystem/bfarm/ops';
    for (const code of ['5-39', '8-810']) {
      const q = query({ procedure: { code: [{ system: ops, code, descendants: true }] } });
      expect(parseQuery(q).cohort).toEqual(q.cohort);
    }
  });

  it('does not modify the input it validates', () => {
    const [, fixture] = readFixtures('queries/valid').find(([n]) => n.startsWith('rich-every-c'))!;
    const copy = structuredClone(fixture);
    parseQuery(fixture);
    expect(fixture).toEqual(copy);
  });
});
