// The node's opt-out policy (EHDS: a patient may object to secondary use):
// a patient with an active Consent denying one of the policy's codes, in
// force on the query's asOf, is left out of every answer. Applied to the
// query the source evaluates, the one place every figure is computed from,
// as the cohort minus the opted-out: strata and measures are taken over the
// cohort, so they leave them out too. The query's hash, budget and noise are
// those of the researcher's query; the rule is the node's, not theirs.
import type { Coding, Expr } from '@tessera/schemas';

/** The policy's opt-out codes (its schema requires at least one). */
export type OptOutCodes = readonly [Coding, ...Coding[]];
import type { QuerySource, SourceQuery } from './ports.ts';

/**
 * The query with the opted-out patients taken out of its cohort.
 * @example excludeOptedOut(query, [{ system: 'urn:oid:2.16.840.1.113883.3.1937.777.24.5.3', code: '2.16.840.1.113883.3.1937.777.24.5.3.8' }])
 */
export function excludeOptedOut(query: SourceQuery, codes: OptOutCodes): SourceQuery {
  const optedOut: Expr = { consent: { code: [codes[0], ...codes.slice(1)], decision: 'deny' } };
  return { ...query, cohort: { all: [query.cohort, { not: optedOut }] } };
}

/** A source that answers every query without the opted-out patients. */
export function withOptOut(source: QuerySource, codes: OptOutCodes): QuerySource {
  return {
    evaluate: (query, signal) => source.evaluate(excludeOptedOut(query, codes), signal),
    dataVersion: () => source.dataVersion(),
  };
}
