// Keyed uniforms: a pure function of (key, release, position), uniform on [0, 1).
import { describe, expect, it } from 'vitest';
import { type ReleaseId, keyedNoise } from './keyed-noise.ts';
import { TEST_NOISE_KEY, queryHashOf } from '../../test/support/disclosure.ts';

const release: ReleaseId = {
  queryHash: queryHashOf('a'),
  dataVersion: '2026-11-20T10:00:00Z#a1b2',
  noise: 'laplace:0.5:1e-9:10:1',
};

/** The first n uniforms of a stream. */
function firstOf(n: number, key: Uint8Array, id: ReleaseId): number[] {
  const noise = keyedNoise(key, id);
  return Array.from({ length: n }, (_, i) => noise(i));
}

describe('keyedNoise', () => {
  it('the same key, release and position give the same number, in any order and any instance', () => {
    const a = keyedNoise(TEST_NOISE_KEY, release);
    const b = keyedNoise(new Uint8Array(TEST_NOISE_KEY), { ...release });
    const forward = Array.from({ length: 50 }, (_, i) => a(i));
    const backward = Array.from({ length: 50 }, (_, i) => b(49 - i)).reverse();
    expect(backward).toEqual(forward);
    expect(a(7)).toBe(a(7));
  });

  it('a different position, query hash, data version, noise id or key gives a different number', () => {
    const base = firstOf(16, TEST_NOISE_KEY, release);
    expect(new Set(base).size).toBe(16);
    const otherKey = new Uint8Array(32).fill(8);
    const variants = [
      firstOf(16, TEST_NOISE_KEY, { ...release, queryHash: queryHashOf('b') }),
      firstOf(16, TEST_NOISE_KEY, { ...release, dataVersion: '2026-11-21T10:00:00Z#c3d4' }),
      firstOf(16, TEST_NOISE_KEY, { ...release, noise: 'laplace:1:1e-9:10:1' }),
      firstOf(16, otherKey, release),
      // One bit of the key.
      firstOf(
        16,
        Uint8Array.from(TEST_NOISE_KEY, (b, i) => (i === 31 ? b ^ 1 : b)),
        release,
      ),
    ];
    for (const variant of variants) {
      for (let i = 0; i < 16; i++) expect(variant[i]).not.toBe(base[i]);
    }
  });

  it('keeps the parts of a release apart (no two releases share a stream by concatenation)', () => {
    const a = firstOf(4, TEST_NOISE_KEY, { queryHash: 'ab', dataVersion: 'c', noise: 'n' });
    const b = firstOf(4, TEST_NOISE_KEY, { queryHash: 'a', dataVersion: 'bc', noise: 'n' });
    expect(a).not.toEqual(b);
  });

  it('draws in [0, 1), uniformly: Kolmogorov-Smirnov and bucket chi-square over 20,000 positions', () => {
    const n = 20_000;
    const xs = firstOf(n, TEST_NOISE_KEY, release);
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    const sorted = [...xs].sort((a, b) => a - b);
    let d = 0;
    sorted.forEach((x, i) => {
      d = Math.max(d, (i + 1) / n - x, x - i / n);
    });
    // 1.95 / sqrt(n): the 0.1 % critical value of the KS statistic.
    expect(d).toBeLessThan(1.95 / Math.sqrt(n));

    const buckets = new Array<number>(100).fill(0);
    for (const x of xs) buckets[Math.floor(x * 100)]! += 1;
    const expected = n / 100;
    const chi2 = buckets.reduce((a, o) => a + (o - expected) ** 2 / expected, 0);
    // 99 degrees of freedom: mean 99, sd 14; 170 is beyond the 0.01 % point.
    expect(chi2).toBeLessThan(170);
  });

  it('streams of different releases are uncorrelated', () => {
    const n = 5000;
    const a = firstOf(n, TEST_NOISE_KEY, release);
    const b = firstOf(n, TEST_NOISE_KEY, { ...release, dataVersion: 'v2' });
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const ma = mean(a);
    const mb = mean(b);
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < n; i++) {
      sab += (a[i]! - ma) * (b[i]! - mb);
      saa += (a[i]! - ma) ** 2;
      sbb += (b[i]! - mb) ** 2;
    }
    // 4 standard errors of a correlation over 5,000 pairs.
    expect(Math.abs(sab / Math.sqrt(saa * sbb))).toBeLessThan(4 / Math.sqrt(n));
  });

  it('refuses a short key and positions that are not whole numbers >= 0', () => {
    expect(() => keyedNoise(new Uint8Array(15), release)).toThrow(RangeError);
    expect(() => keyedNoise(new Uint8Array(16), release)).not.toThrow();
    const noise = keyedNoise(TEST_NOISE_KEY, release);
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      expect(() => noise(bad)).toThrow(RangeError);
    }
    expect(noise(Number.MAX_SAFE_INTEGER)).toBeLessThan(1);
  });
});
