// Disclosure control: true figures (RawResult) in, the released parts of a
// NodeResult out. Pure: cell-key noise is a lookup in a table that is a fixed
// function of the policy; the only randomness (Laplace mode) comes from the
// injected source.
//
// Every count becomes a Cell:
// - a true count 1..threshold-1 is suppressed with range [1, threshold-1]
//   ([0, threshold-1] when suppressZero, so zeros and small counts look alike);
// - 0 is released as 0, unperturbed: the empty set has no members and so no
//   noise, and no non-zero count can be released as 0;
// - a count >= threshold gets noise (cell-key table, or Laplace), then rounding
//   to a multiple of `rounding`, then, if below the threshold, the smallest
//   multiple of `rounding` at or above it. It is always marked perturbed, so a
//   zero draw is not revealed. |released - true| <= maxNoise + rounding - 1.
// - a cell suppressed by the secondary rule (see secondary.ts) has a true count
//   of 0 or >= threshold; its range is [0, released total + maxNoise +
//   rounding - 1], the same for both, so a suppressed zero is not told apart.
// - a count that is not a whole number in [0, 10^9] (NaN, Infinity, overflow) or
//   whose cell key is not a 32-bit unsigned integer, or any arithmetic error,
//   gives exactly the cell a small count gives, with no extra detail.
//
// Mean and sd (summary) are released only under cell-key (or open) mode, when
// n >= summary.minN, one patient holds at most the `dominance` share of the
// sum of absolute values, the values are not all equal (sd 0 would reveal
// every patient's value) and everything is finite. Laplace mode withholds them:
// releasing exact statistics would break its formal guarantee.
//
// Mechanism `none` (the open policy) releases every count as it is.
import type { Cell, Disclosure, MeasureResult, Stratum, StratumKey } from '@tessera/schemas';
import type { RawCell, RawHistogram, RawResult, RawSummary } from '../engine/raw-result.ts';
import { nodeProblem } from '../errors.ts';
import { type RandomSource, laplaceBound, laplaceNoise } from './laplace.ts';
import { type PerturbationTable, perturbationTable, cellKeyNoise } from './perturbation-table.ts';
import type { NodePolicy } from './policy.ts';
import { type SuppressionGroup, secondarySuppression, strataGroups } from './secondary.ts';

/** The largest count the NodeResult schema carries. */
export const COUNT_MAX = 1_000_000_000;

const CELL_KEY_LIMIT = 0x1_0000_0000;

export interface ProtectContext {
  /** Uniform [0, 1) source for Laplace noise; unused by the other mechanisms. */
  readonly random: RandomSource;
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
  /** How many cells of its table one patient can change (Laplace scale = sensitivity / epsilon). */
  readonly sensitivity: number;
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

interface Noise {
  readonly table: PerturbationTable | undefined;
  readonly random: RandomSource;
  readonly epsilon: number;
}

function noisyCount(count: number, slot: Slot, policy: NodePolicy, noise: Noise): number {
  const { threshold, rounding } = policy;
  const delta = noise.table
    ? cellKeyNoise(noise.table, threshold, count, slot.raw.cellKey)
    : Math.round(laplaceNoise(slot.sensitivity / noise.epsilon, noise.random));
  let released = count + delta;
  if (rounding > 1) released = Math.round(released / rounding) * rounding;
  if (released < threshold) released = Math.ceil(threshold / rounding) * rounding;
  released = Math.min(released, COUNT_MAX);
  if (!Number.isSafeInteger(released)) throw new Error('noisy count out of range');
  return released;
}

function fateOf(slot: Slot, policy: NodePolicy, noise: Noise): Fate {
  try {
    const count = validCount(slot.raw);
    if (count === undefined) return { kind: 'invalid' };
    if (policy.mechanism === 'none') return { kind: 'released', count, perturbed: false };
    if (count === 0) {
      return policy.suppressZero
        ? { kind: 'suppressed' }
        : { kind: 'released', count: 0, perturbed: false };
    }
    if (count < policy.threshold) return { kind: 'suppressed' };
    return { kind: 'released', count: noisyCount(count, slot, policy, noise), perturbed: true };
  } catch {
    return { kind: 'invalid' };
  }
}

/** The noise bound a released count carries, rounding aside. */
function statedMaxNoise(policy: NodePolicy, slots: readonly Slot[]): number {
  switch (policy.mechanism) {
    case 'none':
      return 0;
    case 'cell-key':
      return policy.cellKey.maxNoise;
    case 'laplace': {
      const sensitivity = Math.max(1, ...slots.map((s) => s.sensitivity));
      return laplaceBound(sensitivity / policy.laplace.epsilon, policy.laplace.confidence);
    }
  }
}

/**
 * What the node states about its disclosure control, in every answer.
 * @example disclosureOf(policy, 2) // { threshold: 10, mechanism: 'cell-key', maxNoise: 2, rounding: 1, ... }
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
      ? { epsilon: policy.laplace.epsilon, confidence: policy.laplace.confidence }
      : {}),
    suppressZero: policy.suppressZero,
    secondarySuppression: policy.secondarySuppression,
  };
}

/** Refuses a result wider than the policy allows, even if the query check was skipped. */
function checkShape(raw: RawResult, policy: NodePolicy): number {
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
  // One patient is in at most one stratum per code when codes overlap.
  return raw.overlapping ? Math.max(1, codes.size) : 1;
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

/** Mean and sd to release for a summary, or undefined to withhold them. */
function summaryFigures(
  raw: RawSummary,
  nCount: number | undefined,
  nReleased: boolean,
  policy: NodePolicy,
): { mean?: number; sd?: number } | undefined {
  const { mean, sd } = raw;
  if (policy.mechanism === 'none') {
    const open = {
      ...(isFiniteNumber(mean) ? { mean } : {}),
      ...(isFiniteNumber(sd) && sd >= 0 ? { sd } : {}),
    };
    return Object.keys(open).length > 0 ? open : undefined;
  }
  if (policy.mechanism === 'laplace' || nCount === undefined || !nReleased) return undefined;
  if (nCount < Math.max(policy.summary.minN, policy.threshold)) return undefined;
  if (!isFiniteNumber(mean) || !isFiniteNumber(sd) || !(sd > 0)) return undefined;
  const { sumAbs, maxAbs } = raw;
  if (!Number.isFinite(sumAbs) || !Number.isFinite(maxAbs)) return undefined;
  if (!(sumAbs > 0) || maxAbs < 0 || maxAbs > sumAbs) return undefined;
  if (!(maxAbs / sumAbs <= policy.summary.dominance)) return undefined;
  return { mean, sd };
}

/**
 * Turns true figures into releasable Cells under the policy (threats 1-6,
 * 10, 12, 13). Throws ERR_QUERY_INVALID when the result has more strata or
 * codes than the policy allows (threat 11).
 * @example protect(raw, policy, { random }).total // { count: 118, perturbed: true }
 */
export function protect(raw: RawResult, policy: NodePolicy, ctx: ProtectContext): ProtectedResult {
  const strataSensitivity = checkShape(raw, policy);

  // Every count of the answer in one list: 0 total, then strata, then measures.
  const slots: Slot[] = [{ raw: raw.total, sensitivity: 1 }];
  for (const s of raw.strata) slots.push({ raw: s.cell, sensitivity: strataSensitivity });
  const groups: SuppressionGroup[] = strataGroups(
    raw.strata.map((s) => s.key),
    1, // strata start at slot 1
    0, // and add up to the total, slot 0
  );
  const measureSlots: number[][] = [];
  for (const m of raw.measures) {
    const start = slots.length;
    if (m.type === 'histogram') {
      for (const bin of m.bins) slots.push({ raw: bin.cell, sensitivity: 1 });
      slots.push({ raw: m.missing, sensitivity: 1 });
      // Bins and missing add up to the cohort's total.
      groups.push({ members: range(start, slots.length), sum: 0 });
    } else if (m.type === 'summary') {
      slots.push({ raw: m.n, sensitivity: 1 });
    }
    measureSlots.push(range(start, slots.length));
  }

  const noise: Noise = {
    table:
      policy.mechanism === 'cell-key'
        ? perturbationTable(policy.cellKey.maxNoise, policy.cellKey.table)
        : undefined,
    random: ctx.random,
    epsilon: policy.laplace.epsilon,
  };
  const fates = slots.map((slot) => fateOf(slot, policy, noise));
  const counts = slots.map((slot, i) =>
    fates[i]!.kind === 'invalid' ? undefined : validCount(slot.raw),
  );

  const secondary =
    policy.mechanism !== 'none' && policy.secondarySuppression
      ? secondarySuppression(
          counts,
          fates.map((f) => f.kind !== 'released'),
          groups,
          policy.threshold,
        )
      : new Set<number>();

  const maxNoise = statedMaxNoise(policy, slots);
  const totalFate = fates[0]!;
  const upper =
    totalFate.kind === 'released' && !secondary.has(0)
      ? Math.min(COUNT_MAX, totalFate.count + maxNoise + policy.rounding - 1)
      : COUNT_MAX;
  const smallRange: [number, number] =
    policy.mechanism === 'none'
      ? [0, COUNT_MAX]
      : [policy.suppressZero ? 0 : 1, policy.threshold - 1];

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
  const released = (i: number): boolean => fates[i]!.kind === 'released' && !secondary.has(i);

  const measures = raw.measures.map((m, mi): MeasureResult => {
    const at = measureSlots[mi]!;
    switch (m.type) {
      case 'count':
        return { type: 'count' };
      case 'histogram':
        return histogramResult(m, at, cellAt);
      case 'summary': {
        const n = at[0]!;
        let figures: { mean?: number; sd?: number } | undefined;
        try {
          figures = summaryFigures(m, counts[n], released(n), policy);
        } catch {
          figures = undefined;
        }
        return figures
          ? { type: 'summary', unit: m.unit, n: cellAt(n), ...figures }
          : { type: 'summary', unit: m.unit, n: cellAt(n), suppressed: true };
      }
    }
  });

  return {
    total: cellAt(0),
    strata: raw.strata.map((s, i) => ({ key: copyKey(s.key), cell: cellAt(i + 1) })),
    measures,
    disclosure: disclosureOf(policy, maxNoise),
    overlapping: raw.overlapping,
  };
}

function histogramResult(
  m: RawHistogram,
  at: readonly number[],
  cellAt: (i: number) => Cell,
): MeasureResult {
  return {
    type: 'histogram',
    unit: m.unit,
    bins: m.bins.map((bin, b) => ({
      from: bin.from,
      ...(bin.to === undefined ? {} : { to: bin.to }),
      cell: cellAt(at[b]!),
    })),
    missing: cellAt(at[m.bins.length]!),
  };
}
