// What the engine computes before disclosure control: true figures that must
// never leave the node process. Disclosure control turns a RawResult into the
// released parts of a NodeResult.
import type { StratumKey } from '@tessera/schemas';

/** A true count and its cell key. */
export interface RawCell {
  /** Distinct patients in the cell. */
  readonly count: number;
  /**
   * Sum of the members' record keys modulo 2^32: the same set of patients
   * always has the same key, whatever query selected it (cell-key method).
   */
  readonly cellKey: number;
}

export interface RawStratum {
  readonly key: StratumKey;
  readonly cell: RawCell;
}

export interface RawHistogram {
  readonly type: 'histogram';
  readonly unit: string;
  /** One bin per edge: [edge_i, edge_i+1), the last one open-ended (no `to`). */
  readonly bins: readonly { readonly from: number; readonly to?: number; readonly cell: RawCell }[];
  /** Cohort patients without a value. */
  readonly missing: RawCell;
}

export interface RawSummary {
  readonly type: 'summary';
  readonly unit: string;
  /** Patients with a value. */
  readonly n: RawCell;
  /** Mean and sample sd of the per-patient values; null when n is 0 (or 1 for sd). */
  readonly mean: number | null;
  readonly sd: number | null;
  /** Sum of absolute per-patient values, and the largest one, for the dominance rule. */
  readonly sumAbs: number;
  readonly maxAbs: number;
  /**
   * Sum, and sum of squares, of the per-patient values clamped to the
   * measure's bounds (SummaryBounds), over the n patients: 0 when n is 0,
   * null when the query gave the measure no bounds.
   */
  readonly clampedSum: number | null;
  readonly clampedSumSquares: number | null;
}

export type RawMeasure = { readonly type: 'count' } | RawHistogram | RawSummary;

export interface RawResult {
  readonly total: RawCell;
  /** Every stratum of the cross product, in dimension order, empty ones included. */
  readonly strata: readonly RawStratum[];
  /** True when a `codes` dimension can put one patient in several strata. */
  readonly overlapping: boolean;
  /** One per canonical query measure, in order. */
  readonly measures: readonly RawMeasure[];
}
