// The node trusts one caller: the gateway, through a short-lived ES256 JWT
// (`typ: tessera-node+jwt`) that names this node as its audience and carries
// the SHA-256 of the exact request body (`qh`). A token replayed (same `jti`),
// sent to another node or attached to another body is refused. The gateway
// side is gateway/src/auth/node-token.ts; the two packages share no code, so
// the constants here must match it.
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { CryptoKey, JSONWebKeySet, JWTPayload, ProtectedHeaderParameters } from 'jose';
import type { ProblemError } from '@tessera/schemas';
import { nodeProblem } from '../errors.ts';
import { createMemoryReplayCache } from './replay-cache.ts';
import type { ReplayCache } from './replay-cache.ts';

export const GATEWAY_TOKEN_TYP = 'tessera-node+jwt';
const ALGORITHM = 'ES256';
/**
 * The longest lifetime (`exp - iat`) a gateway token may claim. The gateway
 * signs one per attempt just before sending it (10 s by default), so with the
 * clock tolerance a token is honoured for at most 25 s after it was issued.
 */
export const GATEWAY_TOKEN_MAX_LIFETIME_SEC = 15;
/** Default clock tolerance between gateway and node, in seconds. */
export const GATEWAY_CLOCK_TOLERANCE_SEC = 10;
/**
 * How long fetched gateway keys are trusted before they are fetched again
 * (sooner for a token naming a key not yet seen). The gateway publishes a
 * new key longer than this before it signs with it.
 */
export const GATEWAY_JWKS_CACHE_MAX_AGE_SEC = 600;
const KEY_BEARING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const BEARER = /^Bearer +(\S+) *$/i;
const MAX_TOKEN_LENGTH = 8192;
const MAX_ID_LENGTH = 256;

export interface GatewayTokenVerifierOptions {
  /** This node's id: the only `aud` accepted. */
  readonly nodeId: string;
  /** The gateway's issuer id. */
  readonly issuer: string;
  /** The gateway's `/.well-known/jwks.json`; give this or `publicJwks`. */
  readonly jwksUrl?: string;
  /** The gateway's public keys, pinned in the node's configuration. */
  readonly publicJwks?: JSONWebKeySet;
  /**
   * Default: an in-memory cache of 100,000 ids, which a restart empties; the
   * node itself passes the durable one (file-replay-cache.ts, threat 48).
   */
  readonly replayCache?: ReplayCache;
  /** Default 10 (GATEWAY_CLOCK_TOLERANCE_SEC). */
  readonly clockToleranceSec?: number;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** For `jwksUrl`. */
  readonly fetch?: typeof fetch;
}

/** Who the gateway asks for; `jti` identifies the request in the node's audit. */
export interface GatewayCaller {
  readonly sub: string;
  readonly project: string;
  readonly jti: string;
}

export interface GatewayTokenVerifier {
  /**
   * Throws ProblemError 401 ERR_UNAUTHENTICATED for any fault, or 503
   * ERR_GATEWAY_KEYS_UNAVAILABLE when `jwksUrl` cannot be fetched.
   */
  verify(authorizationHeader: string | undefined, rawBody: Uint8Array): Promise<GatewayCaller>;
}

const reasons = {
  missing: 'A gateway token is required',
  malformed: 'The gateway token is malformed',
  header: 'The gateway token uses a refused algorithm, type or header',
  key: 'The gateway token was signed by an unknown key',
  signature: 'The gateway token signature is invalid',
  issuer: 'The gateway token was issued by an untrusted issuer',
  audience: 'The gateway token is meant for another node',
  expired: 'The gateway token has expired',
  'not-yet-valid': 'The gateway token is not valid yet',
  lifetime: 'The gateway token lives longer than allowed',
  claims: 'The gateway token lacks a required claim or carries an invalid one',
  body: 'The gateway token does not match the request body',
  replay: 'The gateway token was already used',
} as const;

type Reason = keyof typeof reasons;

function refuse(reason: Reason): ProblemError {
  return nodeProblem('ERR_UNAUTHENTICATED', { detail: reasons[reason] });
}

/**
 * @example
 * const verifier = createGatewayTokenVerifier({ nodeId: 'lombardia', issuer, publicJwks });
 * const caller = await verifier.verify(req.get('authorization'), rawBody);
 */
export function createGatewayTokenVerifier(
  options: GatewayTokenVerifierOptions,
): GatewayTokenVerifier {
  const {
    nodeId,
    issuer,
    clockToleranceSec = GATEWAY_CLOCK_TOLERANCE_SEC,
    now = Date.now,
    replayCache = createMemoryReplayCache(),
  } = options;
  const keySet = checkOptions(options);

  async function keyFor(header: ProtectedHeaderParameters): Promise<CryptoKey> {
    try {
      return await keySet(header);
    } catch (err) {
      if (
        err instanceof joseErrors.JWKSNoMatchingKey ||
        err instanceof joseErrors.JWKSMultipleMatchingKeys ||
        err instanceof joseErrors.JOSENotSupported
      ) {
        throw refuse('key');
      }
      // Timeout, refused connection, non-200, bad JSON: fail closed, and not as a 500.
      throw nodeProblem('ERR_GATEWAY_KEYS_UNAVAILABLE', { retryAfter: 30 });
    }
  }

  return {
    async verify(authorizationHeader, rawBody) {
      const token = BEARER.exec(authorizationHeader ?? '')?.[1];
      if (token === undefined) throw refuse('missing');
      if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw refuse('malformed');

      const header = checkHeader(token);
      const key = await keyFor(header);
      const nowMs = now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          issuer,
          algorithms: [ALGORITHM],
          clockTolerance: clockToleranceSec,
          currentDate: new Date(nowMs),
          requiredClaims: ['aud', 'sub', 'exp', 'iat', 'jti', 'project', 'qh'],
        }));
      } catch (err) {
        throw refuse(reasonFor(err));
      }

      // Exactly this node: an array naming several nodes could be replayed to each.
      if (payload.aud !== nodeId) throw refuse('audience');
      const { sub, jti, iat, exp, project, qh } = payload;
      if (typeof iat !== 'number' || typeof exp !== 'number') throw refuse('claims');
      if (iat > nowMs / 1000 + clockToleranceSec) throw refuse('not-yet-valid');
      if (exp <= iat || exp - iat > GATEWAY_TOKEN_MAX_LIFETIME_SEC) throw refuse('lifetime');
      if (!isId(sub) || !isId(jti) || !isId(project) || typeof qh !== 'string') {
        throw refuse('claims');
      }
      if (!sameText(qh, createHash('sha256').update(rawBody).digest('base64url'))) {
        throw refuse('body');
      }
      // Last, so that only a token that passed every other check uses up its id.
      const expiresAtMs = (exp + clockToleranceSec) * 1000;
      if (!(await replayCache.remember(jti, expiresAtMs, nowMs))) throw refuse('replay');
      return { sub, project, jti };
    },
  };
}

function checkHeader(token: string): ProtectedHeaderParameters {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw refuse('malformed');
  }
  if (header.alg !== ALGORITHM || header.typ !== GATEWAY_TOKEN_TYP) throw refuse('header');
  if (KEY_BEARING_HEADERS.some((name) => Object.hasOwn(header, name))) throw refuse('header');
  if (!isId(header.kid)) throw refuse('malformed');
  return header;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function reasonFor(err: unknown): Reason {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason !== 'check_failed') return 'claims';
    if (err.claim === 'iss') return 'issuer';
    if (err.claim === 'nbf') return 'not-yet-valid';
    return 'claims';
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  return 'malformed';
}

type KeySet = (header: ProtectedHeaderParameters) => Promise<CryptoKey>;

function checkOptions(options: GatewayTokenVerifierOptions): KeySet {
  const fail = (key: string, why: string): never => {
    throw new TypeError(`createGatewayTokenVerifier: "${key}" ${why}`);
  };
  const {
    nodeId,
    issuer,
    jwksUrl,
    publicJwks,
    clockToleranceSec = GATEWAY_CLOCK_TOLERANCE_SEC,
  } = options;
  if (typeof nodeId !== 'string' || nodeId === '') fail('nodeId', 'must be a non-empty string');
  if (typeof issuer !== 'string' || issuer === '') fail('issuer', 'must be a non-empty string');
  if (!(clockToleranceSec >= 0 && clockToleranceSec <= 60)) {
    fail('clockToleranceSec', 'must be between 0 and 60');
  }
  if ((jwksUrl === undefined) === (publicJwks === undefined)) {
    fail('jwksUrl', 'or "publicJwks" must be given, not both');
  }
  if (publicJwks !== undefined) {
    if (!Array.isArray(publicJwks.keys) || publicJwks.keys.length === 0) {
      fail('publicJwks', 'must hold at least one key');
    }
    if (publicJwks.keys.some((jwk) => jwk.kty !== 'EC' || jwk.d !== undefined)) {
      fail('publicJwks', 'must hold EC public keys only');
    }
    return createLocalJWKSet(publicJwks);
  }
  let url: URL | undefined;
  try {
    url = new URL(jwksUrl ?? '');
  } catch {
    fail('jwksUrl', 'must be an absolute URL');
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    return fail('jwksUrl', 'must be an http(s) URL');
  }
  return createRemoteJWKSet(url, {
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
    cacheMaxAge: GATEWAY_JWKS_CACHE_MAX_AGE_SEC * 1000,
    ...(options.fetch === undefined ? {} : { [customFetch]: options.fetch }),
  });
}
