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
// (Mironov 2012: which doubles are reachable reveals the input) do not apply.
// The uniforms are multiples of 2^-53, so the sampler realises each value's
// probability only to a multiple of 2^-53, which near the tails can break the
// e^epsilon ratio. The stated delta is therefore computed from the realised
// distribution itself (every shift a neighbour can cause, both directions),
// and the bound grows until that delta is within the policy's; parameters
// whose delta 53-bit uniforms cannot reach are refused.

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
/** The resolution of the uniforms (keyed-noise.ts): 53 bits. */
const UNIFORMS = 2 ** 53;

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
  // on one side: their probability is the delta this bound costs, ideally.
  // It falls as the bound grows: the smallest bound that meets a target, by
  // bisection. Quantisation adds a little to the realised delta, so a target
  // below delta is tried when delta itself falls just short.
  if (idealDelta(ratio, MAX_BOUND, sensitivity) > delta) {
    throw new RangeError('noise bound too large for epsilon and delta');
  }
  for (const target of [delta, delta / 2, delta / 8, delta / 64]) {
    let [low, high] = [sensitivity, MAX_BOUND];
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if (idealDelta(ratio, mid, sensitivity) > target) low = mid + 1;
      else high = mid;
    }
    const cdf = cdfOf(ratio, low);
    const realised = realisedDelta(cdf, epsilon, sensitivity);
    if (realised <= delta) return Object.freeze({ ratio, bound: low, delta: realised, cdf });
  }
  throw new RangeError(`delta ${delta} is out of reach of 53-bit uniforms at epsilon ${epsilon}`);
}

/** Unnormalised mass a^|k| of the values bound-sensitivity+1..bound over the total mass. */
function idealDelta(ratio: number, bound: number, sensitivity: number): number {
  // Total: 1 + 2 * sum_{k=1}^{bound} a^k.
  const total = 1 + (2 * ratio * (1 - ratio ** bound)) / (1 - ratio);
  let tail = 0;
  for (let k = Math.max(0, bound - sensitivity + 1); k <= bound; k++) tail += ratio ** k;
  return tail / total;
}

/** cdf[i] = P(noise <= i - bound) of the truncated distribution. */
function cdfOf(ratio: number, bound: number): Float64Array {
  const weights = Array.from({ length: 2 * bound + 1 }, (_, i) => ratio ** Math.abs(i - bound));
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = new Float64Array(weights.length);
  let acc = 0;
  weights.forEach((w, i) => {
    acc += w / total;
    cdf[i] = acc;
  });
  cdf[cdf.length - 1] = 1;
  return cdf;
}

/** The probabilities sampleNoise realises from uniforms m / 2^53 (exact: scaling by 2^53 is). */
function realisedPmf(cdf: Float64Array): Float64Array {
  const pmf = new Float64Array(cdf.length);
  let below = 0;
  cdf.forEach((c, i) => {
    // sampleNoise returns index i for m < c * 2^53 and m >= the previous bound.
    const upTo = Math.ceil(c * UNIFORMS);
    pmf[i] = (upTo - below) / UNIFORMS;
    below = upTo;
  });
  return pmf;
}

/**
 * The smallest delta for which the realised distribution is (epsilon,
 * delta)-private for every shift 1..sensitivity a neighbour can cause: the
 * mass where P(k) exceeds e^epsilon P(k -+ shift), in either direction.
 */
function realisedDelta(cdf: Float64Array, epsilon: number, sensitivity: number): number {
  const pmf = realisedPmf(cdf);
  const at = (i: number): number => (i >= 0 && i < pmf.length ? pmf[i]! : 0);
  const factor = Math.exp(epsilon);
  let worst = 0;
  for (let shift = 1; shift <= sensitivity; shift++) {
    let up = 0;
    let down = 0;
    for (let i = 0; i < pmf.length; i++) {
      up += Math.max(0, pmf[i]! - factor * at(i - shift));
      down += Math.max(0, pmf[i]! - factor * at(i + shift));
    }
    worst = Math.max(worst, up, down);
  }
  return worst;
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
