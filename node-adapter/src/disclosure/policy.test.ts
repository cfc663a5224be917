import { describe, expect, it } from 'vitest';
import {
  type CodeSet,
  type CohortQuery,
  type Measure,
  ProblemError,
  isValid,
  parseQuery,
} from '@tessera/schemas';
import {
  checkHistogramGrid,
  checkStrataLimits,
  loadPolicy,
  policyQueryLimits,
  summaryBoundsFor,
} from './policy.ts';
import { cellKeyPolicy, laplacePolicy, policyOf } from '../../test/support/disclosure.ts';

function problemOf(fn: () => unknown): ProblemError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProblemError) return err;
    throw err;
  }
  throw new Error('expected a ProblemError');
}

describe('loadPolicy', () => {
  it('fills in every default from the schema and freezes the result: laplace is the default', () => {
    const policy = loadPolicy({}, { allowOpen: false });
    expect(policy).toEqual({
      mechanism: 'laplace',
      threshold: 10,
      suppressZero: true,
      rounding: 1,
      secondarySuppression: true,
      maxStrata: 200,
      maxDimensionCodes: 50,
      cellKey: {
        maxNoise: 2,
        table: 'triangular',
        histogramGrid: { '*': 10, '%': 1, 'mmol/L': 1, 'kg/m2': 5, kg: 5 },
      },
      laplace: {
        epsilon: 0.25,
        delta: 1e-9,
        projectBudget: 10,
        researcherBudget: 5,
        periodDays: 30,
        confidence: 0.95,
      },
      summary: {
        minN: 10,
        bounds: [
          { unit: '%', min: 0, max: 100 },
          { unit: 'mm[Hg]', min: 0, max: 300 },
          { unit: 'kg', min: 0, max: 300 },
          { unit: 'cm', min: 0, max: 250 },
          { unit: 'kg/m2', min: 0, max: 100 },
          { unit: 'mg/dL', min: 0, max: 1000 },
          { unit: 'mmol/L', min: 0, max: 50 },
          { unit: 'mmol/mol', min: 0, max: 200 },
          { unit: '/min', min: 0, max: 300 },
          { unit: 'a', min: 0, max: 120 },
        ],
      },
      repeatLimit: { count: 100, windowSeconds: 3600 },
    });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.laplace)).toBe(true);
    expect(Object.isFrozen(policy.summary.bounds[0])).toBe(true);
  });

  it('keeps given values, fills the rest, and does not touch its input', () => {
    const input = {
      threshold: 11,
      cellKey: { maxNoise: 3 },
      laplace: { epsilon: 0.5, researcherBudget: 7 },
    };
    const policy = loadPolicy(input, { allowOpen: false });
    expect(policy.threshold).toBe(11);
    expect(policy.cellKey).toMatchObject({ maxNoise: 3, table: 'triangular' });
    expect(policy.laplace).toEqual({
      epsilon: 0.5,
      delta: 1e-9,
      projectBudget: 10,
      researcherBudget: 7,
      periodDays: 30,
      confidence: 0.95,
    });
    expect(policy.summary.minN).toBe(11);
    expect(input).toEqual({
      threshold: 11,
      cellKey: { maxNoise: 3 },
      laplace: { epsilon: 0.5, researcherBudget: 7 },
    });
  });

  it('accepts budgets equal to epsilon and a researcher budget equal to the project budget', () => {
    const policy = loadPolicy(
      { laplace: { epsilon: 2, projectBudget: 2, researcherBudget: 2 } },
      { allowOpen: false },
    );
    expect(policy.laplace).toMatchObject({ projectBudget: 2, researcherBudget: 2 });
    expect(loadPolicy({ suppressZero: true }, { allowOpen: false }).suppressZero).toBe(true);
  });

  it('the schema itself accepts an empty policy and the filled-in one', () => {
    expect(isValid('node-policy', {})).toBe(true);
    expect(isValid('node-policy', loadPolicy({}, { allowOpen: false }))).toBe(true);
  });

  it.each([
    [{ threshold: 1 }, 'threshold'],
    [{ threshold: 2.5 }, 'threshold'],
    [{ mechanism: 'noise' }, 'mechanism'],
    [{ cellKey: { maxNoise: 0 } }, 'cellKey.maxNoise'],
    [{ cellKey: { shape: 'x' } }, 'cellKey.shape'],
    [{ cellKey: { histogramGrid: { '%': 1 } } }, 'cellKey.histogramGrid'],
    [{ cellKey: { histogramGrid: { '*': 10, '%': 0 } } }, 'cellKey.histogramGrid.%'],
    [{ rounding: 0 }, 'rounding'],
    [{ summary: { minN: 5 } }, 'summary.minN'],
    [{ summary: { dominance: 0.9 } }, 'summary.dominance'],
    [{ summary: { bounds: [{ unit: '%', min: 5, max: 5 }] } }, 'summary.bounds.0.max'],
    [
      {
        summary: {
          bounds: [
            { unit: '%', min: 0, max: 1 },
            { unit: 'kg', min: 300, max: 0 },
          ],
        },
      },
      'summary.bounds.1.max',
    ],
    [{ summary: { bounds: [{ unit: '%', min: 0 }] } }, 'summary.bounds.0'],
    [{ suppressZero: false }, 'suppressZero'],
    [{ laplace: { epsilon: 0 } }, 'laplace.epsilon'],
    [{ laplace: { epsilon: 0.001 } }, 'laplace.epsilon'],
    [{ laplace: { delta: 0 } }, 'laplace.delta'],
    [{ laplace: { delta: 0.01 } }, 'laplace.delta'],
    // Within the schema's ranges, but beyond what 53-bit uniforms can realise
    // (budgets of at least epsilon, so that only delta is wrong).
    [
      { laplace: { epsilon: 10, delta: 1e-12, projectBudget: 10, researcherBudget: 10 } },
      'laplace.delta',
    ],
    [{ laplace: { confidence: 1 } }, 'laplace.confidence'],
    [{ laplace: { periodDays: 0 } }, 'laplace.periodDays'],
    [{ laplace: { budget: 10 } }, 'laplace.budget'],
    [{ laplace: { projectBudget: 0.1 } }, 'laplace.projectBudget'],
    [{ laplace: { epsilon: 2, researcherBudget: 1 } }, 'laplace.researcherBudget'],
    [{ laplace: { researcherBudget: 30 } }, 'laplace.researcherBudget'],
    [{ laplace: { projectBudget: 5, researcherBudget: 6 } }, 'laplace.researcherBudget'],
    [{ repeatLimit: { count: 0 } }, 'repeatLimit.count'],
    [{ unknown: true }, 'unknown'],
    [{ threshold: Number.NaN }, 'threshold'],
    [{ laplace: { projectBudget: Infinity } }, 'laplace.projectBudget'],
    [{ repeatLimit: { windowSeconds: Infinity } }, 'repeatLimit.windowSeconds'],
  ])('refuses %j with an error naming %s', (json, key) => {
    const problem = problemOf(() => loadPolicy(json, { allowOpen: false }));
    expect(problem.code).toBe('ERR_POLICY_INVALID');
    expect(problem.message.startsWith(`${key}:`)).toBe(true);
    expect(problem.pointer).toBe(`/${key.replaceAll('.', '/')}`);
  });

  it('refuses prototype keys and non-JSON values', () => {
    expect(
      problemOf(() => loadPolicy(JSON.parse('{"__proto__":{}}'), { allowOpen: false })).code,
    ).toBe('ERR_POLICY_INVALID');
    expect(
      problemOf(() => loadPolicy({ threshold: () => 3 }, { allowOpen: false })).message,
    ).toMatch(/^threshold:/);
    expect(problemOf(() => loadPolicy(null, { allowOpen: false })).message).toMatch(/^policy:/);
  });

  it('refuses the open policy unless allowed, in either spelling', () => {
    expect(problemOf(() => loadPolicy({ mechanism: 'none' }, { allowOpen: false })).code).toBe(
      'ERR_OPEN_POLICY_REFUSED',
    );
    expect(problemOf(() => loadPolicy('open', { allowOpen: false })).code).toBe(
      'ERR_OPEN_POLICY_REFUSED',
    );
    expect(loadPolicy('open', { allowOpen: true }).mechanism).toBe('none');
  });
});

describe('policy query limits', () => {
  const cohort = { patient: { gender: ['female'] } };

  it('carries maxStrata and maxDimensionCodes into the query limits', () => {
    const policy = loadPolicy({ maxStrata: 30, maxDimensionCodes: 3 }, { allowOpen: false });
    expect(policyQueryLimits(policy)).toMatchObject({ maxStrata: 30, maxDimensionCodes: 3 });
    const query = parseQuery({
      version: 1,
      cohort,
      stratify: ['gender', { ageBand: [0, 18, 40, 65, 80, 90, 100, 110] }],
    });
    expect(() => checkStrataLimits(query, policy)).toThrow(/32 strata exceed the maximum of 30/);
  });
});

const loinc = (code: string): CodeSet => [{ system: 'http://loinc.org', code }];
const glucose = 'http://loinc.org|2345-7';

function queryWith(measures: CohortQuery['measures']): CohortQuery {
  return parseQuery({ version: 1, cohort: { patient: { gender: ['female'] } }, measures });
}

describe('summaryBoundsFor', () => {
  const policy = laplacePolicy({
    summary: {
      bounds: [
        { unit: 'mg/dL', code: glucose, min: 40, max: 400 },
        { unit: 'mg/dL', min: 0, max: 1000 },
        { unit: '%', min: 0, max: 100 },
      ],
    },
  });

  it('one entry per measure: undefined for counts and histograms, the unit bounds for a summary', () => {
    const query = queryWith([
      { count: 'patients' },
      { histogram: { observation: loinc('4548-4'), unit: '%', edges: [0, 6.5] } },
      { summary: { observation: loinc('4548-4'), unit: '%' } },
    ]);
    expect(summaryBoundsFor(query, policy)).toEqual([undefined, undefined, { min: 0, max: 100 }]);
    expect(summaryBoundsFor({}, policy)).toEqual([]);
  });

  it('a code-specific entry applies only to a summary over exactly that one code', () => {
    const single = queryWith([{ summary: { observation: loinc('2345-7'), unit: 'mg/dL' } }]);
    expect(summaryBoundsFor(single, policy)).toEqual([{ min: 40, max: 400 }]);
    const two = queryWith([
      { summary: { observation: [...loinc('2345-7'), ...loinc('2339-0')], unit: 'mg/dL' } },
    ]);
    expect(summaryBoundsFor(two, policy)).toEqual([{ min: 0, max: 1000 }]);
    const other = queryWith([{ summary: { observation: loinc('2339-0'), unit: 'mg/dL' } }]);
    expect(summaryBoundsFor(other, policy)).toEqual([{ min: 0, max: 1000 }]);
  });

  it('matches the unit exactly; no entry for the unit: undefined (mean and sd withheld)', () => {
    const query = queryWith([
      { summary: { observation: loinc('2345-7'), unit: 'mmol/L' } },
      { summary: { observation: loinc('2345-7'), unit: 'MG/DL' } },
    ]);
    expect(summaryBoundsFor(query, policy)).toEqual([undefined, undefined]);
    // The code alone never matches an entry for another unit.
    const onlyCode = laplacePolicy({
      summary: { bounds: [{ unit: 'mg/dL', code: glucose, min: 40, max: 400 }] },
    });
    expect(
      summaryBoundsFor(
        queryWith([{ summary: { observation: loinc('2345-7'), unit: 'mmol/L' } }]),
        onlyCode,
      ),
    ).toEqual([undefined]);
  });

  it('returns plain bounds, not the frozen policy entries', () => {
    const [bounds] = summaryBoundsFor(
      queryWith([{ summary: { observation: loinc('2345-7'), unit: 'mg/dL' } }]),
      policy,
    );
    expect(Object.keys(bounds!).sort()).toEqual(['max', 'min']);
  });
});

describe('checkHistogramGrid', () => {
  const histogram = (unit: string, edges: [number, number, ...number[]]): Measure => ({
    histogram: { observation: loinc('4548-4'), unit, edges },
  });

  function refusal(fn: () => void): ProblemError {
    return problemOf(fn);
  }

  it('cell-key: an edge off the grid for its unit is refused with a pointer to the edge', () => {
    const query = queryWith([{ count: 'patients' }, histogram('%', [0, 5, 6.5, 8])]);
    const problem = refusal(() => checkHistogramGrid(query, cellKeyPolicy()));
    expect(problem).toMatchObject({
      code: 'ERR_QUERY_INVALID',
      status: 400,
      pointer: '/measures/1/histogram/edges/2',
    });
    expect(problem.message).toMatch(/multiples of 1/);
    expect(() =>
      checkHistogramGrid(
        queryWith([{ count: 'patients' }, histogram('%', [0, 5, 6, 8])]),
        cellKeyPolicy(),
      ),
    ).not.toThrow();
  });

  it('cell-key: the pointer takes the caller prefix', () => {
    const query = queryWith([histogram('%', [0.5, 1])]);
    expect(refusal(() => checkHistogramGrid(query, cellKeyPolicy(), '/query')).pointer).toBe(
      '/query/measures/0/histogram/edges/0',
    );
  });

  it("cell-key: units not listed fall back to '*' (10 by default), also for names of Object members", () => {
    const policy = cellKeyPolicy();
    expect(() =>
      checkHistogramGrid(queryWith([histogram('mg/dL', [0, 100, 130])]), policy),
    ).not.toThrow();
    expect(
      refusal(() => checkHistogramGrid(queryWith([histogram('mg/dL', [0, 100, 126])]), policy))
        .pointer,
    ).toBe('/measures/0/histogram/edges/2');
    for (const unit of ['constructor', 'toString', '__proto__']) {
      expect(() => checkHistogramGrid(queryWith([histogram(unit, [0, 10])]), policy)).not.toThrow();
      expect(() => checkHistogramGrid(queryWith([histogram(unit, [0, 15])]), policy)).toThrow(
        /multiples of 10/,
      );
    }
  });

  it('cell-key: decimal steps such as 0.1 accept edges written in decimal', () => {
    const policy = cellKeyPolicy({ cellKey: { histogramGrid: { '*': 10, 'mmol/L': 0.1 } } });
    expect(() =>
      checkHistogramGrid(
        queryWith([histogram('mmol/L', [-0.3, 0.1, 0.3, 0.7, 1.1, 5.6, 6.9, 7, 11.1])]),
        policy,
      ),
    ).not.toThrow();
    expect(
      refusal(() => checkHistogramGrid(queryWith([histogram('mmol/L', [0.1, 0.15])]), policy))
        .pointer,
    ).toBe('/measures/0/histogram/edges/1');
  });

  it('cell-key: an edge a hair off the grid is refused, not used as it is', () => {
    // Edges 120 and 120.000001 differ only for a patient whose value is exactly
    // 120: accepting the second finds that patient out, which the grid exists to prevent.
    const policy = cellKeyPolicy();
    for (const edge of [120.000001, 119.999995, 120.000009]) {
      expect(() => checkHistogramGrid(queryWith([histogram('mg/dL', [0, edge])]), policy)).toThrow(
        /multiples of 10/,
      );
    }
  });

  it('laplace and the open policy accept any edges', () => {
    const query = queryWith([histogram('%', [0, 5.7, 6.5, 6.51]), histogram('mg/dL', [0, 126.3])]);
    expect(() => checkHistogramGrid(query, policyOf())).not.toThrow();
    expect(() => checkHistogramGrid(query, policyOf({ mechanism: 'none' }))).not.toThrow();
  });
});
