// Disclosure control: true figures (RawResult) in, the released parts of a
// NodeResult out. Pure: the only randomness (laplace) is the release's keyed
// noise stream, passed in.
//
// Mechanism `laplace` (the default): see laplace-release.ts. Every count is
// noised, released only when the noisy count reaches the threshold, and
// carries its guaranteed range and its interval at the policy's confidence;
// summaries come from noisy clamped sums. No secondary suppression is needed:
// no cell is exact, so none is the difference of others.
//
// Mechanism `cell-key` (an option, with the limits docs/privacy.md lists):
// - a true count 0..threshold-1 is suppressed with range [0, threshold-1]
//   (suppressZero is always on, so zeros and small counts look alike);
// - a count >= threshold gets noise from the cell-key table, then rounding
//   to a multiple of `rounding`, then, if below the threshold, the smallest
//   multiple of `rounding` at or above it. It is always marked perturbed, so a
//   zero draw is not revealed. |released - true| <= maxNoise + rounding - 1.
// - a cell suppressed by the secondary rule (see secondary.ts) has a true count
//   of 0 or >= threshold; its range is [0, released total + maxNoise +
//   rounding - 1], the same for both, so a suppressed zero is not told apart.
// - mean and sd are never released (n alone): cell-key has no noise for sums.
//
// Under every mechanism a count that is not a whole number in [0, 10^9] (NaN,
// Infinity, overflow) or whose cell key is not a 32-bit unsigned integer, or
// any arithmetic error, gives exactly the cell a small count gives.
//
// Mechanism `none` (the open policy) releases every count and statistic as it is.
import type { Cell, Disclosure, MeasureResult, Stratum, StratumKey } from '@tessera/schemas';
import type { RawCell, RawHistogram, RawResult, RawSummary } from '../engine/raw-result.ts';
import { nodeProblem } from '../errors.ts';
import type { SummaryBounds } from '../engine/bounds.ts';
import type { KeyedNoise } from './keyed-noise.ts';
import { COUNT_MAX, laplaceCells, laplaceSummary } from './laplace-release.ts';
import { perturbationTable, cellKeyNoise } from './perturbation-table.ts';
import type { NodePolicy } from './policy.ts';
import { type SuppressionGroup, secondarySuppression, strataGroups } from './secondary.ts';

const CELL_KEY_LIMIT = 0x1_0000_0000;

export interface ProtectContext {
  /** The release's keyed noise: required by laplace, unused by the other mechanisms. */
  readonly noise?: KeyedNoise;
  /** Clamping bounds per measure index, as the source applied them (laplace summaries). */
  readonly summaryBounds?: readonly (SummaryBounds | undefined)[];
}

/** The released parts of a NodeResult. */
export interface ProtectedResult {
  readonly total: Cell;
  readonly strata: Stratum[];
  readonly measures: MeasureResult[];
  readonly disclosure: Disclosure;
  readonly overlapping: boolean;
}

/** A count's fate before secondary suppression. */
type Fate =
  | { readonly kind: 'released'; readonly count: number; readonly perturbed: boolean }
  | { readonly kind: 'suppressed' }
  | { readonly kind: 'invalid' };

interface Slot {
  readonly raw: RawCell;
}

/** The integers start, start + 1, ..., end - 1. */
function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

function validCount(raw: RawCell): number | undefined {
  const { count, cellKey } = raw;
  if (!Number.isSafeInteger(count) || count < 0 || count > COUNT_MAX) return undefined;
  if (!Number.isInteger(cellKey) || cellKey < 0 || cellKey >= CELL_KEY_LIMIT) return undefined;
  return count;
}

function noisyCount(count: number, slot: Slot, policy: NodePolicy): number {
  const { threshold, rounding } = policy;
  const table = perturbationTable(policy.cellKey.maxNoise, policy.cellKey.table);
  let released = count + cellKeyNoise(table, threshold, count, slot.raw.cellKey);
  if (rounding > 1) released = Math.round(released / rounding) * rounding;
  if (released < threshold) released = Math.ceil(threshold / rounding) * rounding;
  released = Math.min(released, COUNT_MAX);
  if (!Number.isSafeInteger(released)) throw new Error('noisy count out of range');
  return released;
}

/** A count's fate under cell-key or none. */
function fateOf(slot: Slot, policy: NodePolicy): Fate {
  try {
    const count = validCount(slot.raw);
    if (count === undefined) return { kind: 'invalid' };
    if (policy.mechanism === 'none') return { kind: 'released', count, perturbed: false };
    if (count < policy.threshold) return { kind: 'suppressed' };
    return { kind: 'released', count: noisyCount(count, slot, policy), perturbed: true };
  } catch {
    return { kind: 'invalid' };
  }
}

/**
 * What the node states about its disclosure control, in every answer.
 * @example disclosureOf(policy, 75) // { threshold: 10, mechanism: 'laplace', maxNoise: 75, ... }
 */
export function disclosureOf(policy: NodePolicy, maxNoise: number): Disclosure {
  if (policy.mechanism === 'none') {
    return { threshold: 1, mechanism: 'none', maxNoise: 0, rounding: 1 };
  }
  return {
    threshold: policy.threshold,
    mechanism: policy.mechanism,
    maxNoise,
    rounding: policy.rounding,
    ...(policy.mechanism === 'laplace'
      ? {
          epsilon: policy.laplace.epsilon,
          delta: policy.laplace.delta,
          confidence: policy.laplace.confidence,
        }
      : {}),
    suppressZero: true,
    secondarySuppression: policy.mechanism === 'cell-key' && policy.secondarySuppression,
  };
}

/** Refuses a result wider than the policy allows, even if the query check was skipped. */
function checkShape(raw: RawResult, policy: NodePolicy): void {
  if (raw.strata.length > policy.maxStrata) {
    throw nodeProblem('ERR_QUERY_INVALID', {
      pointer: '/stratify',
      detail: `${raw.strata.length} strata exceed the maximum of ${policy.maxStrata}`,
    });
  }
  const codes = new Set(raw.strata.map((s) => s.key.codes).filter((c) => c !== undefined));
  if (codes.size > policy.maxDimensionCodes) {
    throw nodeProblem('ERR_QUERY_INVALID', {
      pointer: '/stratify',
      detail: `more than ${policy.maxDimensionCodes} codes`,
    });
  }
}

function copyKey(key: StratumKey): StratumKey {
  return {
    ...(key.gender === undefined ? {} : { gender: key.gender }),
    ...(key.ageBand === undefined ? {} : { ageBand: key.ageBand }),
    ...(key.deceased === undefined ? {} : { deceased: key.deceased }),
    ...(key.codes === undefined ? {} : { codes: key.codes }),
  };
}

function isFiniteNumber(value: number | null): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Mean and sd as they are (open policy only). */
function openSummary(raw: RawSummary): { mean?: number; sd?: number } | undefined {
  const { mean, sd } = raw;
  const open = {
    ...(isFiniteNumber(mean) ? { mean } : {}),
    ...(isFiniteNumber(sd) && sd >= 0 ? { sd } : {}),
  };
  return Object.keys(open).length > 0 ? open : undefined;
}

/**
 * Turns true figures into releasable Cells under the policy (threats 1-6,
 * 10, 12, 13). Throws ERR_QUERY_INVALID when the result has more strata or
 * codes than the policy allows (threat 11).
 * @example protect(raw, policy, { random }).total // { count: 118, perturbed: true }
 */
export function protect(raw: RawResult, policy: NodePolicy, ctx: ProtectContext): ProtectedResult {
  checkShape(raw, policy);

  // Every count of the answer in one list: 0 total, then strata, then measures.
  const slots: Slot[] = [{ raw: raw.total }];
  for (const s of raw.strata) slots.push({ raw: s.cell });
  const groups: SuppressionGroup[] = strataGroups(
    raw.strata.map((s) => s.key),
    1, // strata start at slot 1
    0, // and add up to the total, slot 0
  );
  const measureSlots: number[][] = [];
  for (const m of raw.measures) {
    const start = slots.length;
    if (m.type === 'histogram') {
      for (const bin of m.bins) slots.push({ raw: bin.cell });
      slots.push({ raw: m.missing });
      // Bins and missing add up to the cohort's total.
      groups.push({ members: range(start, slots.length), sum: 0 });
    } else if (m.type === 'summary') {
      slots.push({ raw: m.n });
    }
    measureSlots.push(range(start, slots.length));
  }

  const answer =
    policy.mechanism === 'laplace'
      ? laplaceAnswer(slots, policy, ctx)
      : exactOrCellKeyAnswer(slots, groups, policy);

  const measures = raw.measures.map((m, mi): MeasureResult => {
    const at = measureSlots[mi]!;
    switch (m.type) {
      case 'count':
        return { type: 'count' };
      case 'histogram':
        return histogramResult(m, at, answer.cells);
      case 'summary': {
        const n = answer.cells[at[0]!]!;
        let figures: { mean?: number; sd?: number } | undefined;
        try {
          figures = answer.summary(m, mi, n);
        } catch {
          figures = undefined;
        }
        return figures
          ? { type: 'summary', unit: m.unit, n, ...figures }
          : { type: 'summary', unit: m.unit, n, suppressed: true };
      }
    }
  });

  return {
    total: answer.cells[0]!,
    strata: raw.strata.map((s, i) => ({ key: copyKey(s.key), cell: answer.cells[i + 1]! })),
    measures,
    disclosure: disclosureOf(policy, answer.maxNoise),
    overlapping: raw.overlapping,
  };
}

/** One mechanism's cells (by slot), summary figures and stated noise bound. */
interface Answer {
  readonly cells: readonly Cell[];
  summary(
    raw: RawSummary,
    measureIndex: number,
    n: Cell,
  ): { mean?: number; sd?: number } | undefined;
  readonly maxNoise: number;
}

function laplaceAnswer(slots: readonly Slot[], policy: NodePolicy, ctx: ProtectContext): Answer {
  const noise = ctx.noise;
  if (noise === undefined) throw new Error('the laplace mechanism needs the release noise');
  const cells = laplaceCells(policy, noise);
  // Counts draw from positions 0..slots-1; each summary's two sums after them.
  const sumPositions = (mi: number): [number, number] => [
    slots.length + 2 * mi,
    slots.length + 2 * mi + 1,
  ];
  return {
    cells: slots.map((slot, i) => cells.cell(validCount(slot.raw), i)),
    summary: (m, mi, n) =>
      laplaceSummary(m, n, ctx.summaryBounds?.[mi], policy, noise, sumPositions(mi)),
    maxNoise: cells.bound,
  };
}

function exactOrCellKeyAnswer(
  slots: readonly Slot[],
  groups: readonly SuppressionGroup[],
  policy: NodePolicy,
): Answer {
  const fates = slots.map((slot) => fateOf(slot, policy));
  const counts = slots.map((slot, i) =>
    fates[i]!.kind === 'invalid' ? undefined : validCount(slot.raw),
  );
  const open = policy.mechanism === 'none';
  const secondary =
    !open && policy.secondarySuppression
      ? secondarySuppression(
          counts,
          fates.map((f) => f.kind !== 'released'),
          groups,
          policy.threshold,
        )
      : new Set<number>();

  const maxNoise = open ? 0 : policy.cellKey.maxNoise;
  const totalFate = fates[0]!;
  const upper =
    totalFate.kind === 'released' && !secondary.has(0)
      ? Math.min(COUNT_MAX, totalFate.count + maxNoise + policy.rounding - 1)
      : COUNT_MAX;
  const smallRange: [number, number] = open ? [0, COUNT_MAX] : [0, policy.threshold - 1];

  const cellAt = (i: number): Cell => {
    const fate = fates[i]!;
    if (secondary.has(i)) {
      return { suppressed: true, range: [0, i === 0 ? COUNT_MAX : upper] };
    }
    if (fate.kind === 'released') {
      return fate.perturbed ? { count: fate.count, perturbed: true } : { count: fate.count };
    }
    return { suppressed: true, range: [smallRange[0], smallRange[1]] };
  };
  return {
    cells: slots.map((_, i) => cellAt(i)),
    // Cell-key has no noise for sums: n alone. The open policy releases them as they are.
    summary: (m) => (open ? openSummary(m) : undefined),
    maxNoise,
  };
}

function histogramResult(
  m: RawHistogram,
  at: readonly number[],
  cells: readonly Cell[],
): MeasureResult {
  return {
    type: 'histogram',
    unit: m.unit,
    bins: m.bins.map((bin, b) => ({
      from: bin.from,
      ...(bin.to === undefined ? {} : { to: bin.to }),
      cell: cells[at[b]!]!,
    })),
    missing: cells[at[m.bins.length]!]!,
  };
}
