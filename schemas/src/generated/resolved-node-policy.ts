// Generated from schemas/json/node-policy.schema.json by `npm run generate:types`. Do not edit.
// The document as read with the schema's defaults filled in: every key with a default is present.

/**
 * A node's disclosure policy as its operator writes it. Every key is optional; the node fills in the defaults stated here (summary.minN defaults to threshold), validates once at start-up and refuses to start on any fault.
 */
export interface ResolvedNodePolicyConfig {
  /**
   * How released counts are protected: laplace (differential privacy: keyed discrete Laplace noise, thresholding on the noisy count, and a privacy budget per project and researcher), cell-key perturbation (same set of patients, same noise; no formal guarantee, see docs/privacy.md), or none (the `open` policy for local testing; a production node refuses it).
   */
  mechanism: 'laplace' | 'cell-key' | 'none';
  /**
   * Smallest count released: under laplace the noisy count must reach it, under cell-key the true count.
   */
  threshold: number;
  /**
   * Suppress zero counts too (range [0, threshold-1] for every suppressed cell), so an empty cell cannot be told from a small one. Always on: a node refuses false, because an exact zero answers "is anyone in this set?" with certainty. Laplace noises zeros like every count.
   */
  suppressZero: boolean;
  /**
   * Released counts are rounded to a multiple of this after noise (1: no rounding).
   */
  rounding: number;
  /**
   * Cell-key only: suppress further cells so that no suppressed cell is the difference of a released total and released cells. Laplace needs none: every cell is noisy.
   */
  secondarySuppression: boolean;
  /**
   * Largest number of strata in a stratification's cross product.
   */
  maxStrata: number;
  /**
   * Largest number of codes in one `codes` stratification dimension.
   */
  maxDimensionCodes: number;
  /**
   * Cell-key perturbation (mechanism `cell-key`).
   */
  cellKey: {
    /**
     * Largest absolute noise added to a count.
     */
    maxNoise: number;
    /**
     * Shape of the perturbation table's noise distribution: triangular (small noise more likely) or uniform.
     */
    table: 'triangular' | 'uniform';
    /**
     * Histogram edges a cell-key node accepts: every edge a multiple of the step for its unit (`*` for units not listed), so edges cannot be moved in fine steps to find one patient's value.
     */
    histogramGrid: {
      '*': number;
      [k: string]: number | undefined;
    };
  };
  /**
   * Differential privacy (mechanism `laplace`): every count gets discrete Laplace noise keyed by the query and the data version, truncated at a bound that costs delta; every new query charges the project's and the researcher's budget.
   */
  laplace: {
    /**
     * Privacy loss of one table (the total, the strata, each histogram; a summary is three tables; overlapping `codes` strata one per code). Each count's noise has scale 1/epsilon.
     */
    epsilon: number;
    /**
     * Probability per table that the epsilon bound fails, spent on truncating the noise so every released count carries a guaranteed range.
     */
    delta: number;
    /**
     * Epsilon all researchers of one project together may spend at this node within a period; at least epsilon.
     */
    projectBudget: number;
    /**
     * Epsilon one researcher may spend within a project at this node within a period; at least epsilon, at most projectBudget.
     */
    researcherBudget: number;
    /**
     * Length of the rolling window the budgets apply to, in days.
     */
    periodDays: number;
    /**
     * Level of the interval every count carries.
     */
    confidence: number;
  };
  /**
   * When and how a mean and sd may be released (laplace only: from noisy sums of per-patient values clamped to bounds; cell-key releases n alone).
   */
  summary: {
    /**
     * Smallest released n for a mean and sd; at least threshold, which is also the default.
     */
    minN?: number;
    /**
     * Clamping bounds per unit (UCUM, as in the query), optionally for one observation code. Every value is clamped into [min, max] before summing, so one patient moves a sum (centred on the midpoint of the bounds) by at most half their width: narrow bounds, accurate means. An entry for the summary's one code and its unit wins over an entry for the unit alone (no code), which matches any code. No match: mean and sd are withheld.
     *
     * @maxItems 500
     */
    bounds: {
      unit: string;
      /**
       * system|code of the observation, e.g. http://loinc.org|4548-4.
       */
      code?: string;
      min: number;
      max: number;
    }[];
  };
  /**
   * How often one subject may ask an identical query within a window.
   */
  repeatLimit: {
    count: number;
    windowSeconds: number;
  };
  /**
   * Opt-out (EHDS): patients with an active FHIR Consent whose provision denies one of these codes, in force on the query's asOf, are left out of every answer, as if the node did not hold them. Absent: the node applies no opt-out. The catalogue says whether a node applies one.
   */
  optOut?: {
    /**
     * @minItems 1
     * @maxItems 50
     */
    codes: [
      {
        system: string;
        code: string;
      },
      ...{
        system: string;
        code: string;
      }[],
    ];
  };
}
