// The default mechanism's releases: every count gets truncated discrete
// Laplace noise drawn from the release's keyed stream, and is released only
// when the noisy count reaches the threshold. A true zero is noised like any
// count, so an empty set looks like a small one. Each cell states what it
// promises: `range`, guaranteed by the truncation (minus the rounding), and
// `interval`, at the policy's confidence.
//
// Summaries come from noisy sums of values clamped to the policy's bounds,
// centred on the bounds' midpoint c with half-width w: the sum of (v - c)
// moves by at most w when one patient joins, the sum of (v - c)^2 by at most
// w^2. Both are computed exactly inside the node from the source's clamped
// sums, noised on a grid of w/100 (resp. w^2/100), so one patient moves each by
// at most 101 grid units: 100 for the value and 1 for rounding to the grid.
// mean = c + S/n and sd from S and Q, with n the released (noisy) count:
// post-processing of released figures only. Min and max are never released.
import type { Cell } from '@tessera/schemas';
import nodeResultSchema from '@tessera/schemas/json/node-result.schema.json' with { type: 'json' };
import type { RawSummary } from '../engine/raw-result.ts';
import type { SummaryBounds } from '../engine/bounds.ts';
import { discreteLaplaceOf, halfWidth, sampleNoise } from './discrete-laplace.ts';
import type { KeyedNoise } from './keyed-noise.ts';
import type { NodePolicy } from './policy.ts';

/** The largest count the NodeResult schema carries (its Count maximum). */
export const COUNT_MAX: number = nodeResultSchema.$defs.Count.maximum;

/** Grid steps per half-width: a summary sum's sensitivity in grid units is this plus one. */
export const SUM_GRID = 100;

/**
 * The two noise distributions a laplace policy draws from (counts, and
 * summary sums in grid units); throws a RangeError for parameters they
 * cannot meet, so a policy can be refused at start-up.
 */
export function laplaceDistributions(policy: Pick<NodePolicy, 'laplace'>) {
  const { epsilon, delta } = policy.laplace;
  return {
    count: discreteLaplaceOf(epsilon, delta),
    sum: discreteLaplaceOf(epsilon, delta, SUM_GRID + 1),
  };
}

export interface LaplaceCells {
  /** The released cell of a count, drawing from noise position `position`. */
  cell(count: number | undefined, position: number): Cell;
  /** The hard noise bound every count carries. */
  readonly bound: number;
}

function clampCount(n: number): number {
  return Math.min(COUNT_MAX, Math.max(0, n));
}

/**
 * Count releases under the policy for one release's noise stream.
 * @example laplaceCells(policy, noise).cell(120, 0) // { count: 118, perturbed: true, range: [43, 193], interval: [106, 130] }
 */
export function laplaceCells(policy: NodePolicy, noise: KeyedNoise): LaplaceCells {
  const { confidence } = policy.laplace;
  const { threshold, rounding } = policy;
  const dist = laplaceDistributions(policy).count;
  const slack = rounding - 1;
  const hard = dist.bound + slack;
  const likely = halfWidth(dist, confidence) + slack;
  const suppressed: Cell = {
    suppressed: true,
    range: [0, clampCount(threshold - 1 + hard)],
    interval: [0, clampCount(threshold - 1 + likely)],
  };
  return {
    bound: dist.bound,
    cell(count, position) {
      // A figure that is not a whole count (NaN, overflow) answers exactly as a small one.
      if (count === undefined) return { ...suppressed };
      let noisy = count + sampleNoise(dist, noise(position));
      if (rounding > 1) noisy = Math.round(noisy / rounding) * rounding;
      if (noisy < threshold) return { ...suppressed };
      const released = clampCount(noisy);
      return {
        count: released,
        perturbed: true,
        range: [clampCount(released - hard), clampCount(released + hard)],
        interval: [clampCount(released - likely), clampCount(released + likely)],
      };
    },
  };
}

/** Mean and sd from noisy clamped sums, or undefined to withhold them. */
export function laplaceSummary(
  raw: RawSummary,
  n: Cell,
  bounds: SummaryBounds | undefined,
  policy: NodePolicy,
  noise: KeyedNoise,
  positions: readonly [number, number],
): { mean: number; sd: number } | undefined {
  if (bounds === undefined || !('count' in n)) return undefined;
  const released = n.count;
  if (released < Math.max(policy.summary.minN, policy.threshold)) return undefined;
  const trueN = raw.n.count;
  const { clampedSum, clampedSumSquares } = raw;
  if (clampedSum === null || clampedSumSquares === null) return undefined;
  if (![trueN, clampedSum, clampedSumSquares].every(Number.isFinite)) return undefined;

  const centre = (bounds.min + bounds.max) / 2;
  const halfRange = (bounds.max - bounds.min) / 2;
  if (!(halfRange > 0)) return { mean: centre, sd: 0 };
  // Exact centred sums: sum(v - c) and sum((v - c)^2), from the clamped sums.
  const sum = clampedSum - trueN * centre;
  const squares = clampedSumSquares - 2 * centre * clampedSum + trueN * centre * centre;

  const dist = laplaceDistributions(policy).sum;
  const noisy = (value: number, step: number, position: number): number =>
    (Math.round(value / step) + sampleNoise(dist, noise(position))) * step;
  const noisySum = noisy(sum, halfRange / SUM_GRID, positions[0]);
  const noisySquares = noisy(squares, (halfRange * halfRange) / SUM_GRID, positions[1]);

  const mean = Math.min(bounds.max, Math.max(bounds.min, centre + noisySum / released));
  const variance = (noisySquares - (noisySum * noisySum) / released) / (released - 1);
  // Values in [min, max] have an sd of at most the half-range (times sqrt(n / (n - 1))).
  const sdMax = halfRange * Math.sqrt(released / (released - 1));
  const sd = Math.min(sdMax, Math.sqrt(Math.max(0, variance)));
  if (!Number.isFinite(mean) || !Number.isFinite(sd)) return undefined;
  return { mean, sd };
}
