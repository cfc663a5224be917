// Generated from schemas/json/merged-result.schema.json by `npm run generate:types`. Do not edit.

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
       * nodes whose n, mean and sd were pooled
       */
      pooledFrom?: string[];
    };

/**
 * The gateway's answer: every node's outcome, plus totals whose range is guaranteed to contain the true sum.
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
  total: MergedCell;
  overlapping?: boolean;
  strata: {
    key: StratumKey;
    cell: MergedCell;
  }[];
  measures: MergedMeasure[];
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
  /**
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
      }
    | {
        suppressed: true;
        /**
         * @minItems 2
         * @maxItems 2
         */
        range: [number, number];
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
              }
            | {
                suppressed: true;
                /**
                 * @minItems 2
                 * @maxItems 2
                 */
                range: [number, number];
              };
        }[];
        /**
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
            }
          | {
              suppressed: true;
              /**
               * @minItems 2
               * @maxItems 2
               */
              range: [number, number];
            };
      }
    | {
        type: 'summary';
        unit: string;
        /**
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
            }
          | {
              suppressed: true;
              /**
               * @minItems 2
               * @maxItems 2
               */
              range: [number, number];
            };
        mean?: number;
        sd?: number;
        /**
         * mean and sd withheld (minimum n or dominance rule)
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
  /**
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
      }
    | {
        suppressed: true;
        /**
         * @minItems 2
         * @maxItems 2
         */
        range: [number, number];
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
 * count: sum of the released parts (suppressed parts count at the lower end of their range); range: [lowest, highest] the true sum can be.
 *
 * This interface was referenced by `MergedResult`'s JSON-Schema
 * via the `definition` "MergedCell".
 */
export interface MergedCell {
  count?: number;
  /**
   * @minItems 2
   * @maxItems 2
   */
  range: [number, number];
  perturbed?: boolean;
  /**
   * true when no figure was released: no node released its part, or fewer nodes answered than the policy requires
   */
  suppressed?: boolean;
}
