// Truncated discrete Laplace noise, the default mechanism's only source of
// randomness. Noise k has probability proportional to a^|k| for |k| <= bound,
// with a = exp(-epsilon / sensitivity): for two counts one patient apart the
// odds of any released value differ by at most e^epsilon, except on the
// outermost values one side of the range, whose mass is delta (the price of a
// hard bound, so every released count carries a guaranteed range).
//
// The draw is an inverse-CDF lookup of a uniform number that the caller
// derives from a keyed hash (keyed-noise.ts), never from a live random source:
// the same release always gets the same noise. The CDF is a table of 2*bound+1
// doubles built once per (epsilon, delta, sensitivity); the output is an
// integer, so the floating-point attacks on continuous Laplace samplers
// (Mironov 2012: which doubles are reachable reveals the input) do not apply;
// the table's relative error of ~1e-16 moves epsilon by less than that.

export interface DiscreteLaplace {
  /** exp(-epsilon / sensitivity): the ratio between neighbouring noise values' odds. */
  readonly ratio: number;
  /** Largest absolute noise: the hard bound of every release. */
  readonly bound: number;
  /** Probability that the epsilon guarantee fails for one release (the outermost sensitivity values on one side). */
  readonly delta: number;
  /** cdf[i] = P(noise <= i - bound). */
  readonly cdf: Float64Array;
}

/** Noise bounds over 10^6 make tables of megabytes; no sensible policy comes near. */
const MAX_BOUND = 1_000_000;

/** Unnormalised mass a^|k| of the values bound-sensitivity+1..bound, and the total mass. */
function tailAndTotal(ratio: number, bound: number, sensitivity: number) {
  // Total: 1 + 2 * sum_{k=1}^{bound} a^k.
  const total = 1 + (2 * ratio * (1 - ratio ** bound)) / (1 - ratio);
  let tail = 0;
  for (let k = Math.max(0, bound - sensitivity + 1); k <= bound; k++) tail += ratio ** k;
  return { tail, total };
}

/**
 * The truncated discrete Laplace distribution for a privacy loss `epsilon`
 * per release of a figure that one patient moves by at most `sensitivity`
 * (whole units), cut at the smallest bound whose failure probability is at
 * most `delta`.
 * @example discreteLaplace(0.5, 1e-9).bound // 39
 */
export function discreteLaplace(epsilon: number, delta: number, sensitivity = 1): DiscreteLaplace {
  if (!(epsilon > 0 && Number.isFinite(epsilon))) throw new RangeError('epsilon must be > 0');
  if (!(delta > 0 && delta < 1)) throw new RangeError('delta must be in (0, 1)');
  if (!(Number.isInteger(sensitivity) && sensitivity >= 1)) {
    throw new RangeError('sensitivity must be a whole number >= 1');
  }
  const ratio = Math.exp(-epsilon / sensitivity);
  // The neighbouring count's range misses the `sensitivity` outermost values
  // on one side: their probability is the delta this bound costs.
  let bound = sensitivity;
  let mass = tailAndTotal(ratio, bound, sensitivity);
  while (mass.tail / mass.total > delta) {
    bound += 1;
    if (bound > MAX_BOUND) throw new RangeError('noise bound too large for epsilon and delta');
    mass = tailAndTotal(ratio, bound, sensitivity);
  }
  const cdf = new Float64Array(2 * bound + 1);
  let acc = 0;
  for (let i = 0; i < cdf.length; i++) {
    acc += ratio ** Math.abs(i - bound) / mass.total;
    cdf[i] = acc;
  }
  cdf[cdf.length - 1] = 1;
  return Object.freeze({ ratio, bound, delta: mass.tail / mass.total, cdf });
}

const cache = new Map<string, DiscreteLaplace>();

/**
 * discreteLaplace, built once per process for each parameter set: a pure
 * function of its arguments, so reuse equals rebuilding.
 */
export function discreteLaplaceOf(
  epsilon: number,
  delta: number,
  sensitivity = 1,
): DiscreteLaplace {
  const id = `${epsilon}:${delta}:${sensitivity}`;
  let dist = cache.get(id);
  if (!dist) {
    dist = discreteLaplace(epsilon, delta, sensitivity);
    cache.set(id, dist);
  }
  return dist;
}

/**
 * The noise whose CDF first reaches `uniform` (in [0, 1)).
 * @example sampleNoise(discreteLaplace(1, 1e-9), 0.5) // 0
 */
export function sampleNoise(dist: DiscreteLaplace, uniform: number): number {
  if (!(uniform >= 0 && uniform < 1)) throw new RangeError('uniform must be in [0, 1)');
  let lo = 0;
  let hi = dist.cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dist.cdf[mid]! > uniform) hi = mid;
    else lo = mid + 1;
  }
  return lo - dist.bound;
}

/**
 * The smallest h with P(|noise| <= h) >= confidence: the half-width of the
 * interval a released count carries.
 * @example halfWidth(discreteLaplace(0.5, 1e-9), 0.95) // 6
 */
export function halfWidth(dist: DiscreteLaplace, confidence: number): number {
  const { cdf, bound } = dist;
  for (let h = 0; h < bound; h++) {
    const below = bound - h - 1 >= 0 ? cdf[bound - h - 1]! : 0;
    if (cdf[bound + h]! - below >= confidence) return h;
  }
  return bound;
}

/** P(noise = k), for tests and documentation. */
export function probabilityOf(dist: DiscreteLaplace, k: number): number {
  if (!Number.isInteger(k) || Math.abs(k) > dist.bound) return 0;
  const i = k + dist.bound;
  return dist.cdf[i]! - (i === 0 ? 0 : dist.cdf[i - 1]!);
}
