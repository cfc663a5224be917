// The IdP's signing keys: discovered once through OpenID Connect discovery,
// then cached. jose's createRemoteJWKSet is close, but reads the wall clock,
// and after a failed fetch it does not hold back. Here the clock and fetch are
// passed in, every fetch (success or failure) starts the cooldown, and a
// cache that has aged out while the IdP is down fails closed with a 503.
import { createLocalJWKSet, errors as joseErrors } from 'jose';
import type { CryptoKey, JSONWebKeySet, JWSHeaderParameters, LocalJWKSet } from 'jose';
import { idpUnavailable, invalidToken } from './challenge.ts';

/** An unknown `kid` refetches the JWKS at most this often. */
export const JWKS_REFETCH_COOLDOWN_MS = 30_000;
/** After a failed fetch, a cache that has aged out waits this long before trying again. */
const FAILURE_RETRY_MS = 5_000;
const MAX_DOCUMENT_BYTES = 512 * 1024;

export interface IdpKeySourceOptions {
  readonly issuer: string;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly cacheMaxAgeMs: number;
  readonly timeoutMs: number;
}

export interface IdpKeySource {
  /**
   * The public keys that may have signed a token with this header (usually one).
   * Throws 401 when none matches, 503 when the keys cannot be had.
   */
  keysFor(header: JWSHeaderParameters): Promise<CryptoKey[]>;
}

type Refresh = 'fetched' | 'failed' | 'held-back';

export function createIdpKeySource(options: IdpKeySourceOptions): IdpKeySource {
  const { issuer, now, cacheMaxAgeMs } = options;
  const discoveryUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;

  let jwksUri: string | undefined;
  let keySet: LocalJWKSet | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let failedAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<Refresh> | undefined;

  const getJson = (url: string) => fetchJson(url, options);
  const fresh = () => keySet !== undefined && now() - fetchedAt < cacheMaxAgeMs;

  async function load(): Promise<Refresh> {
    try {
      jwksUri ??= readJwksUri(await getJson(discoveryUrl), issuer);
      keySet = createLocalJWKSet((await getJson(jwksUri)) as JSONWebKeySet);
      fetchedAt = now();
      return 'fetched';
    } catch {
      // The cause stays here: upstream text never reaches a researcher.
      failedAt = now();
      return 'failed';
    }
  }

  /** One fetch at a time; concurrent callers share its outcome. */
  function refresh(heldBackFor: number, since: number): Promise<Refresh> {
    if (pending) return pending;
    if (now() - since < heldBackFor) return Promise.resolve('held-back');
    pending = load().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  const retryAfterSec = () => (failedAt + FAILURE_RETRY_MS - now()) / 1000;

  return {
    async keysFor(header) {
      if (!fresh()) {
        await refresh(FAILURE_RETRY_MS, failedAt);
        if (!fresh()) throw idpUnavailable(retryAfterSec());
      }
      const first = await select(keySet, header);
      if (first.length > 0) return first;
      // An unknown kid may be a rotated key; ask again, but not more than once per
      // cooldown. If that fetch fails the cached keys still stand, so the answer is
      // 401 (no such key), not 503.
      const outcome = await refresh(JWKS_REFETCH_COOLDOWN_MS, Math.max(fetchedAt, failedAt));
      const second = outcome === 'fetched' ? await select(keySet, header) : [];
      if (second.length === 0) throw invalidToken('key');
      return second;
    },
  };
}

/** The candidate keys for a header; empty when no key matches. */
async function select(
  keySet: LocalJWKSet | undefined,
  header: JWSHeaderParameters,
): Promise<CryptoKey[]> {
  if (keySet === undefined) return [];
  try {
    return [await keySet(header)];
  } catch (err) {
    if (err instanceof joseErrors.JWKSNoMatchingKey) return [];
    if (err instanceof joseErrors.JWKSMultipleMatchingKeys) {
      // No kid and several keys of the right type: each is tried in turn.
      const keys: CryptoKey[] = [];
      for await (const key of err) keys.push(key);
      return keys;
    }
    // An alg the key set cannot serve, or a key that will not import.
    throw invalidToken('key');
  }
}

function readJwksUri(document: unknown, issuer: string): string {
  if (typeof document !== 'object' || document === null)
    throw new Error('discovery: not an object');
  const { issuer: advertised, jwks_uri: uri } = document as Record<string, unknown>;
  // OpenID Connect Discovery §4.3: the issuer must match exactly, or the document is not its own.
  if (advertised !== issuer) throw new Error('discovery: issuer mismatch');
  if (typeof uri !== 'string') throw new Error('discovery: no jwks_uri');
  const url = new URL(uri);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error('discovery: jwks_uri is not http(s)');
  }
  return url.href;
}

async function fetchJson(
  url: string,
  { fetch: fetchImpl, timeoutMs }: Pick<IdpKeySourceOptions, 'fetch' | 'timeoutMs'>,
): Promise<unknown> {
  const response = await fetchImpl(url, {
    method: 'GET',
    redirect: 'manual',
    headers: { accept: 'application/json, application/jwk-set+json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`unexpected status ${response.status}`);
  }
  return JSON.parse(await readCapped(response, MAX_DOCUMENT_BYTES)) as unknown;
}

/** The body as text, refusing to buffer more than `maxBytes`. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early (the throw) cancels the stream.
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new Error('document too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
