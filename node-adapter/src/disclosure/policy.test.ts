import { describe, expect, it } from 'vitest';
import { ProblemError, isValid, parseQuery, schemaIds } from '@tessera/schemas';
import { checkStrataLimits, loadPolicy, policyQueryLimits } from './policy.ts';

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
  it('fills in every default from the schema and freezes the result', () => {
    const policy = loadPolicy({}, { allowOpen: false });
    expect(policy).toEqual({
      mechanism: 'cell-key',
      threshold: 10,
      suppressZero: false,
      rounding: 1,
      secondarySuppression: true,
      maxStrata: 200,
      maxDimensionCodes: 50,
      cellKey: { maxNoise: 2, table: 'triangular' },
      laplace: { epsilon: 0.5, budget: 10, periodDays: 30, confidence: 0.95 },
      summary: { minN: 10, dominance: 0.9 },
      repeatLimit: { count: 100, windowSeconds: 3600 },
    });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.cellKey)).toBe(true);
  });

  it('keeps given values, fills the rest, and does not touch its input', () => {
    const input = { threshold: 11, cellKey: { maxNoise: 3 }, summary: { dominance: 0.8 } };
    const policy = loadPolicy(input, { allowOpen: false });
    expect(policy.threshold).toBe(11);
    expect(policy.cellKey).toEqual({ maxNoise: 3, table: 'triangular' });
    expect(policy.summary).toEqual({ minN: 11, dominance: 0.8 });
    expect(input).toEqual({ threshold: 11, cellKey: { maxNoise: 3 }, summary: { dominance: 0.8 } });
  });

  it('the schema itself accepts an empty policy and the filled-in one', () => {
    expect(isValid(schemaIds.nodePolicy, {})).toBe(true);
    expect(isValid(schemaIds.nodePolicy, loadPolicy({}, { allowOpen: false }))).toBe(true);
  });

  it.each([
    [{ threshold: 1 }, 'threshold'],
    [{ threshold: 2.5 }, 'threshold'],
    [{ mechanism: 'noise' }, 'mechanism'],
    [{ cellKey: { maxNoise: 0 } }, 'cellKey.maxNoise'],
    [{ cellKey: { shape: 'x' } }, 'cellKey.shape'],
    [{ rounding: 0 }, 'rounding'],
    [{ summary: { dominance: 1.5 } }, 'summary.dominance'],
    [{ summary: { minN: 5 } }, 'summary.minN'],
    [{ laplace: { epsilon: 2, budget: 1 } }, 'laplace.budget'],
    [{ repeatLimit: { count: 0 } }, 'repeatLimit.count'],
    [{ unknown: true }, 'unknown'],
    [{ threshold: Number.NaN }, 'threshold'],
    [{ repeatLimit: { windowSeconds: Infinity } }, 'repeatLimit.windowSeconds'],
  ])('refuses %j with an error naming %s', (json, key) => {
    const problem = problemOf(() => loadPolicy(json, { allowOpen: false }));
    expect(problem.code).toBe('ERR_POLICY_INVALID');
    expect(problem.message.startsWith(`${key}:`)).toBe(true);
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
