// Generated from schemas/json/merged-result.schema.json by `npm run generate:types`. Do not edit.

/**
 * [lowest, highest] the true count can be.
 *
 * @minItems 2
 * @maxItems 2
 *
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Bounds".
 */
export type Bounds = [number, number];
/**
 * [lowest, highest] the true sum can be.
 *
 * @minItems 2
 * @maxItems 2
 *
 * This interface was referenced by `MergedResult`'s JSON-Schema
 * via the `definition` "MergedBounds".
 */
export type MergedBounds = [number, number];
/**
 * This interface was referenced by `MergedResult`'s JSON-Schema
 * via the `definition` "MergedMeasure".
 */
export type MergedMeasure =
  | {
      type: 'count';
    }
  | {
      type: 'histogram';
      unit: string;
      bins: {
        from: number;
        to?: number;
        cell: MergedCell;
      }[];
      missing: MergedCell;
    }
  | {
      type: 'summary';
      unit: string;
      n: MergedCell;
      mean?: number;
      sd?: number;
      /**
       * nodes whose n, mean and sd were pooled: those that released mean and sd with a released n, weighted by that n. When `n` has no count, the mean and sd describe these nodes only.
       */
      pooledFrom?: string[];
    };

/**
 * The gateway's answer: every node's outcome, plus merged cells whose range is guaranteed to contain the true sum over the nodes that answered and whose interval contains it at the stated confidence.
 */
export interface MergedResult {
  queryId?: string;
  /**
   * This interface was referenced by `NodeResult`'s JSON-Schema
   * via the `definition` "QueryHash".
   */
  queryHash: string;
  asOf?: string;
  complete: boolean;
  missing?: string[];
  nodes: NodeOutcome[];
  /**
   * What this answer cost at each node and what the project and the researcher have spent there of their limits, this answer included: one entry per answering node whose result carried a budget, sorted by node. Given even when the figures are withheld.
   */
  budget?: NodeBudget[];
  /**
   * Level of every merged cell's interval: 1 minus the sum, over the answering nodes that state a disclosure.confidence, of (1 - that confidence) (Bonferroni), so each merged interval holds at least this often whatever the noise at each node. Absent, and so is every interval, when no answering node states a confidence, when that sum reaches 1, or when the figures are withheld.
   */
  confidence?: number;
  total: MergedCell;
  overlapping?: boolean;
  strata: {
    key: StratumKey;
    cell: MergedCell;
  }[];
  measures: MergedMeasure[];
  /**
   * What the researcher should know to read the figures, from the federated catalogue (of the nodes whose catalogue the gateway could read): a coding of the query that no node lists. Absent when there is none. A warning never changes a figure.
   */
  warnings?: Warning[];
}
/**
 * This interface was referenced by `MergedResult`'s JSON-Schema
 * via the `definition` "NodeOutcome".
 */
export interface NodeOutcome {
  node: string;
  status: 'ok' | 'timeout' | 'unavailable' | 'refused' | 'error' | 'cancelled';
  /**
   * The node's problem code when refused.
   */
  code?: string;
  elapsedMs?: number;
  attempts?: number;
  result?: NodeResult;
}
/**
 * A node's disclosure-controlled answer to one query. Nothing beyond this shape may leave a node.
 */
export interface NodeResult {
  node: string;
  /**
   * This interface was referenced by `NodeResult`'s JSON-Schema
   * via the `definition` "QueryHash".
   */
  queryHash: string;
  dataVersion: string;
  evaluatedAt: string;
  elapsedMs: number;
  disclosure: Disclosure;
  budget?: Budget;
  /**
   * A count as released. A perturbed count carries `range`, bounds that always hold, and `interval`, bounds that hold at disclosure.confidence. A suppressed cell carries only its bounds: the true count is small, or its noisy count fell below the threshold.
   *
   * This interface was referenced by `NodeResult`'s JSON-Schema
   * via the `definition` "Cell".
   */
  total:
    | {
        /**
         * This interface was referenced by `NodeResult`'s JSON-Schema
         * via the `definition` "Count".
         */
        count: number;
        perturbed?: true;
        range?: Bounds;
        interval?: Bounds;
      }
    | {
        suppressed: true;
        range: Bounds;
        interval?: Bounds;
      };
  /**
   * True when a codes dimension puts a patient in several strata.
   */
  overlapping?: boolean;
  /**
   * @maxItems 5000
   */
  strata: Stratum[];
  /**
   * @maxItems 10
   */
  measures: (
    | {
        type: 'count';
      }
    | {
        type: 'histogram';
        unit: string;
        /**
         * @maxItems 51
         */
        bins: {
          from: number;
          to?: number;
          /**
           * A count as released. A perturbed count carries `range`, bounds that always hold, and `interval`, bounds that hold at disclosure.confidence. A suppressed cell carries only its bounds: the true count is small, or its noisy count fell below the threshold.
           *
           * This interface was referenced by `NodeResult`'s JSON-Schema
           * via the `definition` "Cell".
           */
          cell:
            | {
                /**
                 * This interface was referenced by `NodeResult`'s JSON-Schema
                 * via the `definition` "Count".
                 */
                count: number;
                perturbed?: true;
                range?: Bounds;
                interval?: Bounds;
              }
            | {
                suppressed: true;
                range: Bounds;
                interval?: Bounds;
              };
        }[];
        /**
         * A count as released. A perturbed count carries `range`, bounds that always hold, and `interval`, bounds that hold at disclosure.confidence. A suppressed cell carries only its bounds: the true count is small, or its noisy count fell below the threshold.
         *
         * This interface was referenced by `NodeResult`'s JSON-Schema
         * via the `definition` "Cell".
         */
        missing:
          | {
              /**
               * This interface was referenced by `NodeResult`'s JSON-Schema
               * via the `definition` "Count".
               */
              count: number;
              perturbed?: true;
              range?: Bounds;
              interval?: Bounds;
            }
          | {
              suppressed: true;
              range: Bounds;
              interval?: Bounds;
            };
      }
    | {
        type: 'summary';
        unit: string;
        /**
         * A count as released. A perturbed count carries `range`, bounds that always hold, and `interval`, bounds that hold at disclosure.confidence. A suppressed cell carries only its bounds: the true count is small, or its noisy count fell below the threshold.
         *
         * This interface was referenced by `NodeResult`'s JSON-Schema
         * via the `definition` "Cell".
         */
        n:
          | {
              /**
               * This interface was referenced by `NodeResult`'s JSON-Schema
               * via the `definition` "Count".
               */
              count: number;
              perturbed?: true;
              range?: Bounds;
              interval?: Bounds;
            }
          | {
              suppressed: true;
              range: Bounds;
              interval?: Bounds;
            };
        /**
         * From noisy sums of values clamped to the policy's bounds (laplace); never exact.
         */
        mean?: number;
        sd?: number;
        /**
         * mean and sd withheld: n not released or below summary.minN, no clamping bounds for the unit, or a mechanism that releases none
         */
        suppressed?: true;
      }
  )[];
}
/**
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Disclosure".
 */
export interface Disclosure {
  threshold: number;
  mechanism: 'cell-key' | 'laplace' | 'none';
  /**
   * Largest absolute noise added to a released count, a hard bound: laplace noise is truncated there.
   */
  maxNoise: number;
  rounding: number;
  /**
   * Privacy loss of one table (laplace); each count's noise is discrete Laplace with scale 1/epsilon.
   */
  epsilon?: number;
  /**
   * Probability per table that the epsilon bound fails (laplace), from truncating the noise at maxNoise.
   */
  delta?: number;
  /**
   * Level of every cell's interval.
   */
  confidence?: number;
  suppressZero?: boolean;
  secondarySuppression?: boolean;
}
/**
 * What this answer cost at this node and what the project and the researcher have spent of their limits in the period, in epsilon (laplace). The same query on the same data costs 0 the second time.
 *
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Budget".
 */
export interface Budget {
  cost: number;
  periodDays: number;
  project: Account;
  researcher: Account;
}
/**
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Account".
 */
export interface Account {
  spent: number;
  limit: number;
}
/**
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Stratum".
 */
export interface Stratum {
  key: StratumKey;
  /**
   * A count as released. A perturbed count carries `range`, bounds that always hold, and `interval`, bounds that hold at disclosure.confidence. A suppressed cell carries only its bounds: the true count is small, or its noisy count fell below the threshold.
   *
   * This interface was referenced by `NodeResult`'s JSON-Schema
   * via the `definition` "Cell".
   */
  cell:
    | {
        /**
         * This interface was referenced by `NodeResult`'s JSON-Schema
         * via the `definition` "Count".
         */
        count: number;
        perturbed?: true;
        range?: Bounds;
        interval?: Bounds;
      }
    | {
        suppressed: true;
        range: Bounds;
        interval?: Bounds;
      };
}
/**
 * One label per stratify dimension: gender, ageBand ('40-64', '80+'), deceased ('true'/'false'), codes ('system|code').
 *
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "StratumKey".
 */
export interface StratumKey {
  gender?: 'female' | 'male' | 'other' | 'unknown';
  ageBand?: string;
  deceased?: 'true' | 'false';
  codes?: string;
}
/**
 * One node's budget after this answer, in that node's units (epsilon for laplace); what remains is limit - spent. The same query on the same data costs 0 the second time.
 *
 * This interface was referenced by `MergedResult`'s JSON-Schema
 * via the `definition` "NodeBudget".
 */
export interface NodeBudget {
  node: string;
  cost: number;
  periodDays: number;
  project: Account;
  researcher: Account;
}
/**
 * count: the sum of the nodes' released counts, present only when every answering node released its part; range: [lowest, highest] the true sum can be, always; interval: [lowest, highest] it is at the result's confidence. A node's part is its cell's own range and interval when the cell states them; otherwise a released count widened by the node's maxNoise and rounding - 1, a suppressed cell's range, and [0, upper end of the node's total] for a stratum, bin or measure the node did not report.
 *
 * This interface was referenced by `MergedResult`'s JSON-Schema
 * via the `definition` "MergedCell".
 */
export interface MergedCell {
  count?: number;
  range: MergedBounds;
  interval?: MergedBounds;
  perturbed?: boolean;
  /**
   * true when the cell has no count: some node suppressed its part or did not report it, or fewer nodes answered than the policy requires
   */
  suppressed?: boolean;
}
/**
 * code: WARN_CODE_NOT_HELD (no node lists this code, or with descendants no code under it, for this criterion kind) or WARN_SYSTEM_NOT_HELD (no node lists any code of this code system); pointer: the coding's code field in the query as submitted (RFC 6901); detail: the same in words.
 *
 * This interface was referenced by `MergedResult`'s JSON-Schema
 * via the `definition` "Warning".
 */
export interface Warning {
  code: 'WARN_CODE_NOT_HELD' | 'WARN_SYSTEM_NOT_HELD';
  pointer: string;
  detail: string;
}
