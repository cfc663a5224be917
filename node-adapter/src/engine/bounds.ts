// Clamping bounds of summary measures. The disclosure layer never releases an
// exact mean or sd: it releases noisy sums of per-patient values clamped to
// bounds the node policy sets, so one patient moves a released sum by at most
// the bounds' width. Sources receive the bounds with the query and compute
// the clamped sums next to the summary's other figures.
import type { EvaluableQuery } from '@tessera/schemas';

/** Clamping bounds of a summary measure's per-patient values (from the node policy). */
export interface SummaryBounds {
  readonly min: number;
  readonly max: number;
}

/** What a source evaluates: the query, plus the node's clamping bounds per measure index. */
export type SourceQuery = EvaluableQuery & {
  /** Indexed like the canonical query's measures; undefined for measures that are not summaries. */
  readonly summaryBounds?: readonly (SummaryBounds | undefined)[];
};

/**
 * The bounds of the measure at `index`, undefined when none were given.
 * @throws RangeError when a bound is not a finite number or min > max.
 * @example summaryBoundsAt({ ...query, summaryBounds: [undefined, { min: 0, max: 20 }] }, 1) // { min: 0, max: 20 }
 */
export function summaryBoundsAt(query: SourceQuery, index: number): SummaryBounds | undefined {
  const bounds = query.summaryBounds?.[index];
  if (bounds === undefined) return undefined;
  const { min, max } = bounds;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new RangeError(`summary bounds of measure ${index} must be finite, with min <= max`);
  }
  return { min, max };
}

/**
 * `value` clamped to [min, max].
 * @example clamp(250, { min: 40, max: 200 }) // 200
 */
export function clamp(value: number, bounds: SummaryBounds): number {
  return Math.min(Math.max(value, bounds.min), bounds.max);
}
