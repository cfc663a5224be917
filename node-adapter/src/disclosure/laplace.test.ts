import { describe, expect, it } from 'vitest';
import { type CodeSet, parseQuery } from '@tessera/schemas';
import { epsilonFor, laplaceBound, laplaceNoise, releasedTables } from './laplace.ts';
import { policyOf, seeded } from './test-support.ts';

const cohort = { patient: { gender: ['female'] } };
const loinc: CodeSet = [{ system: 'http://loinc.org', code: '4548-4' }];

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
});
