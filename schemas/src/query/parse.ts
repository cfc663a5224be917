// The one entry point for untrusted query JSON, used by the gateway and nodes alike.
import type { CohortQuery } from '../generated/query.ts';
import { assertSchema, prescan, schemaIds } from '../validate.ts';
import { DEFAULT_LIMITS, type QueryLimits, checkExprShape, checkSemantics } from './semantic.ts';

/**
 * Validates untrusted input as a cohort query: raw bounds and prototype keys,
 * Expr shape, JSON Schema, then the semantic rules. Throws ERR_QUERY_INVALID
 * with a JSON pointer to the first fault.
 * @example parseQuery(JSON.parse(body)) // CohortQuery
 */
export function parseQuery(input: unknown, limits: QueryLimits = DEFAULT_LIMITS): CohortQuery {
  prescan(input);
  if (typeof input === 'object' && input !== null && 'cohort' in input) {
    checkExprShape(input.cohort);
  }
  assertSchema<CohortQuery>(schemaIds.query, input);
  checkSemantics(input, limits);
  return input;
}
