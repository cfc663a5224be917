// What a query costs under the default mechanism, decided from the query
// alone: the charge never depends on the data, so the cost a researcher sees
// and the refusal when a budget runs out say nothing about any patient.
//
// A query releases tables; one patient changes each by at most one count:
// - the total: 1;
// - the strata: 1 when they partition the cohort; with a `codes` dimension a
//   patient can sit in one stratum per code, so 1 per code;
// - each histogram: 1 (bins and `missing` partition the cohort);
// - each summary: 3 (n, the clamped sum and the clamped sum of squares).
// Each unit costs epsilon (and delta); every count's noise has scale 1/epsilon.
import type { CohortQuery } from '@tessera/schemas';
import type { NodePolicy } from './policy.ts';

/** Tables a summary releases: n, the clamped sum, the clamped sum of squares. */
export const SUMMARY_TABLES = 3;

/** How many strata one patient can be counted in (the product of the codes dimensions' sizes). */
export function strataSensitivity(query: Pick<CohortQuery, 'stratify'>): number {
  let cells = 1;
  for (const d of query.stratify ?? []) {
    if (typeof d === 'object' && 'codes' in d) cells *= Math.max(1, d.codes.in.length);
  }
  return cells;
}

/**
 * Units of epsilon a query costs (see above).
 * @example costUnits({ stratify: ['gender'], measures: [{ count: 'patients' }] }) // 2
 */
export function costUnits(query: Pick<CohortQuery, 'stratify' | 'measures'>): number {
  const measures = query.measures ?? [];
  const histograms = measures.filter((m) => 'histogram' in m).length;
  const summaries = measures.filter((m) => 'summary' in m).length;
  const strata = (query.stratify ?? []).length > 0 ? strataSensitivity(query) : 0;
  return 1 + strata + histograms + SUMMARY_TABLES * summaries;
}

/**
 * The epsilon a query costs under the policy, or undefined when the mechanism
 * keeps no budget.
 * @example epsilonFor(query, policy) // 0.5 for a stratified count at epsilon 0.25
 */
export function epsilonFor(
  query: Pick<CohortQuery, 'stratify' | 'measures'>,
  policy: NodePolicy,
): number | undefined {
  if (policy.mechanism !== 'laplace') return undefined;
  return costUnits(query) * policy.laplace.epsilon;
}
