// Generated from schemas/json/node-result.schema.json by `npm run generate:types`. Do not edit.

/**
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "QueryHash".
 */
export type QueryHash = string;
/**
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Cell".
 */
export type Cell =
  | {
      count: Count;
      perturbed?: true;
    }
  | {
      suppressed: true;
      /**
       * @minItems 2
       * @maxItems 2
       */
      range: [Count, Count];
    };
/**
 * This interface was referenced by `NodeResult`'s JSON-Schema
 * via the `definition` "Count".
 */
export type Count = number;
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
      mean?: number;
      sd?: number;
      /**
       * mean and sd withheld (minimum n or dominance rule)
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
   * Largest absolute noise added to a released count (for laplace: the bound at the stated confidence).
   */
  maxNoise: number;
  rounding: number;
  epsilon?: number;
  confidence?: number;
  suppressZero?: boolean;
  secondarySuppression?: boolean;
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
