// What a query costs under laplace: units of epsilon, from the query alone.
import { describe, expect, it } from 'vitest';
import { type CodeSet, type CohortQuery, type Measure, parseQuery } from '@tessera/schemas';
import { SUMMARY_TABLES, costUnits, epsilonFor, strataSensitivity } from './laplace.ts';
import { cellKeyPolicy, laplacePolicy, policyOf } from '../../test/support/disclosure.ts';

const cohort = { patient: { gender: ['female'] } };
const hba1c: CodeSet = [{ system: 'http://loinc.org', code: '4548-4' }];
const conditions = (n: number): CodeSet =>
  Array.from({ length: n }, (_, i) => ({
    system: 'http://snomed.info/sct',
    code: String(1000 + i),
  })) as CodeSet;

function query(parts: Partial<CohortQuery>): CohortQuery {
  return parseQuery({ version: 1, cohort, ...parts });
}

const histogramOf = (edges: [number, number, ...number[]]): Measure => ({
  histogram: { observation: hba1c, unit: '%', edges },
});
const histogram = histogramOf([0, 5.7, 6.5]);
const summary: Measure = { summary: { observation: hba1c, unit: '%' } };

describe('costUnits', () => {
  it.each<[string, Partial<CohortQuery>, number]>([
    ['a total alone', {}, 1],
    ['a total with the count measure', { measures: [{ count: 'patients' }] }, 1],
    ['a breakdown by gender (a partition)', { stratify: ['gender'] }, 2],
    [
      'gender x age band x deceased (still a partition)',
      { stratify: ['gender', { ageBand: [0, 18, 65] }, 'deceased'] },
      2,
    ],
    [
      'a codes breakdown of 3 codes (one stratum per code)',
      { stratify: [{ codes: { of: 'condition', in: conditions(3) } }] },
      4,
    ],
    [
      'gender x 3 codes',
      { stratify: ['gender', { codes: { of: 'condition', in: conditions(3) } }] },
      4,
    ],
    ['a histogram', { measures: [histogram] }, 2],
    ['two histograms', { measures: [histogram, histogramOf([0, 7])] }, 3],
    ['a summary (n, sum, sum of squares)', { measures: [summary] }, 1 + 3],
    [
      'a breakdown, the count, a histogram and a summary',
      { stratify: ['gender'], measures: [{ count: 'patients' }, histogram, summary] },
      1 + 1 + 1 + 3,
    ],
  ])('%s', (_name, parts, units) => {
    expect(costUnits(query(parts))).toBe(units);
  });

  it('a summary is three tables', () => {
    expect(SUMMARY_TABLES).toBe(3);
  });

  it('strataSensitivity: how many strata one patient can be in', () => {
    expect(strataSensitivity({})).toBe(1);
    expect(strataSensitivity({ stratify: ['gender', 'deceased'] })).toBe(1);
    expect(
      strataSensitivity({
        stratify: ['gender', { codes: { of: 'condition', in: conditions(5) } }],
      }),
    ).toBe(5);
    // Two codes dimensions (not a valid query today): the product.
    expect(
      strataSensitivity({
        stratify: [
          { codes: { of: 'condition', in: conditions(3) } },
          { codes: { of: 'condition', in: conditions(2) } },
        ],
      }),
    ).toBe(6);
  });

  it('depends on the query alone: the same query costs the same whatever the node holds', () => {
    const q = query({ stratify: ['gender'], measures: [summary] });
    expect(costUnits(q)).toBe(costUnits(structuredClone(q)));
    expect(costUnits(q)).toBe(5);
  });
});

describe('epsilonFor', () => {
  const q = query({ stratify: ['gender'], measures: [{ count: 'patients' }, summary] });

  it('costs units x epsilon under laplace (the default)', () => {
    expect(epsilonFor(q, policyOf())).toBe(5 * policyOf().laplace.epsilon);
    expect(epsilonFor(q, laplacePolicy({ laplace: { epsilon: 0.5 } }))).toBe(5 * 0.5);
    expect(epsilonFor({}, laplacePolicy({ laplace: { epsilon: 2 } }))).toBe(2);
  });

  it('is undefined for mechanisms without a budget', () => {
    expect(epsilonFor(q, cellKeyPolicy())).toBeUndefined();
    expect(epsilonFor(q, policyOf({ mechanism: 'none' }))).toBeUndefined();
  });
});
