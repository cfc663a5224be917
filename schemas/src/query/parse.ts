// The one entry point for untrusted query JSON, used by the gateway and nodes alike.
import type { CohortQuery } from '../generated/query.ts';
import { ProblemError } from '../problem.ts';
import { assertSchema, prescan } from '../validate.ts';
import { DEFAULT_LIMITS, type QueryLimits, checkExprShape, checkSemantics } from './semantic.ts';

/**
 * Validates untrusted input as a cohort query: raw bounds and prototype keys,
 * Expr shape, JSON Schema, then the semantic rules. Throws ERR_QUERY_INVALID
 * with a JSON pointer to the first fault.
 * @example parseQuery(JSON.parse(body)) // CohortQuery
 */
export function parseQuery(
  input: unknown,
  limits: QueryLimits = DEFAULT_LIMITS,
  at = '',
): CohortQuery {
  try {
    return parseAt(input, limits);
  } catch (err) {
    // Pointers are relative to the query; a query nested in a request body gets the body's prefix.
    if (at !== '' && err instanceof ProblemError && err.pointer !== undefined) {
      throw new ProblemError(err.code, err.status, err.title, {
        pointer: `${at}${err.pointer}`,
        ...(err.detail === undefined ? {} : { detail: err.detail }),
      });
    }
    throw err;
  }
}

function parseAt(input: unknown, limits: QueryLimits): CohortQuery {
  prescan(input);
  if (typeof input === 'object' && input !== null && 'cohort' in input) {
    checkExprShape(input.cohort);
  }
  assertSchema('query', input);
  checkSemantics(input, limits);
  return input;
}
