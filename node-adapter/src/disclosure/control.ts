// The node's disclosure control as one object built from the loaded policy:
// what the evaluation pipeline calls to limit, charge and protect a query.
import type { CohortQuery, Dimension, Measure, QueryLimits, StratumKey } from '@tessera/schemas';
import type { RawCell, RawMeasure, RawResult } from '../engine/raw-result.ts';
import { type RandomSource, epsilonFor } from './laplace.ts';
import { type NodePolicy, policyQueryLimits } from './policy.ts';
import { type ProtectedResult, protect } from './protect.ts';
import { secureRandom } from './random.ts';

type QueryShape = Pick<CohortQuery, 'stratify' | 'measures'>;

export interface DisclosureControl {
  readonly policy: NodePolicy;
  /** Query limits for parseQuery: strata and codes per dimension (threat 11). */
  readonly limits: QueryLimits;
  /** Epsilon to charge to the budget ledger before releasing, or undefined when none is spent. */
  epsilonFor(query: QueryShape): number | undefined;
  protect(raw: RawResult): ProtectedResult;
  /**
   * The answer when evaluation failed in a way one patient's data could cause
   * (timeout, arithmetic error): every cell exactly as a suppressed one (threat 13).
   */
  suppressedLike(query: QueryShape): ProtectedResult;
}

const GENDERS = ['female', 'male', 'other', 'unknown'] as const;

/** The labels of one dimension's strata, as StratumKey fragments. */
function dimensionKeys(dimension: Dimension): StratumKey[] {
  if (dimension === 'gender') return GENDERS.map((gender) => ({ gender }));
  if (dimension === 'deceased') return [{ deceased: 'true' }, { deceased: 'false' }];
  if ('ageBand' in dimension) {
    const edges = dimension.ageBand;
    return edges.map((edge, i) => {
      const next = edges[i + 1];
      return { ageBand: next === undefined ? `${edge}+` : `${edge}-${next - 1}` };
    });
  }
  return dimension.codes.in.map((c) => ({ codes: `${c.system}|${c.code}` }));
}

/**
 * Every stratum key of a stratification's cross product, first dimension outermost.
 * @example strataKeys(['deceased', 'gender']).length // 8
 */
export function strataKeys(stratify: readonly Dimension[]): StratumKey[] {
  if (stratify.length === 0) return [];
  return stratify.reduce<StratumKey[]>(
    (keys, dimension) => keys.flatMap((k) => dimensionKeys(dimension).map((d) => ({ ...k, ...d }))),
    [{}],
  );
}

/** A cell whose count is unknown: protect answers it exactly as a suppressed one. */
const UNKNOWN: RawCell = Object.freeze({ count: Number.NaN, cellKey: 0 });

function unknownMeasure(measure: Measure): RawMeasure {
  if ('histogram' in measure) {
    const { edges, unit } = measure.histogram;
    return {
      type: 'histogram',
      unit,
      bins: edges.map((from, i) => {
        const to = edges[i + 1];
        return to === undefined ? { from, cell: UNKNOWN } : { from, to, cell: UNKNOWN };
      }),
      missing: UNKNOWN,
    };
  }
  if ('summary' in measure) {
    return {
      type: 'summary',
      unit: measure.summary.unit,
      n: UNKNOWN,
      mean: null,
      sd: null,
      sumAbs: Number.NaN,
      maxAbs: Number.NaN,
    };
  }
  return { type: 'count' };
}

/**
 * A RawResult of the query's shape in which every count is unknown.
 * @example unknownResult({ stratify: ['gender'] }).strata.length // 4
 */
export function unknownResult(query: QueryShape): RawResult {
  const stratify = query.stratify ?? [];
  return {
    total: UNKNOWN,
    strata: strataKeys(stratify).map((key) => ({ key, cell: UNKNOWN })),
    overlapping: stratify.some((d) => typeof d === 'object' && 'codes' in d),
    measures: (query.measures ?? [{ count: 'patients' }]).map(unknownMeasure),
  };
}

/**
 * Builds the disclosure control for a loaded policy; `random` feeds Laplace
 * noise and defaults to the operating system's CSPRNG.
 * @example const control = createDisclosureControl(loadPolicy(json, { allowOpen: false }));
 */
export function createDisclosureControl(
  policy: NodePolicy,
  deps: { readonly random?: RandomSource } = {},
): DisclosureControl {
  const ctx = { random: deps.random ?? secureRandom };
  return Object.freeze({
    policy,
    limits: policyQueryLimits(policy),
    epsilonFor: (query: QueryShape) => epsilonFor(query, policy),
    protect: (raw: RawResult) => protect(raw, policy, ctx),
    suppressedLike: (query: QueryShape) => protect(unknownResult(query), policy, ctx),
  });
}
