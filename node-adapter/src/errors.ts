// The node's error catalogue: every code the node answers with or its command
// line prints (the HTTP API, ingest, the live FHIR source and sync), in one
// flat object, so docs/errors.md, the HTTP edge and the CLI have a single
// source. Details are fixed phrases written for the reader: nothing a FHIR
// server said, no upstream text and no patient data ever reaches them.
import {
  type ErrorSpec,
  type ProblemOptions,
  ProblemError,
  commonErrors,
  defineErrors,
} from '@tessera/schemas';

export const nodeErrors = defineErrors({
  ...commonErrors,
  // The HTTP API and the evaluation pipeline.
  ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  ERR_GATEWAY_KEYS_UNAVAILABLE: {
    status: 503,
    title: "The gateway's signing keys cannot be fetched",
  },
  ERR_PROJECT_NOT_ALLOWED: { status: 403, title: 'This node does not answer for the project' },
  // Threat 49: the node decompresses nothing; any Content-Encoding but identity is refused.
  ERR_ENCODING_UNSUPPORTED: {
    status: 415,
    title: 'The request body uses an unsupported content encoding',
  },
  ERR_BUDGET_EXHAUSTED: {
    status: 429,
    title: 'The privacy budget at this node is spent for this period',
  },
  ERR_REPEAT_LIMIT: {
    status: 429,
    title: 'This query was asked too often; try again later',
  },
  ERR_OUTPUT_REJECTED: {
    status: 500,
    title: 'The node withheld an answer that failed its output check',
  },
  // Start-up: the node does not start.
  ERR_POLICY_INVALID: { status: 500, title: 'The node disclosure policy is not valid' },
  ERR_OPEN_POLICY_REFUSED: {
    status: 500,
    title: 'The open disclosure policy is refused outside local testing',
  },
  ERR_STORE_MISSING: {
    status: 500,
    title: 'The store is missing or cannot be read',
  },
  ERR_STORE_LAYOUT: {
    status: 500,
    title: 'The store was written by another version of ingest',
  },
  // Ingest (`tessera-node ingest`, and sync's load).
  ERR_INGEST_SOURCE_NOT_FOUND: { status: 404, title: 'An ingest source does not exist' },
  ERR_INGEST_SOURCE_UNSUPPORTED: {
    status: 400,
    title: 'An ingest source is neither NDJSON nor a FHIR Bundle',
  },
  ERR_INGEST_SOURCE_UNREADABLE: { status: 422, title: 'An ingest source could not be read' },
  ERR_INGEST_NO_SOURCES: { status: 400, title: 'The ingest sources hold no FHIR files' },
  ERR_INGEST_RECORD_KEY: { status: 400, title: 'The record key secret is not usable' },
  ERR_INGEST_TOO_MANY_BAD_LINES: {
    status: 422,
    title: 'Too many malformed lines: the store was left unchanged',
  },
  // The FHIR server behind the live source and sync.
  ERR_SOURCE_UNAVAILABLE: { status: 503, title: 'The FHIR server is unavailable' },
  ERR_SOURCE_INVALID: { status: 502, title: 'The FHIR server answered something unusable' },
  ERR_SOURCE_TOO_LARGE: {
    status: 422,
    title: 'The query needs more FHIR resources than the live source may read',
  },
  ERR_SOURCE_CONFIG: { status: 500, title: 'The live FHIR source is misconfigured' },
});

/** Every code the node uses; a `switch` over it is checked for exhaustiveness. */
export type NodeErrorCode = keyof typeof nodeErrors;

/** A ProblemError whose code is in the node's catalogue. */
export interface NodeProblemError extends ProblemError {
  readonly code: NodeErrorCode;
}

/** Whether `code` is one of the node's codes. */
export function isNodeErrorCode(code: string): code is NodeErrorCode {
  return Object.hasOwn(nodeErrors, code);
}

/** Whether `err` is a ProblemError with a code from the node's catalogue. */
export function isNodeProblem(err: unknown): err is NodeProblemError {
  return err instanceof ProblemError && isNodeErrorCode(err.code);
}

/**
 * Builds a ProblemError from the node catalogue by code.
 * @example throw nodeProblem('ERR_SOURCE_CONFIG', { detail: 'auth.kid is required' });
 */
export function nodeProblem(code: NodeErrorCode, options?: ProblemOptions): NodeProblemError {
  const spec: ErrorSpec = nodeErrors[code];
  return new ProblemError(code, spec.status, spec.title, options) as NodeProblemError;
}

/**
 * A ProblemError as one of the node's: errors raised by `schemas` carry
 * shared codes, which the catalogue holds; a code from outside it (none is
 * raised today) answers as ERR_INTERNAL rather than as an undocumented code.
 */
export function asNodeProblem(err: ProblemError): NodeProblemError {
  return isNodeProblem(err) ? err : nodeProblem('ERR_INTERNAL');
}
