// Problems (RFC 9457) on the wire, for both services: every refusal and
// failure leaves as application/problem+json with its stable code and the
// request's id, and nothing else of the error (no message, no stack, no
// upstream text) is ever written.
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Response } from 'express';
import { type ProblemError, bodyProblem, toProblemError } from '@tessera/schemas';
import { requestIdOf } from './request-context.ts';

/** The challenge of a 401 that brings none of its own (RFC 6750 §3). */
const DEFAULT_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * Answers `error` as problem+json, with `Retry-After` when it has one and a
 * `WWW-Authenticate` challenge when one is given (a 401 always has one).
 * @example sendProblem(res, nodeProblem('ERR_NOT_FOUND'));
 */
export function sendProblem(res: Response, error: ProblemError, challenge?: string): void {
  writeProblem(res, error, requestIdOf(res), challenge);
}

/**
 * {@link sendProblem} on a bare Node answer, for a request answered before
 * any framework sees it; `requestId` is the one its answer header carries.
 * @example writeProblem(res, refusal, requestId);
 */
export function writeProblem(
  res: ServerResponse,
  error: ProblemError,
  requestId: string,
  challenge?: string,
): void {
  const wwwAuthenticate = challenge ?? (error.status === 401 ? DEFAULT_CHALLENGE : undefined);
  if (wwwAuthenticate !== undefined) res.setHeader('WWW-Authenticate', wwwAuthenticate);
  if (error.retryAfter !== undefined) res.setHeader('Retry-After', String(error.retryAfter));
  const body = JSON.stringify(error.toProblem(requestId));
  res.statusCode = error.status;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

export interface ProblemHandlerOptions {
  /** Where failures (5xx) are logged: the error's class only, since its message may quote data. */
  readonly logger: { error(fields: Record<string, unknown>, message: string): void };
  /** Maps a problem onto the service's own catalogue before it is answered. */
  readonly normalise?: (problem: ProblemError) => ProblemError;
  /** Told of every failure (5xx) answered. */
  readonly onFailure?: () => void;
  /**
   * Codes of 5xx answers that are the service deciding, not failing (503 at
   * capacity, shedding load): counted where they are decided, neither logged
   * nor told as failures, so a flood of them cannot flood the error log.
   */
  readonly decisions?: ReadonlySet<string>;
}

/**
 * A service's last middleware: anything thrown becomes a problem (a body
 * parser's error its 400/413/415, a ProblemError itself, anything else a
 * bare ERR_INTERNAL). A stream whose headers are out is only ended.
 * @example app.use(problemHandler({ logger }));
 */
export function problemHandler(options: ProblemHandlerOptions): ErrorRequestHandler {
  // Express recognises error handlers by their four parameters.
  return function problemHandler(err: unknown, _req, res, _next) {
    const isBodyError = typeof (err as { type?: unknown } | null)?.type === 'string';
    const thrown = isBodyError ? bodyProblem(err) : toProblemError(err);
    const problem = options.normalise ? options.normalise(thrown) : thrown;
    if (problem.status >= 500 && !options.decisions?.has(problem.code)) {
      options.onFailure?.();
      options.logger.error(
        { requestId: requestIdOf(res), error: (err as Error | null)?.name ?? 'unknown' },
        'request failed',
      );
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, problem);
  };
}
