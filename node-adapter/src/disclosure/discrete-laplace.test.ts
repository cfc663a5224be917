// The truncated discrete Laplace distribution: its privacy property, its
// stated delta and bound, and the sampler's faithfulness to it.
import { describe, expect, it } from 'vitest';
import {
  type DiscreteLaplace,
  discreteLaplace,
  discreteLaplaceOf,
  halfWidth,
  probabilityOf,
  sampleNoise,
} from './discrete-laplace.ts';
import { keyedNoise } from './keyed-noise.ts';
import { TEST_NOISE_KEY, policyOf, queryHashOf } from '../../test/support/disclosure.ts';

/** [epsilon, delta, sensitivity]: the defaults, the summary sums' grid, and corners of the policy schema. */
const PARAMS: readonly (readonly [number, number, number])[] = [
  [0.25, 1e-9, 1],
  [0.25, 1e-9, 101],
  [0.5, 1e-9, 1],
  [0.5, 1e-9, 101],
  [1, 1e-6, 1],
  [0.1, 1e-12, 1],
  [2, 1e-3, 3],
  [10, 1e-3, 1],
  [0.01, 1e-9, 1],
];

/**
 * The failure probability of a bound, computed afresh: the mass of the
 * `sensitivity` outermost values on one side, for noise in [-bound, bound]
 * with odds a^|k|. Bound 0 puts all mass on 0, which the neighbour never draws.
 */
function tailMass(epsilon: number, sensitivity: number, bound: number): number {
  const a = Math.exp(-epsilon / sensitivity);
  let total = 0;
  let tail = 0;
  for (let k = -bound; k <= bound; k++) {
    total += a ** Math.abs(k);
    if (k <= -bound + sensitivity - 1) tail += a ** Math.abs(k);
  }
  return tail / total;
}

/** P(|noise| <= h). */
function coverage(dist: DiscreteLaplace, h: number): number {
  let p = 0;
  for (let k = -h; k <= h; k++) p += probabilityOf(dist, k);
  return p;
}

describe.each(PARAMS)('discreteLaplace(%s, %s, sensitivity %s)', (epsilon, delta, sensitivity) => {
  const dist = discreteLaplace(epsilon, delta, sensitivity);

  it('is a distribution over [-bound, bound], symmetric, with a monotone CDF ending at 1', () => {
    expect(dist.cdf).toHaveLength(2 * dist.bound + 1);
    expect(dist.cdf[dist.cdf.length - 1]).toBe(1);
    for (let i = 1; i < dist.cdf.length; i++) {
      expect(dist.cdf[i]!).toBeGreaterThanOrEqual(dist.cdf[i - 1]!);
    }
    expect(probabilityOf(dist, dist.bound + 1)).toBe(0);
    expect(probabilityOf(dist, -dist.bound - 1)).toBe(0);
    expect(probabilityOf(dist, 0.5)).toBe(0);
    // The lower half of the CDF is exact to ~1e-16 relative; compare there.
    for (let k = 1; k <= dist.bound; k++) {
      const lower = probabilityOf(dist, -k);
      expect(Math.abs(probabilityOf(dist, k) - lower)).toBeLessThan(1e-12 + 1e-6 * lower);
    }
    expect(dist.ratio).toBeCloseTo(Math.exp(-epsilon / sensitivity), 15);
  });

  it('the DP property: neighbouring counts (sensitivity apart) have odds within e^epsilon over the whole support', () => {
    const limit = Math.exp(epsilon);
    // Using the lower half and symmetry, where the table is accurate.
    for (let k = -dist.bound; k + sensitivity <= 0; k++) {
      const here = probabilityOf(dist, k);
      const there = probabilityOf(dist, k + sensitivity);
      expect(here).toBeGreaterThan(0);
      expect(there / here).toBeLessThanOrEqual(limit * (1 + 1e-9));
      expect(here / there).toBeLessThanOrEqual(limit * (1 + 1e-9));
    }
    // One step apart the odds differ by exactly e^(epsilon / sensitivity).
    const step = probabilityOf(dist, 0) / probabilityOf(dist, -1);
    expect(step).toBeCloseTo(Math.exp(epsilon / sensitivity), 9);
  });

  it('states as delta the realised failure mass: the outermost values and no less, at most the delta asked for', () => {
    let outermost = 0;
    for (let k = -dist.bound; k < -dist.bound + sensitivity; k++)
      outermost += probabilityOf(dist, k);
    expect(dist.delta).toBeGreaterThanOrEqual(outermost * (1 - 1e-6));
    expect(dist.delta).toBe(realisedDelta(dist, epsilon, sensitivity));
    expect(dist.delta).toBeLessThanOrEqual(delta);
    expect(tailMass(epsilon, sensitivity, dist.bound)).toBeLessThanOrEqual(delta);
  });

  it('cuts at the smallest such bound: one less would fail more often than delta', () => {
    expect(dist.bound).toBeGreaterThanOrEqual(sensitivity);
    const smaller = dist.bound - 1;
    expect(tailMass(epsilon, sensitivity, smaller)).toBeGreaterThan(delta);
  });

  it('halfWidth covers at least the confidence, and one less does not', () => {
    for (const confidence of [0.5, 0.8, 0.9, 0.95, 0.99, 0.9999]) {
      const h = halfWidth(dist, confidence);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThanOrEqual(dist.bound);
      expect(coverage(dist, h)).toBeGreaterThanOrEqual(confidence - 1e-12);
      if (h > 0) expect(coverage(dist, h - 1)).toBeLessThan(confidence);
    }
  });

  it('sampleNoise is the inverse CDF: a fine grid of uniforms reproduces every probability', () => {
    // Uniforms (i + 0.5) / M hit value k about M * P(k) times, give or take one.
    const M = 100_000;
    const hits = new Map<number, number>();
    for (let i = 0; i < M; i++) {
      const k = sampleNoise(dist, (i + 0.5) / M);
      hits.set(k, (hits.get(k) ?? 0) + 1);
    }
    for (const k of hits.keys()) expect(Math.abs(k)).toBeLessThanOrEqual(dist.bound);
    for (let k = -dist.bound; k <= dist.bound; k++) {
      expect(Math.abs((hits.get(k) ?? 0) - M * probabilityOf(dist, k))).toBeLessThanOrEqual(1);
    }
  });
});

describe('discreteLaplace at the defaults', () => {
  const { epsilon, delta, confidence } = policyOf().laplace;
  const dist = discreteLaplace(epsilon, delta);

  it('is the documented bound 75 and interval +/- 12 at 95 % (epsilon 0.25, delta 1e-9)', () => {
    expect([epsilon, delta, confidence]).toEqual([0.25, 1e-9, 0.95]);
    expect(dist.bound).toBe(75);
    expect(halfWidth(dist, confidence)).toBe(12);
    expect(dist.delta).toBeLessThanOrEqual(delta);
    // The former default, epsilon 0.5: bound 39 and +/- 6.
    expect(discreteLaplace(0.5, 1e-9).bound).toBe(39);
    expect(halfWidth(discreteLaplace(0.5, 1e-9), 0.95)).toBe(6);
  });

  it('sampleNoise maps the ends and the middle of [0, 1) as stated, and refuses anything else', () => {
    expect(sampleNoise(dist, 0)).toBe(-dist.bound);
    expect(sampleNoise(dist, 1 - 2 ** -53)).toBe(dist.bound);
    expect(sampleNoise(dist, 0.5)).toBe(0);
    expect(sampleNoise(discreteLaplace(1, 1e-9), 0.5)).toBe(0);
    for (const bad of [1, -Number.EPSILON, Number.NaN, Infinity]) {
      expect(() => sampleNoise(dist, bad)).toThrow(RangeError);
    }
  });

  it('keyed uniforms give draws that fit the distribution (chi-square and total variation)', () => {
    const draws = 50_000;
    const noise = keyedNoise(TEST_NOISE_KEY, {
      queryHash: queryHashOf('chi-square'),
      dataVersion: 'v1',
      noise: 'laplace:test',
    });
    const observed = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const k = sampleNoise(dist, noise(i));
      observed.set(k, (observed.get(k) ?? 0) + 1);
    }
    // Values with fewer than 5 expected draws are pooled into the two tails.
    const cut = [...Array(dist.bound + 1).keys()].find(
      (k) => draws * probabilityOf(dist, k + 1) < 5,
    )!;
    const bins = new Map<string, { observed: number; expected: number }>();
    for (let k = -dist.bound; k <= dist.bound; k++) {
      const id = k < -cut ? 'low' : k > cut ? 'high' : String(k);
      const bin = bins.get(id) ?? { observed: 0, expected: 0 };
      bin.observed += observed.get(k) ?? 0;
      bin.expected += draws * probabilityOf(dist, k);
      bins.set(id, bin);
    }
    let chi2 = 0;
    let tv = 0;
    for (const { observed: o, expected: e } of bins.values()) {
      chi2 += (o - e) ** 2 / e;
      tv += Math.abs(o - e) / draws / 2;
    }
    const df = bins.size - 1;
    // About 5 standard deviations above the mean of a chi-square with df degrees of freedom.
    expect(chi2).toBeLessThan(df + 5 * Math.sqrt(2 * df));
    expect(tv).toBeLessThan(0.01);
    // Zero-centred: the mean draw is within a few standard errors of 0.
    let sum = 0;
    for (const [k, n] of observed) sum += k * n;
    expect(Math.abs(sum / draws)).toBeLessThan(0.05);
  });
});

describe('discreteLaplace with sensitivity > 1', () => {
  it('spreads its noise by the sensitivity: same epsilon, odds e^(epsilon/s) per step', () => {
    const one = discreteLaplace(0.5, 1e-9, 1);
    const three = discreteLaplace(0.5, 1e-9, 3);
    expect(three.ratio).toBeCloseTo(Math.exp(-0.5 / 3), 15);
    expect(three.bound).toBeGreaterThan(2 * one.bound);
    expect(halfWidth(three, 0.95)).toBeGreaterThan(2 * halfWidth(one, 0.95));
    // Counts three apart: e^epsilon exactly.
    const odds = probabilityOf(three, -10) / probabilityOf(three, -13);
    expect(odds).toBeCloseTo(Math.exp(0.5), 9);
  });
});

describe('discreteLaplace parameters', () => {
  it.each([
    [0, 1e-9, 1],
    [-1, 1e-9, 1],
    [Number.NaN, 1e-9, 1],
    [Infinity, 1e-9, 1],
    [0.5, 0, 1],
    [0.5, 1, 1],
    [0.5, Number.NaN, 1],
    [0.5, 1e-9, 0],
    [0.5, 1e-9, 1.5],
  ])('refuses epsilon %s, delta %s, sensitivity %s', (epsilon, delta, sensitivity) => {
    expect(() => discreteLaplace(epsilon, delta, sensitivity)).toThrow(RangeError);
  });

  it('discreteLaplaceOf builds once per parameter set, equal to a fresh build', () => {
    const a = discreteLaplaceOf(0.25, 1e-8, 2);
    expect(discreteLaplaceOf(0.25, 1e-8, 2)).toBe(a);
    expect(a).toEqual(discreteLaplace(0.25, 1e-8, 2));
    expect(discreteLaplaceOf(0.25, 1e-8, 3)).not.toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });
});

/**
 * The distribution the sampler actually realises: a keyed uniform is a
 * multiple of 2^-53, so P(noise = k) is the number of such multiples in
 * [cdf[i-1], cdf[i]), over 2^53.
 */
function realised(dist: DiscreteLaplace): number[] {
  const grid = 2 ** 53;
  const p: number[] = [];
  let below = 0;
  for (const c of dist.cdf) {
    const upTo = Math.ceil(c * grid);
    p.push((upTo - below) / grid);
    below = upTo;
  }
  return p;
}

/** The smallest delta for which the realised sampler is (epsilon, delta)-DP for neighbours `sensitivity` apart. */
function realisedDelta(dist: DiscreteLaplace, epsilon: number, sensitivity: number): number {
  const p = realised(dist);
  const at = (i: number) => (i >= 0 && i < p.length ? p[i]! : 0);
  let worst = 0;
  for (const shift of [sensitivity, -sensitivity]) {
    let excess = 0;
    for (let i = 0; i < p.length; i++)
      excess += Math.max(0, at(i) - Math.exp(epsilon) * at(i + shift));
    worst = Math.max(worst, excess);
  }
  return worst;
}

describe('the sampler as realised on 53-bit uniforms', () => {
  // The guarantee is about what is drawn, not about the ideal table: every
  // probability is a whole number of 2^-53 steps, so values rarer than a few
  // steps lose their e^epsilon ratio. Their mass must fit within delta.
  it.each([
    [0.25, 1e-9, 1],
    [0.25, 1e-9, 101],
    [0.5, 1e-9, 1],
    [0.5, 1e-9, 101],
    [0.1, 1e-12, 1],
    [1, 1e-6, 1],
    [10, 1e-3, 1],
  ])(
    'epsilon %s, delta %s, sensitivity %s: realised delta within the delta asked for',
    (epsilon, delta, sensitivity) => {
      const dist = discreteLaplace(epsilon, delta, sensitivity);
      expect(realisedDelta(dist, epsilon, sensitivity)).toBeLessThanOrEqual(delta);
    },
  );

  // The policy schema allows delta down to 1e-15 and epsilon up to 10: a
  // corner 53-bit uniforms can meet is met, one they cannot is refused.
  it.each([[0.5, 1e-12, 101]])(
    'epsilon %s, delta %s, sensitivity %s (policy corner): realised delta within the delta asked for',
    (epsilon, delta, sensitivity) => {
      const dist = discreteLaplace(epsilon, delta, sensitivity);
      expect(realisedDelta(dist, epsilon, sensitivity)).toBeLessThanOrEqual(delta);
    },
  );

  it.each([
    [0.5, 1e-15, 1],
    [10, 1e-12, 1],
  ])(
    'epsilon %s, delta %s, sensitivity %s (out of reach): refused',
    (epsilon, delta, sensitivity) => {
      expect(() => discreteLaplace(epsilon, delta, sensitivity)).toThrow(/out of reach/);
    },
  );
});
