// How the node proves itself to its FHIR server: nothing, a static bearer
// token, HTTP Basic, or SMART Backend Services (client_credentials with a
// private_key_jwt assertion). Tokens are cached until shortly before they
// expire and fetched once however many searches wait for them.
import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK } from 'jose';
import type { JWK } from 'jose';
import { nodeProblem } from '../errors.ts';
import { readLimitedJson } from './fhir-http.ts';

export type FhirAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | {
      readonly kind: 'smart-backend';
      readonly tokenUrl: string;
      readonly clientId: string;
      /** The client's private key; RS384 or ES384 unless the key names its `alg`. */
      readonly privateJwk: JWK;
      readonly kid: string;
      /** e.g. `system/Patient.rs system/Condition.rs ...` */
      readonly scope: string;
    };

export interface AuthProvider {
  /** The Authorization header value for the next request, if any. */
  authorization(signal?: AbortSignal): Promise<string | undefined>;
  /** Forgets a cached token after the server refused it; false when there is nothing to renew. */
  renew(): boolean;
}

export interface AuthDeps {
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  readonly now: () => number;
}

/** Seconds before expiry at which a cached token is replaced. */
const RENEW_MARGIN_S = 60;
/** Lifetime of a client assertion (SMART allows at most five minutes). */
const ASSERTION_LIFETIME_S = 240;

function configError(detail: string): Error {
  return nodeProblem('ERR_SOURCE_CONFIG', { detail });
}

/** True for http(s) URLs whose credentials may travel: https, or http on the loopback. */
export function isSafeCredentialUrl(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * A FHIR base URL checked for use (http(s), no query, fragment or user info;
 * https unless on the loopback when credentials travel), without its trailing slash.
 * @example checkServerUrl('https://fhir.example/r4/', { kind: 'none' }) // 'https://fhir.example/r4'
 */
export function checkServerUrl(baseUrl: string, auth: FhirAuth): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw configError('baseUrl is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError('baseUrl must be an http(s) URL');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw configError('baseUrl must have no query, fragment or credentials');
  }
  if (auth.kind !== 'none' && !isSafeCredentialUrl(url)) {
    throw configError('baseUrl must use https when the node sends credentials');
  }
  const text = url.toString();
  return text.endsWith('/') ? text.slice(0, -1) : text;
}

function signingAlg(jwk: JWK): string {
  if (typeof jwk.alg === 'string' && jwk.alg.length > 0) return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS384';
  if (jwk.kty === 'EC') return 'ES384';
  throw configError('auth.privateJwk must be an RSA or EC key, or name its alg');
}

function smartBackend(
  auth: Extract<FhirAuth, { kind: 'smart-backend' }>,
  deps: AuthDeps,
): AuthProvider {
  let tokenUrl: URL;
  try {
    tokenUrl = new URL(auth.tokenUrl);
  } catch {
    throw configError('auth.tokenUrl is not a URL');
  }
  if (!isSafeCredentialUrl(tokenUrl)) throw configError('auth.tokenUrl must use https');
  if (auth.clientId.length === 0) throw configError('auth.clientId is empty');
  if (auth.kid.length === 0) throw configError('auth.kid is empty');
  if (auth.scope.length === 0) throw configError('auth.scope is empty');
  if (typeof auth.privateJwk.d !== 'string')
    throw configError('auth.privateJwk is not a private key');
  const alg = signingAlg(auth.privateJwk);
  let key: ReturnType<typeof importJWK> | undefined;
  let cached: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function assertion(): Promise<string> {
    key ??= importJWK(auth.privateJwk, alg);
    const nowS = Math.floor(deps.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg, kid: auth.kid, typ: 'JWT' })
      .setIssuer(auth.clientId)
      .setSubject(auth.clientId)
      .setAudience(auth.tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(nowS)
      .setExpirationTime(nowS + ASSERTION_LIFETIME_S)
      .sign(await key);
  }

  async function fetchToken(signal?: AbortSignal): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: auth.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(),
    });
    const timeout = AbortSignal.timeout(deps.timeoutMs);
    let response: Response;
    try {
      response = await deps.fetch(tokenUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: body.toString(),
        redirect: 'manual',
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
    } catch {
      throw nodeProblem('ERR_SOURCE_UNAVAILABLE', {
        detail: 'the FHIR server’s token endpoint did not answer',
      });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw nodeProblem('ERR_SOURCE_UNAVAILABLE', {
        detail: `the FHIR server’s token endpoint refused the node (HTTP ${response.status})`,
      });
    }
    const json = await readLimitedJson(response, 1 << 20);
    const token =
      typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
    const accessToken = token.access_token;
    const tokenType = token.token_type;
    const expiresIn = typeof token.expires_in === 'number' ? token.expires_in : 300;
    if (
      typeof accessToken !== 'string' ||
      accessToken.length === 0 ||
      /[\r\n]/.test(accessToken) ||
      (typeof tokenType === 'string' && tokenType.toLowerCase() !== 'bearer')
    ) {
      throw nodeProblem('ERR_SOURCE_INVALID', {
        detail: 'the FHIR server’s token endpoint answered no usable bearer token',
      });
    }
    const margin = Math.min(RENEW_MARGIN_S, expiresIn / 10);
    cached = { token: accessToken, renewAt: deps.now() + (expiresIn - margin) * 1000 };
    return accessToken;
  }

  return {
    async authorization(signal) {
      if (cached !== undefined && deps.now() < cached.renewAt) return `Bearer ${cached.token}`;
      pending ??= fetchToken(signal).finally(() => {
        pending = undefined;
      });
      return `Bearer ${await pending}`;
    },
    renew() {
      cached = undefined;
      return true;
    },
  };
}

/**
 * Checks the auth configuration once, at creation, and returns what adds the
 * Authorization header to each request.
 * @example createAuthProvider({ kind: 'bearer', token: 't' }, deps).authorization() // 'Bearer t'
 */
export function createAuthProvider(auth: FhirAuth, deps: AuthDeps): AuthProvider {
  switch (auth.kind) {
    case 'none':
      return { authorization: () => Promise.resolve(undefined), renew: () => false };
    case 'bearer': {
      if (auth.token.length === 0 || /[\r\n]/.test(auth.token)) {
        throw configError('auth.token is empty or not a single line');
      }
      const header = `Bearer ${auth.token}`;
      return { authorization: () => Promise.resolve(header), renew: () => false };
    }
    case 'basic': {
      if (auth.username.length === 0 || auth.username.includes(':')) {
        throw configError('auth.username is empty or holds a colon');
      }
      const header = `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
      return { authorization: () => Promise.resolve(header), renew: () => false };
    }
    case 'smart-backend':
      return smartBackend(auth, deps);
  }
}
