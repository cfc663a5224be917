// Threats 15-22 (docs: design/threats.md), each as a named test with tokens
// forged here, against a real loopback HTTP server serving discovery and JWKS.
import { createHmac, KeyObject } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import express from 'express';
import request from 'supertest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { ProblemError } from '@tessera/schemas';
import { configDefaults } from '@tessera/schemas/testing';
import { createResearcherAuth, researcherAuthMiddleware, researcherOf } from './researcher.ts';
import type { ResearcherAuthOptions } from './researcher.ts';
import { wwwAuthenticateOf } from './challenge.ts';
import type { AuthProblemError } from './challenge.ts';
import { startTestKeyServer, startTrapServer } from '../../test/support/test-key-server.ts';
import type { TestKeyServer, TrapServer } from '../../test/support/test-key-server.ts';

const AUD = 'urn:tessera:gateway';
const T0 = Date.UTC(2030, 0, 1);
const CACHE_MAX_AGE_MS = 5 * 60_000;

interface TestKey {
  readonly alg: 'RS256' | 'ES256' | 'EdDSA';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function makeKey(alg: TestKey['alg'], kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid } };
}

let server: TestKeyServer;
let trap: TrapServer;
let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let rsaNext: TestKey;
let attacker: TestKey;
let clock = T0;

const nowSec = () => Math.floor(clock / 1000);
const advance = (ms: number) => {
  clock += ms;
};

beforeAll(async () => {
  [server, trap] = await Promise.all([startTestKeyServer(), startTrapServer()]);
  [rsa, ec, ed, rsaNext, attacker] = await Promise.all([
    makeKey('RS256', 'rsa-1'),
    makeKey('ES256', 'ec-1'),
    makeKey('EdDSA', 'ed-1'),
    makeKey('RS256', 'rsa-2'),
    makeKey('RS256', 'attacker'),
  ]);
});

afterAll(async () => {
  await Promise.all([server.close(), trap.close()]);
});

beforeEach(() => {
  clock = T0;
  server.reset();
  server.setKeys([rsa.publicJwk, ec.publicJwk, ed.publicJwk]);
});

/** The token checks of a gateway configured with nothing but its IdP. */
const { oidc: OIDC } = configDefaults('gateway-config');

function makeAuth(overrides: Partial<ResearcherAuthOptions> = {}) {
  return createResearcherAuth({
    issuer: server.issuer,
    audience: AUD,
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    typ: ['at+jwt'],
    requiredScope: OIDC.requiredScope,
    projectsClaim: 'tessera_projects',
    clockToleranceSec: OIDC.clockToleranceSec,
    fetchTimeoutMs: OIDC.fetchTimeoutMs,
    jwksCacheMaxAgeMs: CACHE_MAX_AGE_MS,
    now: () => clock,
    ...overrides,
  });
}

/** Valid access-token claims at the current clock; an override of `undefined` removes a claim. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    iss: server.issuer,
    aud: AUD,
    sub: 'researcher-1',
    scope: 'tessera:query',
    tessera_projects: ['diabetes-eu'],
    iat: nowSec(),
    exp: nowSec() + 300,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

function sign(
  key: TestKey,
  payload: Record<string, unknown> = claims(),
  header: Record<string, unknown> = {},
): Promise<string> {
  const protectedHeader = Object.fromEntries(
    Object.entries({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return new SignJWT(payload)
    .setProtectedHeader(protectedHeader as { alg: string })
    .sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS assembled by hand, signature and all. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, signature = '') {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

const bearer = (token: string) => `Bearer ${token}`;

async function refusal(promise: Promise<unknown>): Promise<ProblemError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemError);
    return err as ProblemError;
  }
  throw new Error('the token was accepted');
}

async function expect401(promise: Promise<unknown>, detail: RegExp): Promise<ProblemError> {
  const err = await refusal(promise);
  expect(err).toMatchObject({
    status: 401,
    code: 'ERR_UNAUTHENTICATED',
    detail: expect.stringMatching(detail),
  });
  expect(wwwAuthenticateOf(err)).toMatch(/^Bearer realm="tessera", error="invalid_token"/);
  return err;
}

describe('accepted tokens', () => {
  it.each(['rsa', 'ec', 'ed'] as const)(
    'accepts a valid access token signed with %s',
    async (name) => {
      const key = { rsa, ec, ed }[name];
      const researcher = await makeAuth().verify(bearer(await sign(key)));
      expect(researcher).toEqual({
        sub: 'researcher-1',
        projects: ['diabetes-eu'],
        scopes: ['tessera:query'],
      });
    },
  );

  it('reads scopes from `scp` and merges them with `scope`', async () => {
    const token = await sign(rsa, claims({ scope: 'openid', scp: ['tessera:query', 'x'] }));
    const researcher = await makeAuth().verify(bearer(token));
    expect(researcher.scopes).toEqual(['openid', 'tessera:query', 'x']);
  });

  it('accepts `application/at+jwt` and a lower-case Bearer scheme', async () => {
    const token = await sign(rsa, claims(), { typ: 'application/at+jwt' });
    await expect(makeAuth().verify(`bearer ${token}`)).resolves.toMatchObject({
      sub: 'researcher-1',
    });
  });

  it('accepts an `aud` array that includes the gateway', async () => {
    const token = await sign(rsa, claims({ aud: ['other-api', AUD] }));
    await expect(makeAuth().verify(bearer(token))).resolves.toMatchObject({ sub: 'researcher-1' });
  });

  it('gives an empty project list when the claim is absent', async () => {
    const token = await sign(rsa, claims({ tessera_projects: undefined }));
    await expect(makeAuth().verify(bearer(token))).resolves.toMatchObject({ projects: [] });
  });

  it('discovers the JWKS once and serves later tokens from the cache', async () => {
    const auth = makeAuth();
    for (let i = 0; i < 5; i += 1) await auth.verify(bearer(await sign(rsa)));
    expect(server.hits).toEqual({ discovery: 1, jwks: 1 });
  });

  it('shares one fetch among concurrent first requests', async () => {
    const auth = makeAuth();
    const token = await sign(rsa);
    await Promise.all(Array.from({ length: 20 }, () => auth.verify(bearer(token))));
    expect(server.hits).toEqual({ discovery: 1, jwks: 1 });
  });
});

describe('the Authorization header', () => {
  it('answers a missing token with a challenge that carries no error code', async () => {
    for (const header of [undefined, '', 'Basic YWxpY2U6c2VjcmV0', 'Bearer']) {
      const err = await refusal(makeAuth().verify(header));
      expect(err).toMatchObject({ status: 401, code: 'ERR_UNAUTHENTICATED' });
      expect(wwwAuthenticateOf(err)).toBe('Bearer realm="tessera"');
    }
  });

  it('refuses tokens that are not a compact JWS', async () => {
    for (const token of ['abc', 'a.b', 'a.b.c.d', 'a..c', `${'a'.repeat(9000)}.b.c`, 'a.b.c']) {
      await expect401(makeAuth().verify(bearer(token)), /malformed/);
    }
    expect(server.hits.jwks).toBe(0);
  });
});

describe('threat 15: alg none', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg %s with no key lookup', async (alg) => {
    const auth = makeAuth();
    const valid = await sign(rsa);
    const validSignature = valid.split('.')[2]!;
    for (const signature of ['', validSignature]) {
      const token = forge({ alg, typ: 'at+jwt', kid: rsa.kid }, claims(), signature);
      await expect401(auth.verify(bearer(token)), /refused algorithm/);
    }
    const noKid = forge({ alg, typ: 'at+jwt' }, claims());
    await expect401(auth.verify(bearer(noKid)), /refused algorithm/);
    expect(server.hits).toEqual({ discovery: 0, jwks: 0 });
  });

  it('refuses to be configured with `none` or any algorithm outside the pinned set', () => {
    for (const alg of ['none', 'HS256', 'PS256']) {
      expect(() => makeAuth({ algorithms: [alg as 'RS256'] })).toThrow(/"algorithms"/);
    }
  });
});

describe('threat 16: HS256 signed with the public key', () => {
  it('refuses an HMAC token keyed with the RSA public key (SPKI PEM, PKCS#1 PEM, JWK)', async () => {
    const auth = makeAuth();
    const spki = await exportSPKI(rsa.publicKey);
    const pkcs1 = KeyObject.from(rsa.publicKey).export({ type: 'pkcs1', format: 'pem' }).toString();
    for (const secret of [spki, pkcs1, JSON.stringify(rsa.publicJwk)]) {
      for (const alg of ['HS256', 'hs256', 'HS512']) {
        const header = { alg, typ: 'at+jwt', kid: rsa.kid };
        const signingInput = `${b64(header)}.${b64(claims())}`;
        const mac = createHmac('sha256', secret).update(signingInput).digest('base64url');
        await expect401(auth.verify(bearer(`${signingInput}.${mac}`)), /refused algorithm/);
      }
    }
    expect(server.hits.jwks).toBe(0);
  });

  it('refuses an RS256 key used under the ES256 header (algorithm confusion)', async () => {
    const token = await sign(rsa);
    const [, payload, signature] = token.split('.');
    const swapped = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: rsa.kid })}.${payload}.${signature}`;
    await expect401(makeAuth().verify(bearer(swapped)), /unknown key|signature/);
  });
});

describe('threat 17: keys supplied in jku, x5u, jwk or x5c', () => {
  const attackerHeaders = () => ({
    jku: { jku: `${trap.url}/jwks.json` },
    x5u: { x5u: `${trap.url}/cert.pem` },
    jwk: { jwk: attacker.publicJwk },
    x5c: { x5c: [Buffer.from('attacker certificate').toString('base64')] },
  });

  it.each(['jku', 'x5u', 'jwk', 'x5c'] as const)(
    'refuses a token carrying %s, and never fetches from it',
    async (name) => {
      const auth = makeAuth();
      const header = attackerHeaders()[name];
      // Signed by the attacker's own key, which the header points at ...
      const forged = await sign(attacker, claims(), header);
      await expect401(auth.verify(bearer(forged)), /refused algorithm or header/);
      // ... and even signed by the IdP's real key: carrying the header is enough.
      const genuine = await sign(rsa, claims(), header);
      await expect401(auth.verify(bearer(genuine)), /refused algorithm or header/);
      expect(trap.requests).toEqual([]);
      expect(server.hits.jwks).toBe(0);
    },
  );
});

describe('threat 18: hostile and unknown kid', () => {
  it.each(['../../dev/null', "' OR 1=1 --", '/etc/passwd', 'rsa-1\u0000', 'a"\r\nX-Injected: 1'])(
    'refuses kid %j as an unknown key',
    async (kid) => {
      const token = await sign(rsa, claims(), { kid });
      const err = await expect401(makeAuth().verify(bearer(token)), /unknown key/);
      // Nothing from the token is echoed into the response.
      expect(JSON.stringify(err.toProblem('r'))).not.toContain(kid);
      expect((err as AuthProblemError).wwwAuthenticate).not.toMatch(/[\r\n]/);
    },
  );

  it('refuses a kid that is not a string', async () => {
    const token = await sign(rsa, claims(), { kid: 42 });
    await expect401(makeAuth().verify(bearer(token)), /malformed/);
  });

  it('refetches the JWKS for an unknown kid at most once per 30 s', async () => {
    const auth = makeAuth();
    await auth.verify(bearer(await sign(rsa)));
    expect(server.hits.jwks).toBe(1);
    const unknown = await sign(attacker);

    advance(1_000);
    for (let i = 0; i < 10; i += 1) await expect401(auth.verify(bearer(unknown)), /unknown key/);
    expect(server.hits.jwks).toBe(1);

    advance(30_000);
    await Promise.all(
      Array.from({ length: 10 }, () => expect401(auth.verify(bearer(unknown)), /unknown key/)),
    );
    expect(server.hits.jwks).toBe(2);

    advance(29_000);
    await expect401(auth.verify(bearer(unknown)), /unknown key/);
    expect(server.hits.jwks).toBe(2);

    advance(1_000);
    await expect401(auth.verify(bearer(unknown)), /unknown key/);
    expect(server.hits.jwks).toBe(3);
    expect(server.hits.discovery).toBe(1);
  });
});

describe('threat 19: aud, iss, exp, nbf, iat', () => {
  it('refuses a missing or wrong aud', async () => {
    const auth = makeAuth();
    for (const aud of [undefined, 'urn:tessera:other', ['a', 'b'], `${AUD} `, '']) {
      await expect401(auth.verify(bearer(await sign(rsa, claims({ aud })))), /audience|claim/);
    }
  });

  it('refuses a missing or wrong iss', async () => {
    const auth = makeAuth();
    for (const iss of [
      undefined,
      'https://evil.example',
      `${server.issuer}/`,
      'HTTP://127.0.0.1',
    ]) {
      await expect401(auth.verify(bearer(await sign(rsa, claims({ iss })))), /issuer|claim/);
    }
  });

  it('refuses exp in the past beyond 30 s of skew, and accepts it within', async () => {
    const auth = makeAuth();
    const late = await sign(rsa, claims({ iat: nowSec() - 600, exp: nowSec() - 31 }));
    await expect401(auth.verify(bearer(late)), /expired/);
    const withinSkew = await sign(rsa, claims({ iat: nowSec() - 600, exp: nowSec() - 29 }));
    await expect(auth.verify(bearer(withinSkew))).resolves.toMatchObject({ sub: 'researcher-1' });
  });

  it('refuses a token it accepted before once it expires, or once its key was let go', async () => {
    const auth = makeAuth();
    const token = await sign(rsa, claims({ exp: nowSec() + 20 }));
    await expect(auth.verify(bearer(token))).resolves.toMatchObject({ sub: 'researcher-1' });
    advance(20_000 + 29_000);
    await expect(auth.verify(bearer(token))).resolves.toMatchObject({ sub: 'researcher-1' });
    advance(2_000);
    await expect401(auth.verify(bearer(token)), /expired/);

    // A long-lived token is checked against the IdP's keys again within a minute.
    const long = await sign(rsa, claims({ exp: nowSec() + 3600 }));
    await auth.verify(bearer(long));
    server.setKeys([rsaNext.publicJwk]);
    advance(CACHE_MAX_AGE_MS);
    await expect401(auth.verify(bearer(long)), /unknown key/);
  });

  it('knows without checking only a token it verified, and only while it remembers it', async () => {
    const auth = makeAuth();
    const token = await sign(rsa, claims({ exp: nowSec() + 20 }));
    // Never verified: unknown, however valid (the caller must verify it in full).
    expect(auth.known(bearer(token))).toBeUndefined();
    await auth.verify(bearer(token));
    expect(auth.known(bearer(token))).toMatchObject({ sub: 'researcher-1' });
    expect(auth.known(`Bearer ${token}x`)).toBeUndefined();
    expect(auth.known(undefined)).toBeUndefined();
    expect(auth.known('Basic abc')).toBeUndefined();
    // Past its expiry and the clock tolerance it is forgotten.
    advance(20_000 + 31_000);
    expect(auth.known(bearer(token))).toBeUndefined();
  });

  it('refuses a token without exp, iat or sub', async () => {
    const auth = makeAuth();
    for (const missing of ['exp', 'iat', 'sub']) {
      const token = await sign(rsa, claims({ [missing]: undefined }));
      await expect401(auth.verify(bearer(token)), /required claim/);
    }
    const emptySub = await sign(rsa, claims({ sub: '' }));
    await expect401(auth.verify(bearer(emptySub)), /required claim/);
  });

  it('refuses nbf in the future beyond the skew, and accepts it within', async () => {
    const auth = makeAuth();
    await expect401(
      auth.verify(bearer(await sign(rsa, claims({ nbf: nowSec() + 31 })))),
      /not valid yet/,
    );
    await expect(
      auth.verify(bearer(await sign(rsa, claims({ nbf: nowSec() + 29 })))),
    ).resolves.toMatchObject({ sub: 'researcher-1' });
  });

  it('refuses iat in the future beyond the skew, and accepts it within', async () => {
    const auth = makeAuth();
    await expect401(
      auth.verify(bearer(await sign(rsa, claims({ iat: nowSec() + 31 })))),
      /not valid yet/,
    );
    await expect(
      auth.verify(bearer(await sign(rsa, claims({ iat: nowSec() + 29 })))),
    ).resolves.toMatchObject({ sub: 'researcher-1' });
  });

  it('refuses non-numeric time claims', async () => {
    const auth = makeAuth();
    for (const bad of [{ exp: 'tomorrow' }, { iat: '0' }, { nbf: null }]) {
      await expect401(auth.verify(bearer(await sign(rsa, claims(bad)))), /claim/);
    }
  });

  it('does not trust a discovery document that names another issuer', async () => {
    server.advertisedIssuer = 'https://evil.example';
    const err = await refusal(makeAuth().verify(bearer(await sign(rsa))));
    expect(err).toMatchObject({ status: 503, code: 'ERR_IDP_UNAVAILABLE' });
    expect(server.hits.jwks).toBe(0);
  });
});

describe('threat 20: empty, truncated or altered signature', () => {
  it.each(['rsa', 'ec', 'ed'] as const)('refuses a damaged %s signature', async (name) => {
    const auth = makeAuth();
    const token = await sign({ rsa, ec, ed }[name]);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flip = (s: string, i: number) =>
      s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const damaged = [
      `${header}.${payload}.`,
      `${header}.${payload}.${signature.slice(0, -10)}`,
      `${header}.${payload}.${signature.slice(0, 1)}`,
      `${header}.${payload}.${flip(signature, Math.floor(signature.length / 2))}`,
      `${header}.${b64({ ...claims(), sub: 'admin' })}.${signature}`,
      `${header}.${payload}.${signature}${signature}`,
    ];
    for (const bad of damaged) await expect401(auth.verify(bearer(bad)), /signature|malformed/);
  });
});

describe('threat 21: key rotation and JWKS outages', () => {
  it('accepts tokens from a rotated-in key, and drops the retired key once the cache renews', async () => {
    const auth = makeAuth();
    await auth.verify(bearer(await sign(rsa)));

    server.setKeys([rsa.publicJwk, rsaNext.publicJwk]);
    advance(31_000);
    await expect(auth.verify(bearer(await sign(rsaNext)))).resolves.toMatchObject({
      sub: 'researcher-1',
    });
    await expect(auth.verify(bearer(await sign(rsa)))).resolves.toMatchObject({
      sub: 'researcher-1',
    });
    expect(server.hits.jwks).toBe(2);

    server.setKeys([rsaNext.publicJwk]);
    advance(CACHE_MAX_AGE_MS);
    await expect401(auth.verify(bearer(await sign(rsa))), /unknown key/);
    await expect(auth.verify(bearer(await sign(rsaNext)))).resolves.toMatchObject({
      sub: 'researcher-1',
    });
  });

  it.each(['drop', 'error', 'hang'] as const)(
    'keeps cached keys while the JWKS endpoint is down (%s), then fails closed with 503',
    async (mode) => {
      const auth = makeAuth({ fetchTimeoutMs: 200 });
      await auth.verify(bearer(await sign(rsa)));
      server.mode = mode;

      advance(CACHE_MAX_AGE_MS - 1_000);
      await expect(auth.verify(bearer(await sign(rsa)))).resolves.toMatchObject({
        sub: 'researcher-1',
      });
      expect(server.hits.jwks).toBe(1);

      advance(1_000);
      const token = await sign(rsa);
      const err = await refusal(auth.verify(bearer(token)));
      expect(err).toMatchObject({ status: 503, code: 'ERR_IDP_UNAVAILABLE' });
      expect(err.retryAfter).toBeGreaterThanOrEqual(1);
      expect(server.hits.jwks).toBe(2);

      // Held back: no new fetch for every request while the IdP is down.
      await expect(auth.verify(bearer(token))).rejects.toMatchObject({ status: 503 });
      expect(server.hits.jwks).toBe(2);

      server.mode = 'up';
      advance(5_000);
      await expect(auth.verify(bearer(await sign(rsa)))).resolves.toMatchObject({
        sub: 'researcher-1',
      });
    },
  );

  it('answers 503 (not 500) when the IdP cannot be reached at all', async () => {
    server.mode = 'drop';
    const err = await refusal(makeAuth().verify(bearer(await sign(rsa))));
    expect(err).toMatchObject({ status: 503, code: 'ERR_IDP_UNAVAILABLE' });
    expect(err.toProblem('r')).not.toHaveProperty('detail', expect.stringMatching(/socket|ECONN/));
  });

  it('answers 503 when the JWKS is not a key set', async () => {
    server.setKeys('not a key set' as unknown as JWK[]);
    const err = await refusal(makeAuth().verify(bearer(await sign(rsa))));
    expect(err).toMatchObject({ status: 503, code: 'ERR_IDP_UNAVAILABLE' });
  });
});

describe('threat 22: ID tokens, wrong typ, missing scope', () => {
  const idTokenClaims = () =>
    claims({
      aud: 'researcher-web-client',
      nonce: 'n-0S6_WzA2Mj',
      at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
    });

  it('refuses an ID token (typ JWT) when only at+jwt is accepted', async () => {
    const token = await sign(rsa, idTokenClaims(), { typ: 'JWT' });
    await expect401(makeAuth().verify(bearer(token)), /not an access token/);
  });

  it('refuses an ID token even where typ JWT is accepted and its aud is the gateway', async () => {
    const auth = makeAuth({ typ: ['at+jwt', 'JWT'] });
    for (const extra of [{ nonce: 'abc' }, { at_hash: 'x' }, { c_hash: 'y' }, { typ: 'ID' }]) {
      const token = await sign(rsa, claims(extra), { typ: 'JWT' });
      await expect401(auth.verify(bearer(token)), /not an access token/);
    }
    const idToken = await sign(rsa, idTokenClaims(), { typ: 'JWT' });
    await expect401(auth.verify(bearer(idToken)), /audience/);
    // A Keycloak-style access token (typ JWT, no ID-token claims) passes.
    const access = await sign(rsa, claims({ typ: 'Bearer', azp: 'web' }), { typ: 'JWT' });
    await expect(auth.verify(bearer(access))).resolves.toMatchObject({ sub: 'researcher-1' });
  });

  it('threat 54: accepts only at+jwt unless the deployment lists JWT (the default config)', async () => {
    // RFC 9068: an access token says what it is. `JWT` is accepted only where
    // the deployment's configuration lists it (an IdP that cannot say at+jwt).
    expect(OIDC.typ).toEqual(['at+jwt']);
    const byDefault = makeAuth({ typ: OIDC.typ });
    const keycloakStyle = await sign(rsa, claims({ typ: 'Bearer', azp: 'web' }), { typ: 'JWT' });
    await expect401(byDefault.verify(bearer(keycloakStyle)), /not an access token/);
    const rfc9068 = await sign(rsa, claims(), { typ: 'at+jwt' });
    await expect(byDefault.verify(bearer(rfc9068))).resolves.toMatchObject({ sub: 'researcher-1' });
  });

  it('refuses a wrong or missing typ header', async () => {
    for (const typ of ['JWT', 'jose', 'tessera-node+jwt', 'dpop+jwt', undefined]) {
      const token = await sign(rsa, claims(), { typ });
      await expect401(makeAuth().verify(bearer(token)), /not an access token/);
    }
  });

  it('answers 403 insufficient_scope without the required scope', async () => {
    const auth = makeAuth();
    for (const scope of [undefined, '', 'openid profile', 'tessera:query:all', 'TESSERA:QUERY']) {
      const err = await refusal(auth.verify(bearer(await sign(rsa, claims({ scope })))));
      expect(err).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
      expect(wwwAuthenticateOf(err)).toBe(
        'Bearer realm="tessera", error="insufficient_scope", scope="tessera:query"',
      );
    }
  });

  it('honours a configured scope', async () => {
    const auth = makeAuth({ requiredScope: 'cohort.read' });
    await expect(auth.verify(bearer(await sign(rsa)))).rejects.toMatchObject({ status: 403 });
    const token = await sign(rsa, claims({ scope: 'openid cohort.read' }));
    await expect(auth.verify(bearer(token))).resolves.toMatchObject({ sub: 'researcher-1' });
  });

  it('refuses malformed scope or project claims', async () => {
    const auth = makeAuth();
    for (const bad of [
      { scope: 42 },
      { scp: [1] },
      { tessera_projects: [{}] },
      { tessera_projects: 7 },
    ]) {
      await expect401(auth.verify(bearer(await sign(rsa, claims(bad)))), /invalid one/);
    }
  });

  it('reads a space-separated projects claim as a list', async () => {
    const token = await sign(rsa, claims({ tessera_projects: 'p1 p2' }));
    await expect(makeAuth().verify(bearer(token))).resolves.toMatchObject({
      projects: ['p1', 'p2'],
    });
  });
});

describe('configuration', () => {
  it('names the option at fault', () => {
    expect(() => makeAuth({ issuer: 'not a url' })).toThrow(/"issuer"/);
    expect(() => makeAuth({ issuer: 'ftp://idp' })).toThrow(/"issuer"/);
    expect(() => makeAuth({ audience: '' })).toThrow(/"audience"/);
    expect(() => makeAuth({ algorithms: [] })).toThrow(/"algorithms"/);
    expect(() => makeAuth({ typ: [] })).toThrow(/"typ"/);
    expect(() => makeAuth({ requiredScope: 'a b' })).toThrow(/"requiredScope"/);
    expect(() => makeAuth({ requiredScope: 'a"b' })).toThrow(/"requiredScope"/);
    expect(() => makeAuth({ projectsClaim: '' })).toThrow(/"projectsClaim"/);
    expect(() => makeAuth({ clockToleranceSec: -1 })).toThrow(/"clockToleranceSec"/);
    expect(() => makeAuth({ jwksCacheMaxAgeMs: 1_000 })).toThrow(/"jwksCacheMaxAgeMs"/);
  });
});

describe('researcherAuthMiddleware', () => {
  function app(auth = makeAuth()) {
    const application = express();
    application.use((_req, res, next) => {
      res.locals.requestId = 'req-1';
      next();
    });
    application.use(researcherAuthMiddleware(auth));
    application.get('/whoami', (_req, res) => {
      res.json(researcherOf(res));
    });
    return application;
  }

  it('sets res.locals.researcher', async () => {
    const response = await request(app())
      .get('/whoami')
      .set('Authorization', bearer(await sign(rsa)));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      sub: 'researcher-1',
      projects: ['diabetes-eu'],
      scopes: ['tessera:query'],
    });
  });

  it('answers 401 as problem+json with WWW-Authenticate', async () => {
    const response = await request(app())
      .get('/whoami')
      .set(
        'Authorization',
        bearer(await sign(rsa, claims({ exp: nowSec() - 60, iat: nowSec() - 600 }))),
      );
    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="tessera", error="invalid_token", error_description="The access token has expired"',
    );
    expect(JSON.parse(response.text)).toMatchObject({
      status: 401,
      code: 'ERR_UNAUTHENTICATED',
      requestId: 'req-1',
    });
  });

  it('answers 403 with an insufficient_scope challenge', async () => {
    const response = await request(app())
      .get('/whoami')
      .set('Authorization', bearer(await sign(rsa, claims({ scope: 'openid' }))));
    expect(response.status).toBe(403);
    expect(response.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
  });

  it('answers 503 with Retry-After when the IdP is down', async () => {
    server.mode = 'drop';
    const response = await request(app())
      .get('/whoami')
      .set('Authorization', bearer(await sign(rsa)));
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
    expect(JSON.parse(response.text)).toMatchObject({ code: 'ERR_IDP_UNAVAILABLE' });
  });

  it('never echoes the token', async () => {
    const token = forge({ alg: 'none', typ: 'at+jwt' }, claims());
    const response = await request(app()).get('/whoami').set('Authorization', bearer(token));
    expect(response.status).toBe(401);
    expect(response.text).not.toContain(token.split('.')[1]!);
  });
});
