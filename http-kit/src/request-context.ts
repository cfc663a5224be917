// Request ids and trace context, one rule each for both services. A caller's
// `x-request-id` is echoed in the answer, written to logs and problems and
// passed on to the nodes, so only a short, plain token is kept; anything
// else is replaced by a fresh UUID. A `traceparent` is passed on only when
// it is well-formed, and dropped otherwise.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';

/** A request id a caller may choose: at most 128 (a problem's `requestId` limit) of A-Z a-z 0-9 . _ : - */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** W3C Trace Context `traceparent`: version, trace id, parent id and flags in lower-case hex. */
export const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * True when `value` may serve as a request id.
 * @example isRequestId('req-1') // true; isRequestId('a b') // false
 */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

/**
 * The caller's request id when it is one, else a fresh UUID.
 * @example acceptRequestId(req.get('x-request-id'))
 */
export function acceptRequestId(given: string | undefined): string {
  return isRequestId(given) ? given : randomUUID();
}

/**
 * The caller's `traceparent` when it is well-formed, else undefined.
 * @example acceptTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01') // passed on
 */
export function acceptTraceparent(given: string | undefined): string | undefined {
  return given !== undefined && TRACEPARENT.test(given) ? given : undefined;
}

/** The id {@link requestContext} gave this request (a fresh one where it did not run). */
export function requestIdOf(res: Response): string {
  const id: unknown = res.locals.requestId;
  return typeof id === 'string' ? id : randomUUID();
}

/** A request's labels: the route is the pattern (`/v1/queries/:id`) or `unmatched`, never the raw URL. */
export interface RouteLabels {
  readonly method: string;
  readonly route: string;
  readonly status: string;
}

/** Times requests; prom-client's Histogram with these labels fits. */
export interface RequestTimer {
  startTimer(): (labels: RouteLabels) => unknown;
}

/**
 * Gives a request its id (in the `x-request-id` answer header) and times it;
 * `routeOf` names its route once it is answered. Returns the id.
 * @example const requestId = startRequest(timer, req, res, () => '/v1/queries');
 */
export function startRequest(
  timer: RequestTimer,
  req: IncomingMessage,
  res: ServerResponse,
  routeOf: () => string,
): string {
  const given = req.headers['x-request-id'];
  const requestId = acceptRequestId(typeof given === 'string' ? given : undefined);
  res.setHeader('x-request-id', requestId);
  const stop = timer.startTimer();
  res.on('finish', () => {
    stop({ method: req.method ?? '', route: routeOf(), status: String(res.statusCode) });
  });
  return requestId;
}

/**
 * A service's first middleware: gives every request its id (in
 * `res.locals.requestId` and the `x-request-id` answer header) and times it
 * by route pattern.
 * @example app.use(requestContext(metrics.httpDuration));
 */
export function requestContext(timer: RequestTimer): RequestHandler {
  return function requestContext(req, res, next) {
    res.locals.requestId = startRequest(timer, req, res, () => {
      // The full route pattern (router mount + path), never the raw URL: ids would explode the label set.
      const path = (req.route as { path?: string } | undefined)?.path;
      return path === undefined ? 'unmatched' : `${req.baseUrl}${path}`;
    });
    next();
  };
}
