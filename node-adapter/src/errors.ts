// The node's error catalogue: every code the node answers with, in one flat
// object, so docs/errors.md and the HTTP edge have a single source.
import { commonErrors, defineErrors, problemFactory } from '@tessera/schemas';

export const nodeErrors = defineErrors({
  ...commonErrors,
  ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  ERR_GATEWAY_KEYS_UNAVAILABLE: {
    status: 503,
    title: "The gateway's signing keys cannot be fetched",
  },
  ERR_PROJECT_NOT_ALLOWED: { status: 403, title: 'This node does not answer for the project' },
  ERR_BUDGET_EXHAUSTED: {
    status: 429,
    title: 'The privacy budget at this node is spent for this period',
  },
  ERR_REPEAT_LIMIT: {
    status: 429,
    title: 'This query was asked too often; try again later',
  },
  ERR_POLICY_INVALID: { status: 500, title: 'The node disclosure policy is not valid' },
  ERR_OPEN_POLICY_REFUSED: {
    status: 500,
    title: 'The open disclosure policy is refused outside local testing',
  },
  ERR_STORE_LAYOUT: {
    status: 500,
    title: 'The store was written by another version of ingest',
  },
  ERR_OUTPUT_REJECTED: {
    status: 500,
    title: 'The node withheld an answer that failed its output check',
  },
});

export type NodeErrorCode = keyof typeof nodeErrors;

/** Builds a ProblemError from the node catalogue by code. */
export const nodeProblem = problemFactory(nodeErrors);
