import { describe, expect, it } from 'vitest';
import type { RawResult } from '../engine/raw-result.ts';
import { COUNT_MAX } from './laplace-release.ts';
import { protect } from './protect.ts';
import { NO_RANDOM, cell, policyOf, seeded } from './test-support.ts';

const byGender = (total: number, counts: readonly number[]): RawResult => ({
  total: cell(total, 1),
  strata: (['female', 'male', 'other', 'unknown'] as const).map((gender, i) => ({
    key: { gender },
    cell: cell(counts[i]!, 1000 + i),
  })),
  overlapping: false,
  measures: [{ type: 'count' }],
});

describe('protect', () => {
  // Query-language page, example 3: prediabetes by gender on the 10-patient fixture.
  const example = byGender(5, [4, 1, 0, 0]);

  it('open policy: the true counts, as the query-language page states', () => {
    const out = protect(example, policyOf({ mechanism: 'none' }), NO_RANDOM);
    expect(out.total).toEqual({ count: 5 });
    expect(out.strata.map((s) => s.cell)).toEqual([
      { count: 4 },
      { count: 1 },
      { count: 0 },
      { count: 0 },
    ]);
    expect(out.disclosure).toEqual({ threshold: 1, mechanism: 'none', maxNoise: 0, rounding: 1 });
  });

  it('default policy: total, female and male suppressed (1 to 9), empty strata released as 0', () => {
    const out = protect(example, policyOf(), NO_RANDOM);
    const small = { suppressed: true, range: [1, 9] };
    expect(out.total).toEqual(small);
    expect(out.strata.map((s) => s.cell)).toEqual([small, small, { count: 0 }, { count: 0 }]);
    expect(out.strata.map((s) => s.key)).toEqual(example.strata.map((s) => s.key));
    expect(out.measures).toEqual([{ type: 'count' }]);
    expect(out.overlapping).toBe(false);
    expect(out.disclosure).toEqual({
      threshold: 10,
      mechanism: 'cell-key',
      maxNoise: 2,
      rounding: 1,
      suppressZero: false,
      secondarySuppression: true,
    });
  });

  it('marks every noisy count perturbed, even when the noise drawn is zero', () => {
    // Count exactly at the threshold: its row is all zero noise.
    const out = protect(byGender(40, [10, 10, 10, 10]), policyOf(), NO_RANDOM);
    expect(out.strata.map((s) => s.cell)).toEqual(Array(4).fill({ count: 10, perturbed: true }));
  });

  it('suppressZero: zeros and small counts share the range [0, threshold-1]', () => {
    const out = protect(byGender(60, [5, 0, 25, 30]), policyOf({ suppressZero: true }), NO_RANDOM);
    expect(out.strata[0]!.cell).toEqual({ suppressed: true, range: [0, 9] });
    expect(out.strata[1]!.cell).toEqual({ suppressed: true, range: [0, 9] });
  });

  it('rounds after noise and never below the threshold', () => {
    const policy = policyOf({ rounding: 5, threshold: 11 });
    for (let key = 0; key < 256; key++) {
      const out = protect(
        { ...byGender(0, [0, 0, 0, 0]), total: cell(11, key) },
        policy,
        NO_RANDOM,
      );
      const total = out.total as { count: number };
      expect(total.count % 5).toBe(0);
      expect(total.count).toBeGreaterThanOrEqual(15);
      expect(Math.abs(total.count - 11)).toBeLessThanOrEqual(2 + 5 - 1);
    }
  });

  it('secondary ranges run from 0 to the released total plus its noise bound', () => {
    const out = protect(byGender(75, [5, 40, 0, 30]), policyOf(), NO_RANDOM);
    const total = out.total as { count: number };
    expect(out.strata[3]!.cell).toEqual({ suppressed: true, range: [0, total.count + 2] });
  });

  it('laplace: noise from the injected source, bounded at the stated confidence', () => {
    const policy = policyOf({ mechanism: 'laplace', laplace: { epsilon: 1, confidence: 0.95 } });
    const raw = byGender(500, [100, 200, 150, 50]);
    const a = protect(raw, policy, { random: seeded(1) });
    const b = protect(raw, policy, { random: seeded(1) });
    const c = protect(raw, policy, { random: seeded(2) });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.disclosure).toMatchObject({
      mechanism: 'laplace',
      epsilon: 1,
      confidence: 0.95,
      maxNoise: 3,
    });
  });

  it('laplace: overlapping codes strata get noise scaled to the codes a patient can be in', () => {
    const policy = policyOf({ mechanism: 'laplace', laplace: { epsilon: 1, confidence: 0.95 } });
    const raw: RawResult = {
      total: cell(100),
      strata: ['a', 'b', 'c'].map((code) => ({
        key: { codes: `http://x|${code}` },
        cell: cell(50),
      })),
      overlapping: true,
      measures: [],
    };
    // scale 3 / 1, bound ceil(3 ln 20) = 9
    expect(protect(raw, policy, { random: seeded(3) }).disclosure.maxNoise).toBe(9);
  });

  it('passes histogram bins through with their edges', () => {
    const raw: RawResult = {
      total: cell(100),
      strata: [],
      overlapping: false,
      measures: [
        {
          type: 'histogram',
          unit: '%',
          bins: [
            { from: 0, to: 5.7, cell: cell(40, 1) },
            { from: 5.7, cell: cell(50, 2) },
          ],
          missing: cell(10, 3),
        },
      ],
    };
    const out = protect(raw, policyOf({ mechanism: 'none' }), NO_RANDOM);
    expect(out.measures).toEqual([
      {
        type: 'histogram',
        unit: '%',
        bins: [
          { from: 0, to: 5.7, cell: { count: 40 } },
          { from: 5.7, cell: { count: 50 } },
        ],
        missing: { count: 10 },
      },
    ]);
  });

  it('clamps to the largest count the schema carries', () => {
    const out = protect(byGender(COUNT_MAX, [0, 0, 0, 0]), policyOf({ rounding: 1 }), NO_RANDOM);
    expect((out.total as { count: number }).count).toBeLessThanOrEqual(COUNT_MAX);
  });
});
