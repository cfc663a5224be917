// A small seeded PRNG (sfc32, seeded through splitmix32) so generated regions
// are the same bytes on every machine and every run. Each patient gets its
// own stream derived from (seed, region, index): a patient's record does not
// depend on how many patients came before it or on batching.

/** splitmix32: one well-mixed 32-bit value per input. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** FNV-1a of a string, for turning names into seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Normal(mean, sd), by Box-Muller. */
  normal(mean: number, sd: number): number;
  /** One item, uniformly. */
  pick<T>(items: readonly T[]): T;
  /** An index drawn with the given (unnormalised) weights. */
  weighted(weights: readonly number[]): number;
  /** Poisson(lambda), for small lambda. */
  poisson(lambda: number): number;
}

/**
 * A deterministic generator from up to four 32-bit seed words.
 * @example createRng(42, 7).next() // always the same number
 */
export function createRng(...seeds: number[]): Rng {
  let a = mix32(seeds[0] ?? 0);
  let b = mix32(a ^ (seeds[1] ?? 0x5bd1e995));
  let c = mix32(b ^ (seeds[2] ?? 0x1b873593));
  let d = mix32(c ^ (seeds[3] ?? 0xcc9e2d51));
  const raw = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) raw();

  const rng: Rng = {
    next: raw,
    int: (min, max) => min + Math.floor(raw() * (max - min + 1)),
    chance: (p) => raw() < p,
    normal: (mean, sd) => {
      const u = 1 - raw();
      const v = raw();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[Math.floor(raw() * items.length)] as T;
    },
    weighted: (weights) => {
      let total = 0;
      for (const w of weights) total += w;
      let x = raw() * total;
      for (let i = 0; i < weights.length; i++) {
        x -= weights[i] as number;
        if (x < 0) return i;
      }
      return weights.length - 1;
    },
    poisson: (lambda) => {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = raw();
      while (p > limit) {
        k += 1;
        p *= raw();
      }
      return k;
    },
  };
  return rng;
}
