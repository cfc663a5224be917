import { describe, expect, it } from 'vitest';
import { type CodeSet, parseQuery } from '@tessera/schemas';
import { nodeErrors } from '../errors.ts';
import { createDisclosureControl, strataKeys, unknownResult } from './control.ts';
import { epsilonFor, laplaceBound, laplaceNoise, releasedTables } from './laplace.ts';
import { secureRandom } from './random.ts';
import { policyOf, seeded } from './test-support.ts';

const cohort = { patient: { gender: ['female'] } };
const loinc: CodeSet = [{ system: 'http://loinc.org', code: '4548-4' }];

describe('strataKeys', () => {
  it('labels strata as the query-language page does, first dimension outermost', () => {
    expect(strataKeys([{ ageBand: [0, 18, 40, 65, 80] }]).map((k) => k.ageBand)).toEqual([
      '0-17',
      '18-39',
      '40-64',
      '65-79',
      '80+',
    ]);
    expect(strataKeys(['deceased', 'gender']).slice(0, 2)).toEqual([
      { deceased: 'true', gender: 'female' },
      { deceased: 'true', gender: 'male' },
    ]);
    expect(
      strataKeys([
        { codes: { of: 'condition', in: [{ system: 'http://snomed.info/sct', code: '1' }] } },
      ]),
    ).toEqual([{ codes: 'http://snomed.info/sct|1' }]);
    expect(strataKeys([])).toEqual([]);
  });
});

describe('unknownResult', () => {
  it('has the shape of the query with every count unknown', () => {
    const raw = unknownResult({
      stratify: ['gender', { codes: { of: 'condition', in: loinc } }],
      measures: [{ histogram: { observation: loinc, unit: '%', edges: [0, 5.7, 6.5] } }],
    });
    expect(raw.strata).toHaveLength(4);
    expect(raw.overlapping).toBe(true);
    expect(raw.measures[0]).toMatchObject({
      type: 'histogram',
      bins: [{ from: 0, to: 5.7 }, { from: 5.7, to: 6.5 }, { from: 6.5 }],
    });
    expect(Number.isNaN(raw.total.count)).toBe(true);
  });
});

describe('laplace helpers', () => {
  it('counts released tables and the epsilon a query costs', () => {
    const query = parseQuery({
      version: 1,
      cohort,
      stratify: ['gender'],
      measures: [{ count: 'patients' }, { summary: { observation: loinc, unit: '%' } }],
    });
    expect(releasedTables(query)).toBe(3);
    expect(releasedTables({})).toBe(1);
    expect(epsilonFor(query, policyOf({ mechanism: 'laplace', laplace: { epsilon: 0.25 } }))).toBe(
      0.75,
    );
    expect(epsilonFor(query, policyOf())).toBeUndefined();
  });

  it('draws zero-centred noise whose stated bound holds at the stated confidence', () => {
    const random = seeded(11);
    const draws = Array.from({ length: 20_000 }, () => Math.round(laplaceNoise(2, random)));
    const bound = laplaceBound(2, 0.95);
    const within = draws.filter((d) => Math.abs(d) <= bound).length / draws.length;
    expect(within).toBeGreaterThanOrEqual(0.94);
    expect(Math.abs(draws.reduce((a, b) => a + b, 0) / draws.length)).toBeLessThan(0.1);
    expect(laplaceNoise(2, () => 0)).toBeLessThan(0);
    expect(Number.isFinite(laplaceNoise(2, () => 0))).toBe(true);
    expect(() => laplaceNoise(2, () => 1)).toThrow();
  });

  it('the secure source gives uniform doubles in [0, 1)', () => {
    const draws = Array.from({ length: 10_000 }, secureRandom);
    expect(draws.every((d) => d >= 0 && d < 1)).toBe(true);
    expect(Math.abs(draws.reduce((a, b) => a + b, 0) / draws.length - 0.5)).toBeLessThan(0.02);
  });
});

describe('createDisclosureControl', () => {
  it('binds limits, costs and protection to the policy', () => {
    const control = createDisclosureControl(policyOf({ maxStrata: 40 }));
    expect(control.limits.maxStrata).toBe(40);
    expect(control.epsilonFor({})).toBeUndefined();
    expect(
      control.protect({
        total: { count: 3, cellKey: 1 },
        strata: [],
        overlapping: false,
        measures: [],
      }).total,
    ).toEqual({
      suppressed: true,
      range: [1, 9],
    });
  });
});

describe('node error catalogue', () => {
  it('answers budget and repeat refusals with 429 and keeps the common codes', () => {
    expect(nodeErrors.ERR_BUDGET_EXHAUSTED.status).toBe(429);
    expect(nodeErrors.ERR_REPEAT_LIMIT.status).toBe(429);
    expect(nodeErrors.ERR_QUERY_INVALID.status).toBe(400);
    for (const [code, spec] of Object.entries(nodeErrors)) {
      expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
      expect(typeof spec.title).toBe('string');
    }
  });
});
