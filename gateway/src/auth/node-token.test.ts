import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  exportJWK,
  jwtVerify,
} from 'jose';
import {
  NODE_TOKEN_TYP,
  bodyHash,
  createNodeTokenSigner,
  generateSigningKey,
  publicJwks,
} from './node-token.ts';

const NOW = Date.UTC(2030, 0, 1, 12);
const ISSUER = 'https://gateway.tessera.test';
const body = JSON.stringify({ version: 1, cohort: { patient: { gender: 'female' } } });

describe('createNodeTokenSigner', () => {
  it('signs an ES256 tessera-node+jwt bound to the node and the exact body', async () => {
    const key = await generateSigningKey();
    const signer = createNodeTokenSigner({
      privateJwk: key.privateJwk,
      kid: key.kid,
      issuer: ISSUER,
      ttlSec: 10,
      now: () => NOW,
    });
    const token = signer.sign({
      aud: 'lombardia',
      sub: 'alice',
      project: 'diabetes-eu',
      body,
    });

    expect(decodeProtectedHeader(token)).toEqual({
      alg: 'ES256',
      typ: NODE_TOKEN_TYP,
      kid: key.kid,
    });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: 'lombardia',
      sub: 'alice',
      project: 'diabetes-eu',
      iat: NOW / 1000,
      exp: NOW / 1000 + 10,
      qh: createHash('sha256').update(body).digest('base64url'),
    });
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const verified = await jwtVerify(token, createLocalJWKSet(publicJwks([key.publicJwk])), {
      algorithms: ['ES256'],
      typ: NODE_TOKEN_TYP,
      issuer: ISSUER,
      audience: 'lombardia',
      currentDate: new Date(NOW),
    });
    expect(verified.payload.sub).toBe('alice');
  });

  it('hashes a string and its UTF-8 bytes alike, and any change in the body changes the hash', () => {
    const text = '{"label":"Dolnośląskie"}';
    expect(bodyHash(text)).toBe(bodyHash(new TextEncoder().encode(text)));
    expect(bodyHash(text)).not.toBe(bodyHash(`${text} `));
  });

  it('gives every token its own jti', async () => {
    const key = await generateSigningKey();
    const signer = createNodeTokenSigner({
      privateJwk: key.privateJwk,
      kid: key.kid,
      issuer: ISSUER,
    });
    const request = { aud: 'galicia', sub: 'alice', project: 'p', body };
    const ids = new Set<unknown>();
    for (let i = 0; i < 50; i += 1) ids.add(decodeJwt(signer.sign(request)).jti);
    expect(ids.size).toBe(50);
  });

  it('refuses a lifetime over 15 s and keys that are not EC P-256 private keys', async () => {
    const key = await generateSigningKey();
    const options = { privateJwk: key.privateJwk, kid: key.kid, issuer: ISSUER };
    for (const ttlSec of [0, 16, 1.5, 3600]) {
      expect(() => createNodeTokenSigner({ ...options, ttlSec })).toThrow(/"ttlSec"/);
    }
    expect(() => createNodeTokenSigner({ ...options, privateJwk: key.publicJwk })).toThrow(
      /"privateJwk"/,
    );
    const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
    expect(() => createNodeTokenSigner({ ...options, privateJwk: rsa })).toThrow(/"privateJwk"/);
    expect(() => createNodeTokenSigner({ ...options, kid: 'other' })).toThrow(/"kid"/);
    expect(() => createNodeTokenSigner({ ...options, issuer: '' })).toThrow(/"issuer"/);
  });
});

describe('publicJwks', () => {
  it('publishes several keys for rotation, never a private member', async () => {
    const [current, previous] = await Promise.all([generateSigningKey(), generateSigningKey()]);
    const jwks = publicJwks([current.privateJwk, previous.publicJwk]);
    expect(jwks.keys.map((k) => k.kid)).toEqual([current.kid, previous.kid]);
    for (const jwk of jwks.keys) {
      expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    }
    expect(JSON.stringify(jwks)).not.toContain(String(current.privateJwk.d));

    // Tokens from either key verify against the published set.
    const set = createLocalJWKSet(jwks);
    for (const key of [current, previous]) {
      const signer = createNodeTokenSigner({
        privateJwk: key.privateJwk,
        kid: key.kid,
        issuer: ISSUER,
      });
      const token = signer.sign({ aud: 'sachsen', sub: 'bob', project: 'p', body });
      await expect(jwtVerify(token, set, { algorithms: ['ES256'] })).resolves.toBeDefined();
    }
  });

  it('refuses keys without kid, duplicate kids and non-EC keys', async () => {
    const key = await generateSigningKey();
    const withoutKid = Object.fromEntries(
      Object.entries(key.publicJwk).filter(([name]) => name !== 'kid'),
    ) as typeof key.publicJwk;
    expect(() => publicJwks([withoutKid])).toThrow(/kid/);
    expect(() => publicJwks([key.publicJwk, key.publicJwk])).toThrow(/kid/);
    expect(() => publicJwks([{ kty: 'oct', k: 'c2VjcmV0', kid: 'x' }])).toThrow(/EC P-256/);
  });
});
