// Threat 35: criteria values meant to inject FHIR search parameters are
// escaped, and only allow-listed parameters are ever sent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COMMON_PARAMS,
  SEARCH_TYPES,
  SearchUrlError,
  TYPE_PARAMS,
  buildSearchUrl,
  escapeSearchValue,
  isUnderBase,
  plainNumber,
  sameSearch,
  splitEscaped,
  unescapeSearchValue,
} from './search-url.ts';
import type { SearchSpec } from './search-url.ts';

const BASE = 'https://fhir.example.org/r4';

function codeSearch(system: string, code: string): SearchSpec {
  return {
    type: 'Condition',
    params: [{ name: 'code', values: [{ kind: 'token', system, code }] }],
  };
}

/** What a server sees: parameter names and raw (still FHIR-escaped) values. */
function sentParams(url: string): [string, string][] {
  return [...new URL(url).searchParams.entries()];
}

const ALLOWED_NAMES = new Set(
  [...Object.values(TYPE_PARAMS).flat(), ...COMMON_PARAMS].flatMap((n) => [
    n,
    `${n}:below`,
    `${n}:missing`,
  ]),
);

describe('escapeSearchValue', () => {
  it('escapes the four FHIR search separators, backslash first', () => {
    expect(escapeSearchValue('a,b|c$d\\e')).toBe('a\\,b\\|c\\$d\\\\e');
    expect(escapeSearchValue('\\,')).toBe('\\\\\\,');
  });

  it('is undone by unescaping, for any string', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(unescapeSearchValue(escapeSearchValue(s))).toBe(s);
      }),
    );
  });
});

describe('buildSearchUrl', () => {
  it('builds system|code tokens, percent-encoded', () => {
    expect(buildSearchUrl(BASE, codeSearch('http://snomed.info/sct', '15777000'))).toBe(
      `${BASE}/Condition?code=http%3A%2F%2Fsnomed.info%2Fsct%7C15777000`,
    );
  });

  const attacks = [
    'E11,http://x|E12',
    'E11|x',
    'E11$everything',
    'E11\\',
    'E11&_has:Observation:patient:code=1234',
    'E11&subject=Patient/1',
    '_has:Condition:subject:code=E11',
    'E11#fragment',
    'E11 \n\r%00%26',
    'E11=1&_count=100000',
  ];

  it.each(attacks)('a code %j cannot add or split a parameter', (code) => {
    const url = buildSearchUrl(BASE, codeSearch('http://hl7.org/fhir/sid/icd-10', code));
    const params = sentParams(url);
    expect(params.map(([name]) => name)).toEqual(['code']);
    expect(new URL(url).hash).toBe('');
    const [value] = params[0]!.slice(1);
    // The server splits on unescaped separators: one alternative, system then code.
    const alternatives = splitEscaped(value!, ',');
    expect(alternatives).toHaveLength(1);
    const parts = splitEscaped(alternatives[0]!, '|').map(unescapeSearchValue);
    expect(parts).toEqual(['http://hl7.org/fhir/sid/icd-10', code]);
  });

  it.each(attacks)('a system %j cannot add or split a parameter either', (system) => {
    const url = buildSearchUrl(BASE, codeSearch(system, 'E11'));
    const params = sentParams(url);
    expect(params.map(([name]) => name)).toEqual(['code']);
    const parts = splitEscaped(params[0]![1], '|').map(unescapeSearchValue);
    expect(parts).toEqual([system, 'E11']);
  });

  it('keeps arbitrary systems and codes inside their one value (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (system, code, id) => {
        const url = buildSearchUrl(BASE, {
          type: 'MedicationRequest',
          params: [
            {
              name: 'code',
              values: [
                { kind: 'token', system, code },
                { kind: 'token', system },
              ],
            },
            { name: 'authoredon', values: [{ kind: 'date', prefix: 'ge', date: '2020-01-01' }] },
          ],
        });
        const params = sentParams(url);
        expect(params.map(([n]) => n)).toEqual(['code', 'authoredon']);
        const alternatives = splitEscaped(params[0]![1], ',');
        expect(alternatives.map((a) => splitEscaped(a, '|').map(unescapeSearchValue))).toEqual([
          [system, code],
          [system, ''],
        ]);
        expect(params[1]![1]).toBe('ge2020-01-01');
        // A Medication id stays one reference value.
        const ref = buildSearchUrl(BASE, {
          type: 'Observation',
          params: [
            {
              name: 'value-quantity',
              values: [{ kind: 'quantity', prefix: 'le', value: 1.5, system, code: id }],
            },
          ],
        });
        const [[name, value]] = sentParams(ref) as [[string, string]];
        expect(name).toBe('value-quantity');
        expect(splitEscaped(value, '|').map(unescapeSearchValue)).toEqual(['le1.5', system, id]);
      }),
    );
  });

  it('only ever sends allow-listed parameter names', () => {
    const spec: SearchSpec = {
      type: 'Observation',
      params: [
        { name: 'code', modifier: 'below', values: [{ kind: 'token', system: 's', code: 'c' }] },
        { name: 'date', values: [{ kind: 'date', prefix: 'le', date: '2020-12-31' }] },
        { name: 'value-concept', values: [{ kind: 'token', system: 's&x=1' }] },
        { name: '_count', values: [{ kind: 'count', value: 500 }] },
        { name: '_elements', values: [{ kind: 'elements', names: ['subject', 'code'] }] },
        { name: '_summary', values: [{ kind: 'summary-count' }] },
        { name: '_sort', values: [{ kind: 'sort-last-updated-desc' }] },
      ],
    };
    for (const [name] of sentParams(buildSearchUrl(BASE, spec))) {
      expect(ALLOWED_NAMES.has(name)).toBe(true);
    }
  });

  it('refuses parameters, modifiers, types and values outside the allow-list', () => {
    const refuse = (spec: unknown): void => {
      expect(() => buildSearchUrl(BASE, spec as SearchSpec)).toThrow(SearchUrlError);
    };
    const token = { kind: 'token', system: 's', code: 'c' };
    refuse({
      type: 'Condition',
      params: [{ name: '_has:Observation:patient:code', values: [token] }],
    });
    refuse({ type: 'Condition', params: [{ name: 'subject', values: [token] }] });
    refuse({ type: 'Condition', params: [{ name: 'code&_has', values: [token] }] });
    refuse({ type: 'Condition', params: [{ name: 'code', modifier: 'text', values: [token] }] });
    refuse({
      type: 'Condition',
      params: [{ name: 'onset-date', modifier: 'below', values: [token] }],
    });
    refuse({ type: 'Condition', params: [{ name: 'code', modifier: 'missing', values: [token] }] });
    refuse({ type: 'Condition', params: [{ name: 'code', values: [] }] });
    refuse({ type: 'Condition', params: [{ name: 'onset-date', values: [token] }] });
    refuse({
      type: 'Condition',
      params: [
        { name: 'onset-date', values: [{ kind: 'date', prefix: 'ge', date: '2020-01-01&x=1' }] },
      ],
    });
    refuse({
      type: 'Condition',
      params: [{ name: '_count', values: [{ kind: 'count', value: 1e9 }] }],
    });
    refuse({
      type: 'Condition',
      params: [{ name: '_elements', values: [{ kind: 'elements', names: ['code,subject'] }] }],
    });
    refuse({ type: 'Group', params: [] });
    refuse({ type: 'Patient/../Condition', params: [] });
  });

  it('knows every type it may search', () => {
    expect(SEARCH_TYPES).toContain('Patient');
    expect(Object.keys(TYPE_PARAMS).sort()).toEqual([...SEARCH_TYPES].sort());
  });

  it('writes numbers without exponents', () => {
    expect(plainNumber(6.5)).toBe('6.5');
    expect(plainNumber(1e-7)).toBe('0.0000001');
    expect(plainNumber(1.5e21)).toBe('1500000000000000000000');
    expect(() => plainNumber(Number.NaN)).toThrow(SearchUrlError);
  });
});

describe('sameSearch', () => {
  const sent = buildSearchUrl(BASE, codeSearch('http://snomed.info/sct', '15777000'));

  it('accepts a self link that echoes the search, paging parameters aside', () => {
    expect(
      sameSearch(sent, `${BASE}/Condition?code=http://snomed.info/sct|15777000&_count=50`),
    ).toBe(true);
    expect(
      sameSearch(sent, `/r4/Condition?_offset=0&code=http%3A%2F%2Fsnomed.info%2Fsct%7C15777000`),
    ).toBe(true);
  });

  it('refuses a self link that dropped, changed or added a criterion', () => {
    expect(sameSearch(sent, `${BASE}/Condition?_count=50`)).toBe(false);
    expect(sameSearch(sent, `${BASE}/Condition?code=http://snomed.info/sct|1577700`)).toBe(false);
    expect(
      sameSearch(sent, `${BASE}/Condition?code=http://snomed.info/sct|15777000&subject=Patient/1`),
    ).toBe(false);
    expect(sameSearch(sent, `${BASE}/Observation?code=http://snomed.info/sct|15777000`)).toBe(
      false,
    );
    expect(sameSearch(sent, 'not a url at all ::')).toBe(false);
  });
});

describe('isUnderBase', () => {
  it('accepts links under the base and nothing else', () => {
    expect(isUnderBase(BASE, `${BASE}/Condition?_offset=50`)).toBe(true);
    expect(isUnderBase(`${BASE}/`, `${BASE}?_getpages=x`)).toBe(true);
    expect(isUnderBase(BASE, 'https://evil.example/r4/Condition')).toBe(false);
    expect(isUnderBase(BASE, 'http://fhir.example.org/r4/Condition')).toBe(false);
    expect(isUnderBase(BASE, 'https://fhir.example.org/r4x/Condition')).toBe(false);
    expect(isUnderBase(BASE, 'https://user:pw@fhir.example.org/r4/Condition')).toBe(false);
    expect(isUnderBase(BASE, 'https://fhir.example.org:8443/r4/Condition')).toBe(false);
  });
});
