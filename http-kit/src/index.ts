// @tessera/http-kit: the HTTP edge the gateway and the node adapter share.
// What both services' wire behaviour must agree on lives here once; the
// contract itself (schemas, problems as values) stays in @tessera/schemas,
// which does no I/O.
export { listen } from './listen.ts';
export {
  REQUEST_ID,
  TRACEPARENT,
  type RequestTimer,
  type RouteLabels,
  acceptRequestId,
  acceptTraceparent,
  isRequestId,
  requestContext,
  requestIdOf,
  startRequest,
} from './request-context.ts';
export {
  type ProblemHandlerOptions,
  problemHandler,
  sendProblem,
  writeProblem,
} from './problem.ts';
export {
  API_CSP,
  PAGE_CSP,
  pageCsp,
  type SecurityHeadersOptions,
  hygieneHeaders,
  securityHeaders,
} from './security-headers.ts';
