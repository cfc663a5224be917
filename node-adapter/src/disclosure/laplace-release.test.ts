// The default mechanism (laplace) through protect: keyed discrete Laplace
// noise on every count, thresholding on the noisy count, the stated range and
// interval, and summaries from noisy clamped sums.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Cell } from '@tessera/schemas';
import type { RawCell, RawResult } from '../engine/raw-result.ts';
import type { SummaryBounds } from '../engine/bounds.ts';
import { discreteLaplace, halfWidth, probabilityOf } from './discrete-laplace.ts';
import { COUNT_MAX } from './laplace-release.ts';
import type { NodePolicy } from './policy.ts';
import { protect } from './protect.ts';
import {
  type TestRelease,
  cell,
  cellKeyPolicy,
  countOf,
  laplacePolicy,
  lone,
  meanErrorSd,
  policyOf,
  queryHashOf,
  releaseContext,
  seeded,
  strataKeys,
  summaryOf,
} from '../../test/support/disclosure.ts';

const policy = policyOf(); // the default policy: laplace
const T = policy.threshold;
const DIST = discreteLaplace(policy.laplace.epsilon, policy.laplace.delta);
const BOUND = DIST.bound; // 75 at the default epsilon 0.25
const HALF = halfWidth(DIST, policy.laplace.confidence); // 12 at 95 %
const SUPPRESSED: Cell = {
  suppressed: true,
  range: [0, T - 1 + BOUND],
  interval: [0, T - 1 + HALF],
};

function release(raw: RawResult, p: NodePolicy = policy, id: TestRelease = {}) {
  return protect(raw, p, releaseContext(p, id));
}

/** The released total of a lone count in release `i` (its own query hash). */
function totalAt(count: number | RawCell, i: number | string, p: NodePolicy = policy): Cell {
  const raw = typeof count === 'number' ? cell(count) : count;
  return release(lone(raw), p, { queryHash: queryHashOf(i) }).total;
}

/** The stated hard bound and interval half-width of a policy, rounding slack included. */
function promises(p: NodePolicy) {
  const dist = discreteLaplace(p.laplace.epsilon, p.laplace.delta);
  return {
    hard: dist.bound + p.rounding - 1,
    likely: halfWidth(dist, p.laplace.confidence) + p.rounding - 1,
  };
}

/** The default policy, loaded afresh (a restarted node). */
function loadAgain(): NodePolicy {
  return policyOf({});
}

const clamp = (n: number) => Math.min(COUNT_MAX, Math.max(0, n));

/** P(noise >= k) under the default policy. */
function noiseAtLeast(k: number): number {
  let p = 0;
  for (let j = k; j <= DIST.bound; j++) p += probabilityOf(DIST, j);
  return p;
}

/**
 * `hits` out of `trials` is a rate of p, give or take 4.5 binomial standard
 * deviations: a chance miss has odds of about 1 in 150,000.
 */
function expectRate(hits: number, trials: number, p: number): void {
  const sd = Math.sqrt((p * (1 - p)) / trials);
  expect(Math.abs(hits / trials - p)).toBeLessThan(4.5 * sd);
}

const policyArb: fc.Arbitrary<NodePolicy> = fc
  .record({
    threshold: fc.integer({ min: 2, max: 30 }),
    rounding: fc.constantFrom(1, 1, 2, 5, 10),
    laplace: fc.record({
      epsilon: fc.constantFrom(0.1, 0.5, 1, 2),
      delta: fc.constantFrom(1e-9, 1e-6),
      confidence: fc.constantFrom(0.8, 0.95, 0.99),
    }),
  })
  .map((p) => laplacePolicy(p));

const releaseArb: fc.Arbitrary<TestRelease> = fc.record({
  queryHash: fc.string({ maxLength: 20 }),
  dataVersion: fc.string({ maxLength: 20 }),
});

const countArb = fc.oneof(
  fc.integer({ min: 0, max: 60 }),
  fc.integer({ min: 0, max: 5000 }),
  fc.integer({ min: COUNT_MAX - 100, max: COUNT_MAX }),
);

describe('laplace counts', () => {
  it('states its mechanism and parameters in every answer', () => {
    expect(release(lone(cell(120))).disclosure).toEqual({
      threshold: 10,
      mechanism: 'laplace',
      maxNoise: BOUND,
      rounding: 1,
      epsilon: policy.laplace.epsilon,
      delta: 1e-9,
      confidence: 0.95,
      suppressZero: true,
      secondarySuppression: false,
    });
  });

  it('every released count reaches the threshold (and is a multiple of the rounding)', () => {
    fc.assert(
      fc.property(policyArb, countArb, releaseArb, (p, count, id) => {
        const out = release(lone(cell(count)), p, id).total;
        if ('count' in out) {
          expect(out.count).toBeGreaterThanOrEqual(p.threshold);
          if (out.count < COUNT_MAX) expect(out.count % p.rounding).toBe(0);
          expect(out.perturbed).toBe(true);
        } else {
          expect(out).toEqual({
            suppressed: true,
            range: [0, p.threshold - 1 + promises(p).hard],
            interval: [0, p.threshold - 1 + promises(p).likely],
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a released cell carries its range, which always contains the true count, and its interval inside it', () => {
    fc.assert(
      fc.property(policyArb, countArb, releaseArb, (p, count, id) => {
        const out = release(lone(cell(count)), p, id).total;
        const { hard, likely } = promises(p);
        expect(out.range![0]).toBeLessThanOrEqual(count);
        expect(out.range![1]).toBeGreaterThanOrEqual(count);
        if (!('count' in out)) return;
        expect(out.range).toEqual([clamp(out.count - hard), clamp(out.count + hard)]);
        expect(out.interval).toEqual([clamp(out.count - likely), clamp(out.count + likely)]);
        expect(Math.abs(out.count - count)).toBeLessThanOrEqual(hard);
      }),
      { numRuns: 1000 },
    );
  });

  it('suppressed cells: [0, threshold-1+bound], and the interval [0, threshold-1+half-width]', () => {
    expect(totalAt(0, 'zero')).toEqual(SUPPRESSED);
    expect(SUPPRESSED).toEqual({ suppressed: true, range: [0, 84], interval: [0, 21] });
    const rounded = laplacePolicy({ threshold: 11, rounding: 5 });
    expect(totalAt(0, 'zero', rounded)).toEqual({
      suppressed: true,
      range: [0, 10 + BOUND + 4],
      interval: [0, 10 + HALF + 4],
    });
  });

  it.each([0.95, 0.8])(
    'the interval contains the true count in at least %s of releases, and is no wider than it must be',
    (confidence) => {
      const p = laplacePolicy({ laplace: { confidence } });
      const h = promises(p).likely;
      let inside = 0;
      let insideNarrower = 0;
      const releases = confidence === 0.95 ? 20_000 : 8000;
      for (let i = 0; i < releases; i++) {
        const count = 50 + (i % 450);
        const out = totalAt(count, i, p);
        if (!('count' in out)) throw new Error('a count of 50 or more is always released');
        if (out.interval![0] <= count && count <= out.interval![1]) inside += 1;
        if (Math.abs(out.count - count) <= h - 1) insideNarrower += 1;
      }
      expect(inside / releases).toBeGreaterThanOrEqual(confidence - 0.005);
      expect(insideNarrower / releases).toBeLessThan(confidence);
    },
  );

  it('true zeros are noised: some are released above a small threshold, as often as the noise says', () => {
    const low = laplacePolicy({ threshold: 2 });
    const releases = 4000;
    let released = 0;
    for (let i = 0; i < releases; i++) {
      const out = totalAt(0, i, low);
      if ('count' in out) {
        released += 1;
        expect(out.count).toBeGreaterThanOrEqual(2);
        expect(out.range![0]).toBe(0);
      }
    }
    // P(noise >= 2) = a^2 / (1 + a) with a = e^-epsilon: 0.341 at epsilon 0.25.
    expectRate(released, releases, noiseAtLeast(2));

    // At the default threshold too, now and then: P(noise >= 10) = 0.046.
    let atDefault = 0;
    const defaults = 5000;
    for (let i = 0; i < defaults; i++) if ('count' in totalAt(0, `default ${i}`)) atDefault += 1;
    expectRate(atDefault, defaults, noiseAtLeast(T));
  });

  it('small counts are not told from zero: the same suppressed cell, outcome odds within e^epsilon', () => {
    const releases = 1500;
    const outcomes = (count: number) => {
      const freq = new Map<string, number>();
      for (let i = 0; i < releases; i++) {
        const out = totalAt(count, i);
        if ('suppressed' in out) expect(out).toEqual(SUPPRESSED);
        const id = JSON.stringify(out);
        freq.set(id, (freq.get(id) ?? 0) + 1);
      }
      return freq;
    };
    const zero = outcomes(0);
    const one = outcomes(1);
    const suppressed = JSON.stringify(SUPPRESSED);
    // The same release key draws the same noise: only the count moves the answer.
    const ratio = one.get(suppressed)! / zero.get(suppressed)!;
    expect(ratio).toBeLessThanOrEqual(1);
    expect(ratio).toBeGreaterThan(Math.exp(-policy.laplace.epsilon));
  });

  it.each([
    ['NaN', cell(Number.NaN)],
    ['-1', cell(-1)],
    ['1e12', cell(1e12)],
    ['2.5', cell(2.5)],
    ['Infinity', cell(Infinity)],
    ['beyond the safe integers', cell(Number.MAX_SAFE_INTEGER + 2)],
    ['a cell key that is not 32 bits', { count: 500, cellKey: 2 ** 32 }],
  ])('an invalid count (%s) gives exactly the suppressed cell', (_name, bad) => {
    for (let i = 0; i < 200; i++) expect(totalAt(bad, i)).toEqual(SUPPRESSED);
  });

  it('the same release key gives the identical answer; a new data version, query or key gives new noise', () => {
    const raw: RawResult = {
      total: cell(4000),
      strata: strataKeys(['gender']).map((key, i) => ({
        key,
        cell: cell([1500, 1400, 600, 500][i]!),
      })),
      overlapping: false,
      measures: [{ type: 'count' }],
    };
    const id = { queryHash: queryHashOf('q'), dataVersion: 'v1' };
    const first = release(raw, policy, id);
    expect(release(raw, loadAgain(), { ...id })).toEqual(first);
    const noiseOf = (out: ReturnType<typeof release>) => [
      countOf(out.total)! - 4000,
      ...out.strata.map((s, i) => countOf(s.cell)! - [1500, 1400, 600, 500][i]!),
    ];
    for (const other of [
      { ...id, dataVersion: 'v2' },
      { ...id, queryHash: queryHashOf('q2') },
      { ...id, key: new Uint8Array(32).fill(9) },
    ]) {
      expect(noiseOf(release(raw, policy, other))).not.toEqual(noiseOf(first));
    }
    // Other noise parameters are another noise id: other draws too.
    const otherParams = laplacePolicy({ laplace: { delta: 1e-8 } });
    expect(noiseOf(release(raw, otherParams, id))).not.toEqual(noiseOf(first));
  });

  it('each cell of a release draws its own noise', () => {
    const bins = Array.from({ length: 40 }, (_, b) => ({ from: b, to: b + 1, cell: cell(1000) }));
    const out = release(
      lone(cell(40_000), [{ type: 'histogram', unit: 'mg/dL', bins, missing: cell(0) }]),
    ).measures[0]!;
    if (out.type !== 'histogram') throw new Error('expected a histogram');
    const noises = new Set(out.bins.map((b) => countOf(b.cell)! - 1000));
    expect(noises.size).toBeGreaterThan(8);
  });

  it('large counts are released: 2000 every time, and the largest count the schema carries', () => {
    for (let i = 0; i < 500; i++) {
      const out = totalAt(2000, i);
      expect(out).toMatchObject({ perturbed: true });
      expect(Math.abs(countOf(out)! - 2000)).toBeLessThanOrEqual(BOUND);
    }
    for (let i = 0; i < 50; i++) {
      const out = totalAt(COUNT_MAX, i);
      expect(countOf(out)).toBeLessThanOrEqual(COUNT_MAX);
      expect(countOf(out)).toBeGreaterThanOrEqual(COUNT_MAX - BOUND);
      expect(out.range![1]).toBe(COUNT_MAX);
    }
  });

  it('needs no secondary suppression: a small cell beside a released total hides only itself', () => {
    for (let i = 0; i < 200; i++) {
      const out = release(
        {
          total: cell(705),
          strata: strataKeys(['gender']).map((key, j) => ({
            key,
            cell: cell([5, 400, 0, 300][j]!),
          })),
          overlapping: false,
          measures: [],
        },
        policy,
        { queryHash: queryHashOf(i) },
      );
      expect(out.total).toMatchObject({ perturbed: true });
      expect(out.strata[1]!.cell).toMatchObject({ perturbed: true });
      expect(out.strata[3]!.cell).toMatchObject({ perturbed: true });
    }
  });

  it('every draw of a release has its own position: no two counts or sums share noise', () => {
    const positions: number[] = [];
    const spy = (position: number) => {
      positions.push(position);
      return 0.5; // noise 0
    };
    const bounds = { min: 0, max: 1000 };
    const raw: RawResult = {
      total: cell(900),
      strata: strataKeys(['gender']).map((key) => ({ key, cell: cell(200) })),
      overlapping: false,
      measures: [
        { type: 'count' },
        summaryOf(Array<number>(300).fill(100), bounds),
        {
          type: 'histogram',
          unit: 'mg/dL',
          bins: [
            { from: 0, to: 100, cell: cell(400) },
            { from: 100, cell: cell(300) },
          ],
          missing: cell(200),
        },
        summaryOf(Array<number>(200).fill(150), bounds),
      ],
    };
    const out = protect(raw, policy, {
      noise: spy,
      summaryBounds: [undefined, bounds, undefined, bounds],
    });
    // 1 total + 4 strata + 1 n + 3 bins + 1 n = 10 counts, and 2 sums per summary.
    expect(positions).toHaveLength(10 + 4);
    expect(new Set(positions).size).toBe(positions.length);
    expect(out.measures[1]).toMatchObject({ mean: 100 });
    expect(out.measures[3]).toMatchObject({ mean: 150 });
  });

  it('refuses to run without the release noise', () => {
    expect(() => protect(lone(cell(100)), policy, {})).toThrow(/noise/);
  });
});

describe('laplace summaries', () => {
  const mgdl: SummaryBounds = { min: 0, max: 1000 };

  /** A release of [count, summary] with bounds for the summary (measure 1). */
  function summaryRelease(
    values: readonly number[],
    i: number | string,
    options: { bounds?: SummaryBounds; p?: NodePolicy; dataVersion?: string } = {},
  ) {
    const bounds = 'bounds' in options ? options.bounds : mgdl;
    const p = options.p ?? policy;
    const out = release(
      lone(cell(values.length + 100), [{ type: 'count' }, summaryOf(values, bounds)]),
      p,
      {
        queryHash: queryHashOf(i),
        dataVersion: options.dataVersion ?? 'v1',
        summaryBounds: [undefined, bounds],
      },
    ).measures[1]!;
    if (out.type !== 'summary') throw new Error('expected a summary');
    return out;
  }

  const glucose = (n: number, seed: number) => {
    const random = seeded(seed);
    return Array.from({ length: n }, () => 90 + 60 * random());
  };

  it('mean and sd come only with a released n of at least minN and bounds for the unit', () => {
    const p = laplacePolicy({ summary: { minN: 30 } });
    let withMean = 0;
    let without = 0;
    for (let i = 0; i < 600; i++) {
      const n = 5 + (i % 60);
      const out = summaryRelease(glucose(n, i), i, { p });
      const released = countOf(out.n);
      if (released !== undefined && released >= 30) {
        expect(out).toHaveProperty('mean');
        expect(out).toHaveProperty('sd');
        expect(out).not.toHaveProperty('suppressed');
        withMean += 1;
      } else {
        expect(out).toEqual({ type: 'summary', unit: 'mg/dL', n: out.n, suppressed: true });
        without += 1;
      }
    }
    expect(withMean).toBeGreaterThan(100);
    expect(without).toBeGreaterThan(100);
  });

  it('no bounds for the unit: n alone, mean and sd suppressed', () => {
    const values = glucose(500, 1);
    const withBounds = summaryRelease(values, 'b');
    expect(withBounds).toHaveProperty('mean');
    const noBounds = release(
      lone(cell(600), [{ type: 'count' }, summaryOf(values, undefined)]),
      policy,
      { queryHash: queryHashOf('b') },
    ).measures[1];
    expect(noBounds).toEqual({ type: 'summary', unit: 'mg/dL', n: withBounds.n, suppressed: true });
    // Bounds given for another measure index do not apply.
    const misplaced = release(
      lone(cell(600), [{ type: 'count' }, summaryOf(values, mgdl)]),
      policy,
      { queryHash: queryHashOf('b'), summaryBounds: [mgdl, undefined] },
    ).measures[1];
    expect(misplaced).toEqual({
      type: 'summary',
      unit: 'mg/dL',
      n: withBounds.n,
      suppressed: true,
    });
  });

  it('a sum that is not a number (NaN, Infinity) suppresses mean and sd and leaves n as it is', () => {
    const good = summaryOf(glucose(400, 2), mgdl);
    for (const broken of [
      { ...good, clampedSum: Number.NaN },
      { ...good, clampedSumSquares: Infinity },
      { ...good, clampedSum: null },
    ]) {
      const id = { queryHash: queryHashOf('broken'), summaryBounds: [mgdl] };
      const expected = release(lone(cell(500), [good]), policy, id).measures[0]!;
      const out = release(lone(cell(500), [broken]), policy, id).measures[0];
      expect(out).toEqual({
        type: 'summary',
        unit: 'mg/dL',
        n: (expected as { n: Cell }).n,
        suppressed: true,
      });
    }
  });

  it('the mean stays within the bounds and the sd within what values in the bounds allow', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: -1000, max: 1000, noNaN: true }),
        fc.double({ min: 0.001, max: 500, noNaN: true }),
        fc.array(fc.double({ min: -2000, max: 2000, noNaN: true }), {
          minLength: 10,
          maxLength: 60,
        }),
        releaseArb,
        (extra, min, width, raw, id) => {
          const bounds = { min, max: min + width };
          const values = [...raw, ...Array<number>(extra).fill(bounds.max)];
          const out = release(lone(cell(values.length), [summaryOf(values, bounds)]), policy, {
            ...id,
            summaryBounds: [bounds],
          }).measures[0]!;
          if (out.type !== 'summary' || out.mean === undefined) return;
          const n = countOf(out.n)!;
          expect(out.mean).toBeGreaterThanOrEqual(bounds.min);
          expect(out.mean).toBeLessThanOrEqual(bounds.max);
          expect(out.sd).toBeGreaterThanOrEqual(0);
          // The bounds' own half-range: min + width rounds, and at min 16, width
          // 0.001 that alone moves the limit by 1e-12 of itself.
          const halfRange = (bounds.max - bounds.min) / 2;
          expect(out.sd!).toBeLessThanOrEqual(halfRange * Math.sqrt(n / (n - 1)) * (1 + 1e-12));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is accurate for large n: n = 1000 glucose values, mean error small over many releases', () => {
    const values = glucose(1000, 3);
    const truth = values.reduce((a, b) => a + b, 0) / values.length;
    const releases = 400;
    const errors: number[] = [];
    for (let i = 0; i < releases; i++) errors.push(summaryRelease(values, i).mean! - truth);
    const bias = errors.reduce((a, b) => a + b, 0) / errors.length;
    const meanAbs = errors.reduce((a, b) => a + Math.abs(b), 0) / errors.length;
    // The error's sd from the count and sum noise (3.6 at epsilon 0.25): the
    // average of 400 errors is 0 give or take 4.5 standard errors, and the mean
    // absolute error is at most the root mean square error, the sd.
    const sd = meanErrorSd(policy, values.length, truth, mgdl);
    expect(Math.abs(bias)).toBeLessThan((4.5 * sd) / Math.sqrt(releases));
    expect(meanAbs).toBeLessThan(sd);
    expect(meanAbs).toBeGreaterThan(0); // noisy, never exact
    // Tighter bounds, smaller error.
    const tight = { min: 50, max: 250 };
    let tightAbs = 0;
    for (let i = 0; i < 400; i++) {
      tightAbs += Math.abs(summaryRelease(values, i, { bounds: tight }).mean! - truth) / 400;
    }
    expect(tightAbs).toBeLessThan(meanAbs);
  });

  it('never the exact mean, even when every value is the same (beyond the rare coincidence of noise)', () => {
    // The released mean lies on a grid of step w/100/n around the midpoint, so
    // now and then (about 1 in 1,000 here) noise lands it on the true value;
    // an observer cannot tell those releases from the others.
    const values = Array<number>(50).fill(120);
    const means = new Set<number>();
    let exact = 0;
    let released = 0;
    for (let i = 0; i < 1000; i++) {
      const out = summaryRelease(values, `same ${i}`);
      if (out.mean === undefined) continue;
      released += 1;
      means.add(out.mean);
      if (out.mean === 120) exact += 1;
    }
    expect(released).toBeGreaterThan(990);
    expect(means.size).toBeGreaterThan(900);
    expect(exact / released).toBeLessThan(0.01);
  });

  it('mean and sd are drawn with the release: the same key repeats them, new data redraws them', () => {
    const values = glucose(300, 4);
    expect(summaryRelease(values, 'k')).toEqual(summaryRelease(values, 'k'));
    expect(summaryRelease(values, 'k').mean).not.toBe(
      summaryRelease(values, 'k', { dataVersion: 'v2' }).mean,
    );
  });

  it('never releases min or max', () => {
    const out = summaryRelease(glucose(300, 5), 'minmax');
    expect(Object.keys(out).sort()).toEqual(['mean', 'n', 'sd', 'type', 'unit']);
  });
});

describe('cell-key summaries', () => {
  it('release n alone, never mean or sd, even with bounds and clamped sums', () => {
    const p = cellKeyPolicy();
    const bounds = { min: 0, max: 1000 };
    const out = protect(
      lone(cell(600), [summaryOf(Array<number>(500).fill(100), bounds)]),
      p,
      releaseContext(p, { summaryBounds: [bounds] }),
    ).measures[0];
    expect(out).toEqual({
      type: 'summary',
      unit: 'mg/dL',
      n: { count: expect.any(Number) as number, perturbed: true },
      suppressed: true,
    });
  });
});
