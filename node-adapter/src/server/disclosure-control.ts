// Adapts the node policy to the evaluation pipeline's DisclosureControl port.
import { randomInt } from 'node:crypto';
import { compileQuery, decodeRows, duckDbDialect } from '../engine/index.ts';
import type { RawCell, RawMeasure, RawResult } from '../engine/raw-result.ts';
import { epsilonFor } from '../disclosure/laplace.ts';
import { type NodePolicy, policyQueryLimits } from '../disclosure/policy.ts';
import { protect } from '../disclosure/protect.ts';
import type { DisclosureControl, EvaluableQuery } from '../service/ports.ts';

/** A uniform [0, 1) source from the OS's CSPRNG, for Laplace noise. */
function secureRandom(): number {
  return randomInt(0, 2 ** 48) / 2 ** 48;
}

const UNKNOWN: RawCell = Object.freeze({ count: Number.NaN, cellKey: 0 });

/** The query's result shape with every figure unknown, which protection suppresses. */
function unknownResult(query: EvaluableQuery): RawResult {
  const shape = decodeRows(compileQuery(query, { dialect: duckDbDialect }).plan, []);
  const measures = shape.measures.map((m): RawMeasure => {
    switch (m.type) {
      case 'count':
        return m;
      case 'histogram':
        return { ...m, bins: m.bins.map((b) => ({ ...b, cell: UNKNOWN })), missing: UNKNOWN };
      case 'summary':
        return { ...m, n: UNKNOWN, mean: null, sd: null };
    }
  });
  return {
    total: UNKNOWN,
    strata: shape.strata.map((s) => ({ key: s.key, cell: UNKNOWN })),
    overlapping: shape.overlapping,
    measures,
  };
}

export function createDisclosureControl(policy: NodePolicy): DisclosureControl {
  return {
    limits: policyQueryLimits(policy),
    epsilonFor: (query) => epsilonFor(query, policy),
    protect: (raw) => protect(raw, policy, { random: secureRandom }),
    suppressedLike: (query) => protect(unknownResult(query), policy, { random: secureRandom }),
  };
}
