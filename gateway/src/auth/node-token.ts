// Gateway-to-node tokens: one short-lived ES256 JWT per node request, bound
// to that node (`aud`) and to the exact bytes of the body (`qh`), so a node
// can refuse a token replayed, redirected to another node or reused for
// another query. The node side lives in node-adapter/src/auth/gateway-token.ts
// and must agree with the constants below.
import { createHash, createPrivateKey, randomBytes, sign as signDigest } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';

export const NODE_TOKEN_TYP = 'tessera-node+jwt';
export const NODE_TOKEN_ALG = 'ES256';
// A token is signed for each attempt just before it is sent, and the node
// checks it on arrival, so it need only outlive the trip: 10 s by default, at
// most 15 s. The node honours it until `exp` plus its clock tolerance (10 s)
// and remembers its `jti` on disk for as long (threat 48).
export const NODE_TOKEN_MAX_TTL_SEC = 15;
// How far a node lets its clock and ours differ when it checks a token's
// times (node-adapter's GATEWAY_CLOCK_TOLERANCE_SEC).
export const NODE_CLOCK_TOLERANCE_SEC = 10;

export interface NodeTokenSignerOptions {
  /** An EC P-256 private JWK (with `d`). */
  readonly privateJwk: JWK;
  readonly kid: string;
  /** The gateway's issuer id; nodes pin it. */
  readonly issuer: string;
  /** 1-15 s; default 10. */
  readonly ttlSec?: number;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

export interface NodeTokenRequest {
  /** The node id the request goes to. */
  readonly aud: string;
  /** The researcher on whose behalf the gateway asks. */
  readonly sub: string;
  readonly project: string;
  /** The exact request body bytes (a string is taken as UTF-8). */
  readonly body: Uint8Array | string;
}

export interface NodeTokenSigner {
  readonly kid: string;
  sign(request: NodeTokenRequest): string;
}

/**
 * @example
 * const signer = createNodeTokenSigner({ privateJwk, kid, issuer: 'https://gateway.tessera.eu' });
 * const token = signer.sign({ aud: 'lombardia', sub, project, body });
 */
export function createNodeTokenSigner(options: NodeTokenSignerOptions): NodeTokenSigner {
  const { privateJwk, kid, issuer, ttlSec = 10, now = Date.now } = options;
  const fail = (key: string, why: string): never => {
    throw new TypeError(`createNodeTokenSigner: "${key}" ${why}`);
  };
  if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256' || typeof privateJwk.d !== 'string') {
    fail('privateJwk', 'must be an EC P-256 private key');
  }
  if (typeof kid !== 'string' || kid === '') fail('kid', 'must be a non-empty string');
  if (privateJwk.kid !== undefined && privateJwk.kid !== kid) fail('kid', 'differs from the JWK');
  if (typeof issuer !== 'string' || issuer === '') fail('issuer', 'must be a non-empty string');
  if (!Number.isInteger(ttlSec) || ttlSec < 1 || ttlSec > NODE_TOKEN_MAX_TTL_SEC) {
    fail('ttlSec', `must be an integer from 1 to ${NODE_TOKEN_MAX_TTL_SEC}`);
  }
  // A token per node and query: node:crypto signs one in a third of the CPU
  // that jose's WebCrypto path takes. Nodes verify with jose (as do the tests,
  // every token), so the compact JWS (RFC 7515 §7.1) is all that is made here.
  const key = createPrivateKey({ key: { ...privateJwk }, format: 'jwk' });
  const header = base64urlJson({ alg: NODE_TOKEN_ALG, typ: NODE_TOKEN_TYP, kid });

  return {
    kid,
    sign({ aud, sub, project, body }) {
      const iat = Math.floor(now() / 1000);
      const payload = base64urlJson({
        project,
        qh: bodyHash(body),
        iss: issuer,
        aud,
        sub,
        jti: randomBytes(18).toString('base64url'),
        iat,
        exp: iat + ttlSec,
      });
      const signingInput = `${header}.${payload}`;
      // ES256 signatures are R || S, 64 bytes (RFC 7518 §3.4), not DER.
      const signature = signDigest('sha256', Buffer.from(signingInput), {
        key,
        dsaEncoding: 'ieee-p1363',
      });
      return `${signingInput}.${signature.toString('base64url')}`;
    },
  };
}

function base64urlJson(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** base64url(SHA-256(body)): the `qh` claim. */
export function bodyHash(body: Uint8Array | string): string {
  return createHash('sha256').update(body).digest('base64url');
}

export interface SigningKey {
  /** The RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/** A fresh ES256 key pair for node tokens, as JWKs. */
export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(NODE_TOKEN_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const meta = { kid, alg: NODE_TOKEN_ALG, use: 'sig' };
  return {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...publicJwk, ...meta },
  };
}

/**
 * The document for `/.well-known/jwks.json`: the public part of each key,
 * current and previous, so nodes keep accepting tokens across a rotation.
 * Private members are never copied, whatever is passed in.
 * @example res.json(publicJwks([current.publicJwk, previous.publicJwk]));
 */
export function publicJwks(keys: readonly JWK[]): { keys: JWK[] } {
  const seen = new Set<string>();
  return {
    keys: keys.map(({ kty, crv, x, y, kid }) => {
      if (kty !== 'EC' || crv !== 'P-256' || x === undefined || y === undefined) {
        throw new TypeError('publicJwks: every key must be EC P-256');
      }
      if (kid === undefined || seen.has(kid)) {
        throw new TypeError('publicJwks: every key needs its own kid');
      }
      seen.add(kid);
      return { kty, crv, x, y, kid, alg: NODE_TOKEN_ALG, use: 'sig' };
    }),
  };
}
