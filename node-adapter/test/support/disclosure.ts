// Shared helpers for the disclosure tests: seeded randomness, member sets with
// record keys, policies of each mechanism, release contexts with keyed noise,
// raw results, and wrapping released parts into a NodeResult.
import { createHash } from 'node:crypto';
import type { Cell, Dimension, NodeResult, StratumKey } from '@tessera/schemas';
import { ageBandLabels } from '../../src/engine/age.ts';
import type { RawCell, RawMeasure, RawResult, RawSummary } from '../../src/engine/raw-result.ts';
import type { SummaryBounds } from '../../src/engine/bounds.ts';
import { cellKeyOf } from '../../src/store/record-key.ts';
import { noiseIdOf } from '../../src/disclosure/budget.ts';
import { type DiscreteLaplace, probabilityOf } from '../../src/disclosure/discrete-laplace.ts';
import { keyedNoise } from '../../src/disclosure/keyed-noise.ts';
import { SUM_GRID, laplaceDistributions } from '../../src/disclosure/laplace-release.ts';
import { type NodePolicy, loadPolicy } from '../../src/disclosure/policy.ts';
import type { ProtectContext, ProtectedResult } from '../../src/disclosure/protect.ts';

/** Uniform [0, 1) numbers. */
export type RandomSource = () => number;

/** A small seeded PRNG (mulberry32): uniform [0, 1), reproducible. */
export function seeded(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n patients' record keys drawn from a seeded source. */
export function recordKeys(n: number, random: RandomSource): number[] {
  return Array.from({ length: n }, () => Math.floor(random() * 0x1_0000_0000));
}

/** The raw cell of a set of patients, given by their record keys. */
export function cellOf(keys: readonly number[]): RawCell {
  return { count: keys.length, cellKey: cellKeyOf(keys) };
}

/** A cell with a given count and key. */
export function cell(count: number, cellKey = 0x9e37_79b9): RawCell {
  return { count, cellKey };
}

/** A policy with defaults, open allowed. */
export function policyOf(json: Record<string, unknown> = {}): NodePolicy {
  return loadPolicy(json, { allowOpen: true });
}

/** A cell-key policy with defaults otherwise. */
export function cellKeyPolicy(json: Record<string, unknown> = {}): NodePolicy {
  return policyOf({ mechanism: 'cell-key', ...json });
}

/** A laplace policy (the default mechanism, said explicitly) with defaults otherwise. */
export function laplacePolicy(json: Record<string, unknown> = {}): NodePolicy {
  return policyOf({ mechanism: 'laplace', ...json });
}

/** The variance of a noise distribution, summed over its whole support. */
export function noiseVariance(dist: DiscreteLaplace): number {
  let variance = 0;
  for (let k = -dist.bound; k <= dist.bound; k++) variance += k * k * probabilityOf(dist, k);
  return variance;
}

/**
 * The standard deviation of a laplace mean's error, to first order. The mean
 * is c + (S + step * dS) / (n + dn), with S the exact centred sum n (truth - c),
 * dS the sum's noise on its grid of step w/SUM_GRID (laplace-release.ts) and dn the
 * released n's noise, so its error is ((c - truth) dn + step dS) / (n + dn).
 */
export function meanErrorSd(
  policy: NodePolicy,
  n: number,
  truth: number,
  bounds: SummaryBounds,
): number {
  const dist = laplaceDistributions(policy);
  const centre = (bounds.min + bounds.max) / 2;
  const step = (bounds.max - bounds.min) / 2 / SUM_GRID;
  const variance =
    (centre - truth) ** 2 * noiseVariance(dist.count) + step ** 2 * noiseVariance(dist.sum);
  return Math.sqrt(variance) / n;
}

/** A context whose noise fails: cell-key and open protection must never use it. */
export const NO_NOISE: ProtectContext = {
  noise: () => {
    throw new Error('noise used');
  },
};

/** A fixed test noise key. */
export const TEST_NOISE_KEY = new Uint8Array(32).fill(7);

/** A canonical-looking query hash, distinct for every distinct label. */
export function queryHashOf(label: string | number): `sha256:${string}` {
  return `sha256:${createHash('sha256').update(String(label)).digest('hex')}`;
}

/** What a release is keyed by in a test: the query, the data version and the node's noise key. */
export interface TestRelease {
  readonly queryHash?: string;
  readonly dataVersion?: string;
  readonly key?: Uint8Array;
  readonly summaryBounds?: readonly (SummaryBounds | undefined)[];
}

/** The protection context the node builds for one release under a policy (noise id from the policy). */
export function releaseContext(policy: NodePolicy, release: TestRelease = {}): ProtectContext {
  const noise = keyedNoise(release.key ?? TEST_NOISE_KEY, {
    queryHash: release.queryHash ?? queryHashOf('query'),
    dataVersion: release.dataVersion ?? 'v1',
    noise: noiseIdOf(policy),
  });
  return release.summaryBounds === undefined
    ? { noise }
    : { noise, summaryBounds: release.summaryBounds };
}

/** A result with a lone total and the given measures (a count by default). */
export function lone(
  total: RawCell,
  measures: readonly RawMeasure[] = [{ type: 'count' }],
): RawResult {
  return { total, strata: [], overlapping: false, measures };
}

/**
 * The raw summary the engine computes over per-patient values, with the sums
 * clamped to `bounds` (null without bounds), as the RawSummary contract states.
 */
export function summaryOf(
  values: readonly number[],
  bounds: SummaryBounds | undefined,
  unit = 'mg/dL',
  cellKey = 0x5151_5151,
): RawSummary {
  const n = values.length;
  const mean = n === 0 ? null : values.reduce((a, b) => a + b, 0) / n;
  const sd =
    n < 2 || mean === null
      ? null
      : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const clamped = bounds && values.map((v) => Math.min(bounds.max, Math.max(bounds.min, v)));
  return {
    type: 'summary',
    unit,
    n: { count: n, cellKey },
    mean,
    sd,
    sumAbs: values.reduce((a, v) => a + Math.abs(v), 0),
    maxAbs: values.reduce((a, v) => Math.max(a, Math.abs(v)), 0),
    clampedSum: clamped ? clamped.reduce((a, b) => a + b, 0) : null,
    clampedSumSquares: clamped ? clamped.reduce((a, b) => a + b * b, 0) : null,
  };
}

/** The released count of a cell, or undefined when it is suppressed. */
export function countOf(c: Cell): number | undefined {
  return 'count' in c ? c.count : undefined;
}

/** The released parts as a whole NodeResult. */
export function asNodeResult(parts: ProtectedResult): NodeResult {
  return {
    node: 'test-node',
    queryHash: `sha256:${'0'.repeat(64)}`,
    dataVersion: '2026-11-20T10:00:00Z#a1b2',
    evaluatedAt: '2026-11-21T10:00:00.000Z',
    elapsedMs: 12,
    disclosure: parts.disclosure,
    total: parts.total,
    ...(parts.overlapping ? { overlapping: true } : {}),
    strata: parts.strata,
    measures: parts.measures,
  };
}

const GENDERS = ['female', 'male', 'other', 'unknown'] as const;

function dimensionKeys(dimension: Dimension): StratumKey[] {
  if (dimension === 'gender') return GENDERS.map((gender) => ({ gender }));
  if (dimension === 'deceased') return [{ deceased: 'true' }, { deceased: 'false' }];
  if ('ageBand' in dimension)
    return ageBandLabels(dimension.ageBand).map((ageBand) => ({ ageBand }));
  return dimension.codes.in.map((c) => ({ codes: `${c.system}|${c.code}` }));
}

/** Stratum keys of a stratification's cross product, labelled as the query-language page does. */
export function strataKeys(stratify: readonly Dimension[]): StratumKey[] {
  if (stratify.length === 0) return [];
  return stratify.reduce<StratumKey[]>(
    (keys, dimension) => keys.flatMap((k) => dimensionKeys(dimension).map((d) => ({ ...k, ...d }))),
    [{}],
  );
}
