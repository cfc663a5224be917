// Adapts the node policy to the evaluation pipeline's DisclosureControl port.
import { createHmac } from 'node:crypto';
import { compileQuery, decodeRows, duckDbDialect } from '../engine/index.ts';
import { PART_TOTAL, type ResultPlan } from '../engine/compile.ts';
import type { RawCell, RawMeasure, RawResult } from '../engine/raw-result.ts';
import { noiseIdOf } from './budget.ts';
import { keyedNoise } from './keyed-noise.ts';
import { epsilonFor } from './laplace.ts';
import {
  type NodePolicy,
  checkHistogramGrid,
  policyQueryLimits,
  summaryBoundsFor,
} from './policy.ts';
import { protect } from './protect.ts';
import type {
  DisclosureControl,
  EvaluableQuery,
  ReleaseKey,
  SourceQuery,
} from '../evaluate/ports.ts';

const UNKNOWN: RawCell = Object.freeze({ count: Number.NaN, cellKey: 0 });

/**
 * The fewest rows a statement answers with: the total and one per summary.
 * Their figures are replaced by unknown ones below; decodeRows fills in the rest.
 */
function placeholderRows(plan: ResultPlan): Record<string, unknown>[] {
  const summaries = plan.measures.flatMap((m) =>
    m.type === 'summary' ? [{ part: m.part, n: 0, ck: 0, f2: 0, f3: 0 }] : [],
  );
  return [{ part: PART_TOTAL, n: 0, ck: 0 }, ...summaries];
}

/** The query's result shape with every figure unknown, which protection suppresses. */
function unknownResult(query: EvaluableQuery): RawResult {
  const { plan } = compileQuery(query, { dialect: duckDbDialect });
  const shape = decodeRows(plan, placeholderRows(plan));
  const measures = shape.measures.map((m): RawMeasure => {
    switch (m.type) {
      case 'count':
        return m;
      case 'histogram':
        return { ...m, bins: m.bins.map((b) => ({ ...b, cell: UNKNOWN })), missing: UNKNOWN };
      case 'summary':
        return {
          ...m,
          n: UNKNOWN,
          mean: null,
          sd: null,
          clampedSum: null,
          clampedSumSquares: null,
        };
    }
  });
  return {
    total: UNKNOWN,
    strata: shape.strata.map((s) => ({ key: s.key, cell: UNKNOWN })),
    overlapping: shape.overlapping,
    measures,
  };
}

/**
 * The node's disclosure control under its policy; `noiseKey` is the node's
 * secret for keyed noise (16 bytes or more, kept in its state directory).
 * @example const control = createDisclosureControl(policy, await loadOrCreateRecordKeyFile(path));
 */
export function createDisclosureControl(
  policy: NodePolicy,
  noiseKey: Uint8Array,
): DisclosureControl {
  // The key's fingerprint is part of the noise identity: a new key draws new
  // noise for every query, so none may pass as already paid for.
  const fingerprint = createHmac('sha256', noiseKey).update('tessera-noise-key-id').digest('hex');
  const noise = `${noiseIdOf(policy)}:${fingerprint.slice(0, 16)}`;
  const contextOf = (query: SourceQuery, release: ReleaseKey) => ({
    noise: keyedNoise(noiseKey, { ...release, noise }),
    ...(query.summaryBounds === undefined ? {} : { summaryBounds: query.summaryBounds }),
  });
  return {
    limits: policyQueryLimits(policy),
    noise,
    check: (query, pointer) => checkHistogramGrid(query, policy, pointer),
    summaryBounds: (query) => summaryBoundsFor(query, policy),
    epsilonFor: (query) => epsilonFor(query, policy),
    protect: (raw, query, release) => protect(raw, policy, contextOf(query, release)),
    suppressedLike: (query, release) =>
      protect(unknownResult(query), policy, contextOf(query, release)),
  };
}
