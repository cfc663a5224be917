// Researcher authentication: an OIDC access token (RFC 9068 JWT profile) from
// the configured IdP, checked against pinned algorithms, the IdP's own keys,
// issuer, audience, lifetime, type and scope.
//
// ID tokens are refused as access tokens three ways: with `typ: ['at+jwt']`
// (the configuration's default, RFC 9068) their `typ: JWT` header fails; their `aud` is the
// client id, not the gateway's audience; and when `JWT` has to be accepted for
// IdPs that do not set `at+jwt` (Keycloak), a token carrying ID-token-only
// claims (`nonce`, `at_hash`, `c_hash`, `s_hash`) or Keycloak's `typ: "ID"`
// claim is refused.
import { errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { NextFunction, Request, Response } from 'express';
import { sendProblem } from '@tessera/http-kit';
import { ProblemError } from '@tessera/schemas';
import { checkProtectedHeader, normaliseTyp, readBearerToken } from './bearer.ts';
import type { HeaderPolicy } from './bearer.ts';
import { SCOPE_TOKEN, insufficientScope, invalidToken, wwwAuthenticateOf } from './challenge.ts';
import type { InvalidTokenReason } from './challenge.ts';
import { JWKS_REFETCH_COOLDOWN_MS, createIdpKeySource } from './idp-keys.ts';

export type ResearcherAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

export interface ResearcherAuthOptions {
  /** The IdP's issuer identifier, exactly as its discovery document and tokens state it. */
  readonly issuer: string;
  /** The gateway's audience (resource indicator / client id the IdP puts in `aud`). */
  readonly audience: string;
  readonly algorithms: readonly ResearcherAlgorithm[];
  /** Accepted `typ` headers; `JWT` only for IdPs that do not issue `at+jwt`. */
  readonly typ: readonly ('at+jwt' | 'JWT')[];
  /** The scope every token must carry, e.g. `tessera:query`. */
  readonly requiredScope: string;
  /** The claim holding the researcher's project ids, e.g. `tessera_projects`. */
  readonly projectsClaim: string;
  /** Clock skew allowed on a token's lifetime, 0 to 300. */
  readonly clockToleranceSec: number;
  /** How long fetched keys are trusted while the IdP cannot be reached. */
  readonly jwksCacheMaxAgeMs: number;
  /** Timeout for discovery and JWKS fetches. */
  readonly fetchTimeoutMs: number;
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

export interface Researcher {
  readonly sub: string;
  readonly projects: readonly string[];
  readonly scopes: readonly string[];
}

export interface ResearcherAuth {
  /**
   * The researcher behind an `Authorization` header value.
   * Throws AuthProblemError 401/403, or ProblemError 503 when the IdP's keys cannot be had.
   */
  verify(authorizationHeader: string | undefined): Promise<Researcher>;
  /**
   * The researcher behind a token `verify` accepted before and still
   * remembers, found without any check or I/O; undefined for any other
   * header (never a refusal: that is `verify`'s to give).
   */
  known(authorizationHeader: string | undefined): Researcher | undefined;
}

/** Claims that only ID tokens carry (OpenID Connect Core §2, §3.3.2.11). */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'] as const;
const MAX_CLAIM_ITEMS = 1000;

/**
 * A researcher's client sends the same access token with every request
 * until it expires; checking its signature each time would be most of what a
 * query costs the gateway. A token that passed every check is taken as it
 * is, without its signature checked again, until it expires or for this
 * long at most, after which it is checked in full (against the IdP's keys
 * as they then are).
 */
const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Most tokens remembered; the oldest goes first. */
const VERIFIED_TOKEN_LIMIT = 10_000;

/**
 * Checks the options once, at start-up, and returns the verifier.
 * @example
 * const auth = createResearcherAuth({ issuer, audience: 'urn:tessera:gateway',
 *   algorithms: ['RS256'], typ: ['at+jwt'], requiredScope: 'tessera:query',
 *   projectsClaim: 'tessera_projects', clockToleranceSec: 30, jwksCacheMaxAgeMs: 600_000,
 *   fetchTimeoutMs: 5_000 });
 * const researcher = await auth.verify(req.get('authorization'));
 */
export function createResearcherAuth(options: ResearcherAuthOptions): ResearcherAuth {
  const config = checkOptions(options);
  const { issuer, audience, requiredScope, projectsClaim, clockToleranceSec, now } = config;
  const headerPolicy: HeaderPolicy = {
    algorithms: new Set(config.algorithms),
    types: new Set(config.typ.map(normaliseTyp)),
  };
  const keys = createIdpKeySource({
    issuer,
    fetch: config.fetch,
    now,
    cacheMaxAgeMs: config.jwksCacheMaxAgeMs,
    timeoutMs: config.fetchTimeoutMs,
  });

  async function verifySignatureAndClaims(token: string): Promise<JWTPayload> {
    const header = checkProtectedHeader(token, headerPolicy);
    const candidates = await keys.keysFor(header);
    let failure: unknown;
    for (const key of candidates) {
      try {
        const { payload } = await jwtVerify(token, key, {
          issuer,
          audience,
          algorithms: [header.alg],
          clockTolerance: clockToleranceSec,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'iat', 'sub'],
        });
        return payload;
      } catch (err) {
        failure = err;
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw invalidToken(reasonFor(failure));
  }

  /** Tokens that passed every check: the researcher, and until when that stands. */
  const verified = new Map<string, { researcher: Researcher; untilMs: number }>();

  function remember(token: string, researcher: Researcher, expSec: number): void {
    const untilMs = Math.min(now() + VERIFIED_TOKEN_TTL_MS, (expSec + clockToleranceSec) * 1000);
    if (verified.size >= VERIFIED_TOKEN_LIMIT) verified.delete(verified.keys().next().value!);
    verified.set(token, { researcher, untilMs });
  }

  /** A remembered token's researcher while its time lasts. */
  function recall(token: string): Researcher | undefined {
    const known = verified.get(token);
    if (known === undefined) return undefined;
    if (now() < known.untilMs) return known.researcher;
    verified.delete(token);
    return undefined;
  }

  return {
    async verify(authorizationHeader) {
      const token = readBearerToken(authorizationHeader);
      return recall(token) ?? verifyInFull(token);
    },
    known(authorizationHeader) {
      let token: string;
      try {
        token = readBearerToken(authorizationHeader);
      } catch {
        return undefined;
      }
      return recall(token);
    },
  };

  /** Every check, signature included; a token that passes is remembered. */
  async function verifyInFull(token: string): Promise<Researcher> {
    const payload = await verifySignatureAndClaims(token);

    // jose checks `iat` only against a maximum age; a token from the future is refused here.
    const { iat } = payload;
    if (typeof iat !== 'number' || iat > now() / 1000 + clockToleranceSec) {
      throw invalidToken('not-yet-valid');
    }
    if (ID_TOKEN_CLAIMS.some((claim) => Object.hasOwn(payload, claim)) || payload.typ === 'ID') {
      throw invalidToken('type');
    }
    const { sub } = payload;
    if (typeof sub !== 'string' || sub.length === 0) throw invalidToken('claims');

    const scopes = readScopes(payload);
    if (!scopes.includes(requiredScope)) throw insufficientScope(requiredScope);
    // hasOwn: a claim name such as `constructor` must not read Object.prototype.
    const projects = readStringList(
      Object.hasOwn(payload, projectsClaim) ? payload[projectsClaim] : undefined,
    );
    if (projects === undefined) throw invalidToken('claims');
    // Shared by every request that brings this token.
    const researcher: Researcher = Object.freeze({
      sub,
      projects: Object.freeze(projects),
      scopes: Object.freeze(scopes),
    });
    remember(token, researcher, payload.exp!);
    return researcher;
  }
}

/** `scope` (RFC 9068, space separated) and/or `scp` (array or string, as some IdPs send it). */
function readScopes(payload: JWTPayload): string[] {
  const scope = readStringList(payload.scope);
  const scp = readStringList(payload.scp);
  if (scope === undefined || scp === undefined) throw invalidToken('claims');
  return [...new Set([...scope, ...scp])];
}

/** Absent → [], a space-separated string or an array of strings → list, anything else → undefined. */
function readStringList(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? value.split(' ').filter((s) => s !== '') : value;
  if (!Array.isArray(items) || items.length > MAX_CLAIM_ITEMS) return undefined;
  if (!items.every((item): item is string => typeof item === 'string' && item !== '')) {
    return undefined;
  }
  return items;
}

function reasonFor(err: unknown): InvalidTokenReason {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason !== 'check_failed') return 'claims';
    switch (err.claim) {
      case 'iss':
        return 'issuer';
      case 'aud':
        return 'audience';
      case 'nbf':
      case 'iat':
        return 'not-yet-valid';
      default:
        return 'claims';
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'header';
  return 'malformed';
}

type CheckedOptions = Required<ResearcherAuthOptions>;

function checkOptions(options: ResearcherAuthOptions): CheckedOptions {
  const fail = (key: string, why: string): never => {
    throw new TypeError(`createResearcherAuth: "${key}" ${why}`);
  };
  const config: CheckedOptions = {
    fetch: globalThis.fetch,
    now: Date.now,
    ...definedOnly(options),
  };
  let issuerUrl: URL | undefined;
  try {
    issuerUrl = new URL(config.issuer);
  } catch {
    fail('issuer', 'must be an absolute URL');
  }
  if (issuerUrl?.protocol !== 'https:' && issuerUrl?.protocol !== 'http:') {
    fail('issuer', 'must be an http(s) URL');
  }
  if (typeof config.audience !== 'string' || config.audience === '') {
    fail('audience', 'must be a non-empty string');
  }
  const algorithms: readonly string[] = ['RS256', 'ES256', 'EdDSA'];
  if (config.algorithms.length === 0 || !config.algorithms.every((a) => algorithms.includes(a))) {
    fail('algorithms', 'must list one or more of RS256, ES256, EdDSA');
  }
  const types: readonly string[] = ['at+jwt', 'JWT'];
  if (config.typ.length === 0 || !config.typ.every((t) => types.includes(t))) {
    fail('typ', 'must list at+jwt and/or JWT');
  }
  if (!SCOPE_TOKEN.test(config.requiredScope)) fail('requiredScope', 'must be one scope token');
  if (typeof config.projectsClaim !== 'string' || config.projectsClaim === '') {
    fail('projectsClaim', 'must be a non-empty string');
  }
  if (!(config.clockToleranceSec >= 0 && config.clockToleranceSec <= 300)) {
    fail('clockToleranceSec', 'must be between 0 and 300');
  }
  if (!(config.jwksCacheMaxAgeMs >= JWKS_REFETCH_COOLDOWN_MS)) {
    fail('jwksCacheMaxAgeMs', `must be at least ${JWKS_REFETCH_COOLDOWN_MS}`);
  }
  if (!(Number.isInteger(config.fetchTimeoutMs) && config.fetchTimeoutMs > 0)) {
    fail('fetchTimeoutMs', 'must be a positive integer');
  }
  return Object.freeze(config);
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Express middleware: sets `res.locals.researcher`, or answers problem+json
 * with the matching `WWW-Authenticate` (and `Retry-After` on 503).
 * @example app.use('/v1', researcherAuthMiddleware(auth));
 */
export function researcherAuthMiddleware(auth: ResearcherAuth) {
  return async function researcherAuthentication(
    req: Request,
    res: Response,
    next: NextFunction,
  ): Promise<void> {
    let researcher: Researcher;
    try {
      researcher = await auth.verify(req.get('authorization'));
    } catch (err) {
      if (!(err instanceof ProblemError)) {
        next(err);
        return;
      }
      sendProblem(res, err, wwwAuthenticateOf(err));
      return;
    }
    res.locals.researcher = researcher;
    next();
  };
}

/** The researcher set by {@link researcherAuthMiddleware}; a route behind it can rely on one. */
export function researcherOf(res: Response): Researcher {
  const researcher: unknown = res.locals.researcher;
  if (!isResearcher(researcher))
    throw new TypeError('researcherOf: no researcherAuthMiddleware ran');
  return researcher;
}

function isResearcher(value: unknown): value is Researcher {
  return (
    typeof value === 'object' && value !== null && typeof (value as Researcher).sub === 'string'
  );
}
