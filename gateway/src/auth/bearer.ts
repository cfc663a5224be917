// The checks a bearer token must pass before any key is looked up: its shape,
// and a protected header that names a pinned algorithm, an accepted `typ` and
// no key of its own. Refusing here means a hostile header never causes a
// JWKS fetch, let alone a fetch to a URL the token chose.
import { decodeProtectedHeader } from 'jose';
import type { ProtectedHeaderParameters } from 'jose';
import { invalidToken, missingToken } from './challenge.ts';

/** Header parameters that carry or point at a key: the token may not choose its own key. */
const KEY_BEARING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

const MAX_TOKEN_LENGTH = 8192;
const MAX_KID_LENGTH = 256;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * The compact JWS from an `Authorization: Bearer …` header.
 * Anything other than a Bearer credential counts as no credential (RFC 6750 §3.1).
 */
export function readBearerToken(authorizationHeader: string | undefined): string {
  const match = BEARER.exec(authorizationHeader ?? '');
  const token = match?.[1];
  if (token === undefined) throw missingToken();
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw invalidToken('malformed');
  return token;
}

export interface HeaderPolicy {
  readonly algorithms: ReadonlySet<string>;
  /** Normalised with {@link normaliseTyp}. */
  readonly types: ReadonlySet<string>;
}

/** `application/at+jwt` and `at+JWT` are the same media type (RFC 7515 §4.1.9). */
export function normaliseTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/** The decoded protected header, once it passes the policy; throws a 401 otherwise. */
export function checkProtectedHeader(
  token: string,
  policy: HeaderPolicy,
): ProtectedHeaderParameters & { alg: string } {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw invalidToken('malformed');
  }
  const { alg, typ, kid } = header;
  // Exact, case-sensitive match: `none`, `NONE`, `HS256` never pass a pinned list.
  if (typeof alg !== 'string' || !policy.algorithms.has(alg)) throw invalidToken('header');
  if (KEY_BEARING_HEADERS.some((name) => Object.hasOwn(header, name))) {
    throw invalidToken('header');
  }
  if (typeof typ !== 'string' || !policy.types.has(normaliseTyp(typ))) throw invalidToken('type');
  if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH)) {
    throw invalidToken('malformed');
  }
  return { ...header, alg };
}
