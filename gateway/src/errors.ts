// The gateway's error catalogue: every code the gateway answers with, in one
// place, so docs/errors.md and the HTTP edge have a single source.
import { commonErrors, defineErrors, problemFactory } from '@tessera/schemas';

export const gatewayErrors = defineErrors({
  ...commonErrors,
  ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  ERR_FORBIDDEN: { status: 403, title: 'Not allowed' },
  ERR_IDP_UNAVAILABLE: { status: 503, title: 'The identity provider cannot be reached' },
  ERR_OVERLOADED: { status: 503, title: 'The gateway is at capacity; try again shortly' },
  ERR_PROJECT_REQUIRED: { status: 400, title: 'Name the project the query is for' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too many queries; try again later' },
  ERR_GATEWAY_RESTARTED: {
    status: 500,
    title: 'The gateway restarted while this query ran; submit it again',
  },
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
