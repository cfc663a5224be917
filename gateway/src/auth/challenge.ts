// Authentication failures as ProblemErrors that also carry their RFC 6750
// challenge, so the HTTP edge can answer `WWW-Authenticate` without knowing
// why the token was refused. Every description is a fixed string: nothing
// from the token (kid, claims, header values) is ever echoed back.
import { ProblemError } from '@tessera/schemas';
import { gatewayErrors, gatewayProblem } from '../errors.ts';

const REALM = 'tessera';

/** Why a bearer token was refused; each maps to one fixed description. */
export type InvalidTokenReason = keyof typeof invalidTokenDescriptions;

const invalidTokenDescriptions = {
  malformed: 'The access token is malformed',
  header: 'The access token uses a refused algorithm or header',
  key: 'The access token was signed by an unknown key',
  signature: 'The access token signature is invalid',
  expired: 'The access token has expired',
  'not-yet-valid': 'The access token is not valid yet',
  issuer: 'The access token was issued by an untrusted issuer',
  audience: 'The access token is meant for another audience',
  type: 'The token is not an access token',
  claims: 'The access token lacks a required claim or carries an invalid one',
} as const;

/** A 401/403 ProblemError with the `WWW-Authenticate` value that must go with it. */
export class AuthProblemError extends ProblemError {
  readonly wwwAuthenticate: string;

  constructor(
    code: 'ERR_UNAUTHENTICATED' | 'ERR_FORBIDDEN',
    wwwAuthenticate: string,
    detail: string,
  ) {
    const spec = gatewayErrors[code];
    super(code, spec.status, spec.title, { detail });
    this.name = 'AuthProblemError';
    this.wwwAuthenticate = wwwAuthenticate;
  }
}

/** No credentials at all: RFC 6750 §3.1 says the challenge carries no error code. */
export function missingToken(): AuthProblemError {
  return new AuthProblemError(
    'ERR_UNAUTHENTICATED',
    `Bearer realm="${REALM}"`,
    'A bearer access token is required',
  );
}

export function invalidToken(reason: InvalidTokenReason): AuthProblemError {
  const description = invalidTokenDescriptions[reason];
  return new AuthProblemError(
    'ERR_UNAUTHENTICATED',
    `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`,
    description,
  );
}

/** `scope` must already be a valid RFC 6749 scope token (checked at start-up). */
export function insufficientScope(scope: string): AuthProblemError {
  return new AuthProblemError(
    'ERR_FORBIDDEN',
    `Bearer realm="${REALM}", error="insufficient_scope", scope="${scope}"`,
    `The access token lacks the ${scope} scope`,
  );
}

/** 503, not 500: the keys cannot be had, so every token is refused until they can. */
export function idpUnavailable(retryAfterSec: number): ProblemError {
  return gatewayProblem('ERR_IDP_UNAVAILABLE', {
    detail: 'Access tokens cannot be checked right now; try again later',
    retryAfter: Math.max(1, Math.ceil(retryAfterSec)),
  });
}

/**
 * The `WWW-Authenticate` value for a thrown error, if it has one.
 * @example res.set('WWW-Authenticate', wwwAuthenticateOf(err) ?? 'Bearer');
 */
export function wwwAuthenticateOf(err: unknown): string | undefined {
  return err instanceof AuthProblemError ? err.wwwAuthenticate : undefined;
}

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
