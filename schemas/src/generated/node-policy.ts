// Generated from schemas/json/node-policy.schema.json by `npm run generate:types`. Do not edit.

/**
 * A node's disclosure policy as its operator writes it. Every key is optional; the node fills in the defaults stated here (summary.minN defaults to threshold), validates once at start-up and refuses to start on any fault.
 */
export interface NodePolicyConfig {
  /**
   * How released counts are protected: cell-key perturbation (same set of patients, same noise), Laplace noise with an epsilon budget, or none (the `open` policy for local testing; a production node refuses it).
   */
  mechanism?: 'cell-key' | 'laplace' | 'none';
  /**
   * Smallest true count released; counts 1..threshold-1 are suppressed with their range.
   */
  threshold?: number;
  /**
   * Suppress zero counts too (range [0, threshold-1] for every suppressed cell), so an empty cell cannot be told from a small one.
   */
  suppressZero?: boolean;
  /**
   * Released counts are rounded to a multiple of this after noise (1: no rounding).
   */
  rounding?: number;
  /**
   * Suppress further cells so that no suppressed cell is the difference of a released total and released cells.
   */
  secondarySuppression?: boolean;
  /**
   * Largest number of strata in a stratification's cross product.
   */
  maxStrata?: number;
  /**
   * Largest number of codes in one `codes` stratification dimension.
   */
  maxDimensionCodes?: number;
  /**
   * Cell-key perturbation (mechanism `cell-key`).
   */
  cellKey?: {
    /**
     * Largest absolute noise added to a count.
     */
    maxNoise?: number;
    /**
     * Shape of the perturbation table's noise distribution: triangular (small noise more likely) or uniform.
     */
    table?: 'triangular' | 'uniform';
  };
  /**
   * Laplace noise with a privacy budget (mechanism `laplace`).
   */
  laplace?: {
    /**
     * Privacy loss spent on each released table (the total and strata, each histogram, each summary).
     */
    epsilon?: number;
    /**
     * Epsilon one subject may spend in one project within a period; at least epsilon.
     */
    budget?: number;
    /**
     * Length of the rolling window the budget applies to, in days.
     */
    periodDays?: number;
    /**
     * Probability with which the stated maxNoise bounds the Laplace noise on a count.
     */
    confidence?: number;
  };
  /**
   * When a mean and sd may be released.
   */
  summary?: {
    /**
     * Smallest number of patients with a value; at least threshold, which is also the default.
     */
    minN?: number;
    /**
     * Largest share of the sum of absolute values one patient may hold.
     */
    dominance?: number;
  };
  /**
   * How often one subject may ask an identical query within a window.
   */
  repeatLimit?: {
    count?: number;
    windowSeconds?: number;
  };
}
