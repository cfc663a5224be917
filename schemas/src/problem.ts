// Problems (RFC 9457) as values: every layer throws a ProblemError with a
// stable code, and only the HTTP edge turns it into application/problem+json.
import type { Problem } from './generated/problem.ts';

export type { Problem };

/** What one catalogue entry says about an error code. */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
}

/**
 * Declares a service's error catalogue; keys are the stable codes.
 * @example const errors = defineErrors({ ERR_X: { status: 400, title: 'X is wrong' } });
 */
export function defineErrors<const T extends Record<`ERR_${string}`, ErrorSpec>>(catalogue: T): T {
  return Object.freeze(catalogue);
}

/** The codes every service shares, because `schemas` raises them. */
export const commonErrors = defineErrors({
  ERR_QUERY_INVALID: { status: 400, title: 'The query is not valid' },
  ERR_BODY_INVALID: { status: 400, title: 'The request body is not valid JSON' },
  ERR_BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  ERR_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  ERR_CCDL_UNSUPPORTED: {
    status: 422,
    title: 'The CCDL document uses a feature query v1 cannot express',
  },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
});

export interface ProblemOptions {
  readonly detail?: string;
  /** JSON pointer (RFC 6901) to the fault in the request. */
  readonly pointer?: string;
  readonly retryAfter?: number;
}

/**
 * An error that is already a safe answer: its detail is written for the user
 * and never carries upstream text, stack traces or patient data.
 * @example throw new ProblemError('ERR_QUERY_INVALID', 400, 'The query is not valid', { pointer: '/cohort' });
 */
export class ProblemError extends Error {
  readonly code: `ERR_${string}`;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly pointer: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(code: `ERR_${string}`, status: number, title: string, options: ProblemOptions = {}) {
    super(options.detail ?? title);
    this.name = 'ProblemError';
    this.code = code;
    this.status = status;
    this.title = title;
    this.detail = options.detail;
    this.pointer = options.pointer;
    this.retryAfter = options.retryAfter;
  }

  /** The problem+json body for this error. */
  toProblem(requestId: string): Problem {
    return {
      type: `https://tessera.eu/errors/${this.code}`,
      title: this.title,
      status: this.status,
      code: this.code,
      requestId,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.pointer === undefined ? {} : { pointer: this.pointer }),
      ...(this.retryAfter === undefined ? {} : { retryAfter: this.retryAfter }),
    };
  }
}

/**
 * Makes a thrower bound to one catalogue, so call sites name only the code.
 * @example const fail = problemFactory(errors); throw fail('ERR_X', { detail: '...' });
 */
export function problemFactory<T extends Record<`ERR_${string}`, ErrorSpec>>(catalogue: T) {
  return (code: keyof T & `ERR_${string}`, options?: ProblemOptions): ProblemError => {
    const spec = catalogue[code] as ErrorSpec;
    return new ProblemError(code, spec.status, spec.title, options);
  };
}

/**
 * Any thrown value as a safe problem: ProblemErrors pass through, anything
 * else becomes a bare ERR_INTERNAL whose message is never shown.
 */
export function toProblemError(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  const spec = commonErrors.ERR_INTERNAL;
  return new ProblemError('ERR_INTERNAL', spec.status, spec.title);
}

/** Escapes one JSON pointer token (RFC 6901). */
export function pointerToken(token: string | number): string {
  return String(token).replaceAll('~', '~0').replaceAll('/', '~1');
}
