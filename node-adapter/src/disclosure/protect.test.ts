import { describe, expect, it } from 'vitest';
import type { RawResult } from '../engine/raw-result.ts';
import { halfWidth } from './discrete-laplace.ts';
import { COUNT_MAX, laplaceDistributions } from './laplace-release.ts';
import { protect } from './protect.ts';
import {
  NO_NOISE,
  cell,
  cellKeyPolicy,
  countOf,
  policyOf,
  queryHashOf,
  releaseContext,
} from '../../test/support/disclosure.ts';

const byGender = (total: number, counts: readonly number[]): RawResult => ({
  total: cell(total, 1),
  strata: (['female', 'male', 'other', 'unknown'] as const).map((gender, i) => ({
    key: { gender },
    cell: cell(counts[i]!, 1000 + i),
  })),
  overlapping: false,
  measures: [{ type: 'count' }],
});

// Query-language page, example 3: prediabetes by gender on the 10-patient fixture.
const example = byGender(5, [4, 1, 0, 0]);

describe('protect: open policy', () => {
  it('the true counts, as the query-language page states', () => {
    const out = protect(example, policyOf({ mechanism: 'none' }), NO_NOISE);
    expect(out.total).toEqual({ count: 5 });
    expect(out.strata.map((s) => s.cell)).toEqual([
      { count: 4 },
      { count: 1 },
      { count: 0 },
      { count: 0 },
    ]);
    expect(out.disclosure).toEqual({ threshold: 1, mechanism: 'none', maxNoise: 0, rounding: 1 });
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
    const out = protect(raw, policyOf({ mechanism: 'none' }), NO_NOISE);
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
});

describe('protect: default policy (laplace)', () => {
  const policy = policyOf();
  // The default count noise: bound 75 and half-width 12 at 95 % (epsilon 0.25).
  const dist = laplaceDistributions(policy).count;
  const bound = dist.bound;
  const half = halfWidth(dist, policy.laplace.confidence);
  const T = policy.threshold;

  it('every cell of the example is small: each suppressed with the same range and interval', () => {
    const out = protect(example, policy, releaseContext(policy, { queryHash: queryHashOf(3) }));
    const cells = [out.total, ...out.strata.map((s) => s.cell)];
    for (const c of cells) {
      if ('count' in c) {
        // Noise may lift a small count over the threshold, never below it.
        expect(c.count).toBeGreaterThanOrEqual(T);
      } else {
        expect(c).toEqual({
          suppressed: true,
          range: [0, T - 1 + bound],
          interval: [0, T - 1 + half],
        });
      }
    }
    expect(out.strata.map((s) => s.key)).toEqual(example.strata.map((s) => s.key));
    expect(out.disclosure).toMatchObject({ mechanism: 'laplace', maxNoise: bound });
  });

  it('overlapping codes strata: the same per-count noise (the cost pays for the overlap)', () => {
    const raw: RawResult = {
      total: cell(100),
      strata: ['a', 'b', 'c'].map((code) => ({
        key: { codes: `http://x|${code}` },
        cell: cell(50),
      })),
      overlapping: true,
      measures: [],
    };
    const out = protect(raw, policy, releaseContext(policy));
    expect(out.overlapping).toBe(true);
    expect(out.disclosure.maxNoise).toBe(bound);
    for (const s of out.strata) expect(Math.abs(countOf(s.cell)! - 50)).toBeLessThanOrEqual(bound);
  });

  it('clamps to the largest count the schema carries', () => {
    const out = protect(byGender(COUNT_MAX, [0, 0, 0, 0]), policy, releaseContext(policy));
    expect(countOf(out.total)).toBeLessThanOrEqual(COUNT_MAX);
    expect(out.total.range![1]).toBeLessThanOrEqual(COUNT_MAX);
  });
});

describe('protect: cell-key policy', () => {
  const policy = cellKeyPolicy();

  it('the example: every count below the threshold, zeros included, suppressed with range [0, 9]', () => {
    const out = protect(example, policy, NO_NOISE);
    const small = { suppressed: true, range: [0, 9] };
    expect(out.total).toEqual(small);
    expect(out.strata.map((s) => s.cell)).toEqual([small, small, small, small]);
    expect(out.strata.map((s) => s.key)).toEqual(example.strata.map((s) => s.key));
    expect(out.measures).toEqual([{ type: 'count' }]);
    expect(out.overlapping).toBe(false);
    expect(out.disclosure).toEqual({
      threshold: 10,
      mechanism: 'cell-key',
      maxNoise: 2,
      rounding: 1,
      suppressZero: true,
      secondarySuppression: true,
    });
  });

  it('marks every noisy count perturbed, even when the noise drawn is zero', () => {
    // Count exactly at the threshold: its row is all zero noise.
    const out = protect(byGender(40, [10, 10, 10, 10]), policy, NO_NOISE);
    expect(out.strata.map((s) => s.cell)).toEqual(Array(4).fill({ count: 10, perturbed: true }));
  });

  it('zeros and small counts share the range [0, threshold-1]', () => {
    const out = protect(byGender(60, [5, 0, 25, 30]), policy, NO_NOISE);
    expect(out.strata[0]!.cell).toEqual({ suppressed: true, range: [0, 9] });
    expect(out.strata[1]!.cell).toEqual({ suppressed: true, range: [0, 9] });
    expect(out.strata[2]!.cell).toMatchObject({ perturbed: true });
  });

  it('rounds after noise and never below the threshold', () => {
    const rounded = cellKeyPolicy({ rounding: 5, threshold: 11 });
    for (let key = 0; key < 256; key++) {
      const out = protect(
        { ...byGender(0, [0, 0, 0, 0]), total: cell(11, key) },
        rounded,
        NO_NOISE,
      );
      const total = countOf(out.total)!;
      expect(total % 5).toBe(0);
      expect(total).toBeGreaterThanOrEqual(15);
      expect(Math.abs(total - 11)).toBeLessThanOrEqual(2 + 5 - 1);
    }
  });

  it('a lone small cell takes a partner; the partner range runs from 0 to the released total plus its noise bound', () => {
    const out = protect(byGender(85, [5, 40, 10, 30]), policy, NO_NOISE);
    const total = countOf(out.total)!;
    expect(out.strata[0]!.cell).toEqual({ suppressed: true, range: [0, 9] });
    expect(out.strata[2]!.cell).toEqual({ suppressed: true, range: [0, total + 2] });
    expect(out.strata[1]!.cell).toMatchObject({ perturbed: true });
    expect(out.strata[3]!.cell).toMatchObject({ perturbed: true });
  });

  it('two small cells (a zero among them) need no partner', () => {
    const out = protect(byGender(75, [5, 40, 0, 30]), policy, NO_NOISE);
    expect(out.strata.map((s) => 'suppressed' in s.cell)).toEqual([true, false, true, false]);
  });

  it('clamps to the largest count the schema carries', () => {
    const out = protect(
      byGender(COUNT_MAX, [0, 0, 0, 0]),
      cellKeyPolicy({ rounding: 1 }),
      NO_NOISE,
    );
    expect(countOf(out.total)).toBeLessThanOrEqual(COUNT_MAX);
  });
});
