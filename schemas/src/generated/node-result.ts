// Generated from schemas/json/node-result.schema.json by `npm run generate:types`. Do not edit.

/**
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "QueryHash".
 */
export type QueryHash = string;
/**
 * A count as released. A perturbed count carries `range`, bounds that always hold, and `interval`, bounds that hold at disclosure.confidence. A suppressed cell carries only its bounds: the true count is small, or its noisy count fell below the threshold.
 *
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Cell".
 */
export type Cell =
  | {
      count: Count;
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
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Count".
 */
export type Count = number;
/**
 * [lowest, highest] the true count can be.
 *
 * @minItems 2
 * @maxItems 2
 *
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Bounds".
 */
export type Bounds = [Count, Count];
/**
 * One entry per query measure, in order. The count measure's figures are the result's total and strata.
 *
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "MeasureResult".
 */
export type MeasureResult =
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
        cell: Cell;
      }[];
      missing: Cell;
    }
  | {
      type: 'summary';
      unit: string;
      n: Cell;
      /**
       * From noisy sums of values clamped to the policy's bounds (laplace); never exact.
       */
      mean?: number;
      sd?: number;
      /**
       * mean and sd withheld: n not released or below summary.minN, no clamping bounds for the unit, or a mechanism that releases none
       */
      suppressed?: true;
    };

/**
 * A node's disclosure-controlled answer to one query. Nothing beyond this shape may leave a node.
 */
export interface NodeResult {
  node: string;
  queryHash: QueryHash;
  dataVersion: string;
  evaluatedAt: string;
  elapsedMs: number;
  disclosure: Disclosure;
  budget?: Budget;
  total: Cell;
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
  measures: MeasureResult[];
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
  cell: Cell;
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
