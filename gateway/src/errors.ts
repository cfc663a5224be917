// The gateway's error catalogue: every code the gateway answers with, in one
// place, so docs/errors.md and the HTTP edge have a single source.
import { commonErrors, defineErrors, problemFactory } from '@tessera/schemas';

export const gatewayErrors = defineErrors({
  ...commonErrors,
  ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  ERR_FORBIDDEN: { status: 403, title: 'Not allowed' },
  ERR_IDP_UNAVAILABLE: { status: 503, title: 'The identity provider cannot be reached' },
  ERR_OVERLOADED: { status: 503, title: 'The gateway is at capacity; try again shortly' },
  ERR_TOO_MANY_RUNNING: {
    status: 429,
    title: 'Too many of your queries are running; try again when one has finished',
  },
  ERR_PROJECT_REQUIRED: { status: 400, title: 'Name the project the query is for' },
  ERR_SAVED_QUERY_INVALID: { status: 400, title: 'The saved query is not valid' },
  ERR_SEARCH_INVALID: { status: 400, title: 'The search is not valid' },
  ERR_JOB_NOT_DONE: { status: 409, title: 'The query has no answer yet' },
  // Threat 49: a compressed body that does not decompress, or an encoding not offered.
  ERR_BODY_ENCODING: { status: 400, title: 'The request body could not be decompressed' },
  ERR_ENCODING_UNSUPPORTED: {
    status: 415,
    title: 'The request body uses an unsupported content encoding',
  },
  ERR_RATE_LIMITED: { status: 429, title: 'Too many queries; try again later' },
  ERR_GATEWAY_RESTARTED: {
    status: 500,
    title: 'The gateway restarted while this query ran; submit it again',
  },
  // Never an HTTP answer of the gateway: the code of a `refused` node outcome
  // whose own code is not one of NODE_REFUSAL_CODES.
  ERR_NODE_REFUSED: { status: 502, title: 'A node refused the query' },
  // Never an HTTP answer either: the code of an `unavailable` node outcome
  // when the node already had as many queries in flight as it is allowed.
  ERR_NODE_BUSY: { status: 503, title: 'The node is answering as many queries as it is allowed' },
});

export type GatewayErrorCode = keyof typeof gatewayErrors;

/**
 * The error of a job that was queued or running when the gateway instance
 * that owned it stopped; stores write it when they recover such jobs. They
 * are failed rather than re-run: re-running would spend the nodes' budgets
 * and release figures a second time without the researcher asking; the
 * researcher can resubmit.
 */
export const ERR_GATEWAY_RESTARTED = 'ERR_GATEWAY_RESTARTED' satisfies GatewayErrorCode;

/** Builds a ProblemError from the gateway catalogue by code. */
export const gatewayProblem = problemFactory(gatewayErrors);

/**
 * The node codes a `refused` node outcome may carry as the node sent them:
 * the node catalogue's 4xx codes for `POST /v1/evaluate` (docs/errors.md,
 * "Node adapter"; tests/docs keeps the two in step). A node's code is text
 * from outside, so any other, however well-formed
 * (`ERR_PATIENT_4711_HIV_POSITIVE`), reaches the researcher as
 * ERR_NODE_REFUSED.
 */
export const NODE_REFUSAL_CODES: ReadonlySet<string> = new Set([
  'ERR_QUERY_INVALID',
  'ERR_BODY_INVALID',
  'ERR_UNAUTHENTICATED',
  'ERR_PROJECT_NOT_ALLOWED',
  'ERR_NOT_FOUND',
  'ERR_BODY_TOO_LARGE',
  'ERR_MEDIA_TYPE',
  'ERR_ENCODING_UNSUPPORTED',
  'ERR_CCDL_UNSUPPORTED',
  'ERR_SOURCE_TOO_LARGE',
  'ERR_BUDGET_EXHAUSTED',
  'ERR_REPEAT_LIMIT',
]);
