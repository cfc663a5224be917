// Laplace noise for the formal differential-privacy option. Unlike cell-key
// noise it is fresh on every query, so repetition would average it away; the
// budget ledger makes every released table cost epsilon, which bounds what
// repetition can learn.
import type { CohortQuery } from '@tessera/schemas';
import type { NodePolicy } from './policy.ts';

/** Uniform numbers in [0, 1); injected so tests are deterministic. */
export type RandomSource = () => number;

/**
 * One draw from Laplace(0, scale) by inverse transform.
 * @example laplaceNoise(2, () => 0.5) // 0
 */
export function laplaceNoise(scale: number, random: RandomSource): number {
  const r = random();
  if (!(r >= 0 && r < 1)) throw new Error('random source out of range');
  const u = r - 0.5;
  // 1 - 2|u| is 0 only when r is exactly 0; the smallest double keeps the log finite.
  const tail = Math.max(1 - 2 * Math.abs(u), Number.MIN_VALUE);
  return -scale * Math.sign(u) * Math.log(tail);
}

/**
 * The bound |noise| <= b that Laplace(0, scale) noise, rounded to a whole
 * number, keeps with probability `confidence`: P(|X| <= t) = 1 - e^(-t/scale).
 * @example laplaceBound(2, 0.95) // 6
 */
export function laplaceBound(scale: number, confidence: number): number {
  return Math.ceil(scale * Math.log(1 / (1 - confidence)));
}

/**
 * Tables a query releases, each charged epsilon: the total (one), the strata
 * (one when stratified), and one per histogram and per summary. The count
 * measure's figures are the total and strata, so it adds nothing.
 * @example releasedTables({ stratify: ['gender'], measures: [{ count: 'patients' }] }) // 2
 */
export function releasedTables(query: Pick<CohortQuery, 'stratify' | 'measures'>): number {
  const measures = query.measures ?? [];
  const extra = measures.filter((m) => 'histogram' in m || 'summary' in m).length;
  return 1 + ((query.stratify ?? []).length > 0 ? 1 : 0) + extra;
}

/**
 * The epsilon a query costs under the policy, or undefined when the mechanism
 * spends no budget.
 * @example epsilonFor(query, policy) // 1 for a stratified count at epsilon 0.5
 */
export function epsilonFor(
  query: Pick<CohortQuery, 'stratify' | 'measures'>,
  policy: NodePolicy,
): number | undefined {
  if (policy.mechanism !== 'laplace') return undefined;
  return releasedTables(query) * policy.laplace.epsilon;
}
