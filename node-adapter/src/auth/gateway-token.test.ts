// Threat 23 and the header attacks (15-20) on the node side: tokens forged
// here with jose, the way the gateway would sign them, then bent.
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { ProblemError } from '@tessera/schemas';
import { GATEWAY_TOKEN_TYP, createGatewayTokenVerifier } from './gateway-token.ts';
import type { GatewayTokenVerifierOptions } from './gateway-token.ts';
import type { ReplayCache } from './replay-cache.ts';

const NODE = 'lombardia';
const ISSUER = 'https://gateway.tessera.test';
const T0 = Date.UTC(2030, 0, 1);
const BODY = Buffer.from(JSON.stringify({ version: 1, cohort: { patient: { gender: 'female' } } }));

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function makeKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { kid, privateKey, publicKey, publicJwk };
}

let gateway: SigningKey;
let nextGateway: SigningKey;
let attacker: SigningKey;
let clock = T0;
const nowSec = () => Math.floor(clock / 1000);
let jtiCounter = 0;

beforeAll(async () => {
  [gateway, nextGateway, attacker] = await Promise.all([
    makeKey('gw-1'),
    makeKey('gw-2'),
    makeKey('attacker'),
  ]);
});

beforeEach(() => {
  clock = T0;
});

const hash = (body: Uint8Array) => createHash('sha256').update(body).digest('base64url');

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  jtiCounter += 1;
  const all: Record<string, unknown> = {
    iss: ISSUER,
    aud: NODE,
    sub: 'alice',
    project: 'diabetes-eu',
    jti: `jti-${jtiCounter}-${T0}`,
    iat: nowSec(),
    exp: nowSec() + 10,
    qh: hash(BODY),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

function sign(
  key: SigningKey = gateway,
  payload: Record<string, unknown> = claims(),
  header: Record<string, unknown> = {},
): Promise<string> {
  const protectedHeader = { alg: 'ES256', typ: GATEWAY_TOKEN_TYP, kid: key.kid, ...header };
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const bearer = (token: string) => `Bearer ${token}`;

type Overrides = {
  [K in keyof GatewayTokenVerifierOptions]?: GatewayTokenVerifierOptions[K] | undefined;
};

/** The test options with `overrides`; an override of undefined leaves the option out. */
function makeVerifier(overrides: Overrides = {}) {
  const options: Record<string, unknown> = {
    nodeId: NODE,
    issuer: ISSUER,
    publicJwks: { keys: [gateway.publicJwk, nextGateway.publicJwk] },
    now: () => clock,
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete options[key];
    else options[key] = value;
  }
  return createGatewayTokenVerifier(options as unknown as GatewayTokenVerifierOptions);
}

async function expect401(promise: Promise<unknown>, detail: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProblemError);
  expect(caught).toMatchObject({
    status: 401,
    code: 'ERR_UNAUTHENTICATED',
    detail: expect.stringMatching(detail),
  });
}

describe('accepted gateway tokens', () => {
  it('accepts a token for this node and this body', async () => {
    const caller = await makeVerifier().verify(bearer(await sign()), BODY);
    expect(caller).toMatchObject({ sub: 'alice', project: 'diabetes-eu' });
    expect(caller.jti).toMatch(/^jti-/);
  });

  it('accepts tokens from the current and the previous gateway key (rotation)', async () => {
    const verifier = makeVerifier();
    await expect(verifier.verify(bearer(await sign(gateway)), BODY)).resolves.toBeDefined();
    await expect(verifier.verify(bearer(await sign(nextGateway)), BODY)).resolves.toBeDefined();
  });
});

describe('threat 23: replay, wrong node, body mismatch', () => {
  it('refuses a replayed token (same jti)', async () => {
    const verifier = makeVerifier();
    const token = await sign();
    await verifier.verify(bearer(token), BODY);
    await expect401(verifier.verify(bearer(token), BODY), /already used/);
    clock += 15_000;
    await expect401(verifier.verify(bearer(token), BODY), /already used/);
  });

  it('refuses a new token that reuses an earlier jti', async () => {
    const verifier = makeVerifier();
    await verifier.verify(bearer(await sign(gateway, claims({ jti: 'fixed' }))), BODY);
    const again = await sign(gateway, claims({ jti: 'fixed', iat: nowSec() + 1 }));
    await expect401(verifier.verify(bearer(again), BODY), /already used/);
  });

  it('refuses a token sent to another node (wrong aud)', async () => {
    const verifier = makeVerifier();
    for (const aud of ['galicia', [NODE, 'galicia'], [NODE], 'LOMBARDIA', undefined]) {
      const token = await sign(gateway, claims({ aud }));
      await expect401(verifier.verify(bearer(token), BODY), /another node|required claim/);
    }
  });

  it('refuses a body that does not match its hash', async () => {
    const verifier = makeVerifier();
    const token = await sign();
    const variants = [
      Buffer.from(BODY.toString().replace('female', 'male')),
      Buffer.concat([BODY, Buffer.from(' ')]),
      Buffer.from(JSON.stringify(JSON.parse(BODY.toString()), null, 2)),
      Buffer.alloc(0),
    ];
    for (const body of variants)
      await expect401(verifier.verify(bearer(token), body), /request body/);
    // A refused attempt does not use up the token id.
    await expect(verifier.verify(bearer(token), BODY)).resolves.toBeDefined();
  });

  it('refuses a token without a body hash, jti, project or sub', async () => {
    const verifier = makeVerifier();
    for (const missing of ['qh', 'jti', 'project', 'sub']) {
      const token = await sign(gateway, claims({ [missing]: undefined }));
      await expect401(verifier.verify(bearer(token), BODY), /required claim/);
    }
    const numericProject = await sign(gateway, claims({ project: 7 }));
    await expect401(verifier.verify(bearer(numericProject), BODY), /invalid one/);
  });

  it('refuses an expired token beyond the skew', async () => {
    const verifier = makeVerifier();
    const token = await sign(gateway, claims({ iat: nowSec() - 20, exp: nowSec() - 11 }));
    await expect401(verifier.verify(bearer(token), BODY), /expired/);
  });

  it('refuses a lifetime over 15 s, and exp before iat', async () => {
    const verifier = makeVerifier();
    const long = await sign(gateway, claims({ exp: nowSec() + 16 }));
    await expect401(verifier.verify(bearer(long), BODY), /longer than allowed/);
    const backwards = await sign(gateway, claims({ iat: nowSec(), exp: nowSec() - 1 }));
    await expect401(verifier.verify(bearer(backwards), BODY), /longer than allowed/);
  });

  it('refuses iat or nbf in the future beyond the skew', async () => {
    const verifier = makeVerifier();
    const iat = await sign(gateway, claims({ iat: nowSec() + 11, exp: nowSec() + 20 }));
    await expect401(verifier.verify(bearer(iat), BODY), /not valid yet/);
    const nbf = await sign(gateway, claims({ nbf: nowSec() + 11 }));
    await expect401(verifier.verify(bearer(nbf), BODY), /not valid yet/);
  });

  it('refuses a wrong or missing issuer', async () => {
    const verifier = makeVerifier();
    for (const iss of ['https://evil.example', undefined]) {
      const token = await sign(gateway, claims({ iss }));
      await expect401(verifier.verify(bearer(token), BODY), /untrusted issuer|required claim/);
    }
  });
});

describe('header attacks on the node (threats 15-18, 20)', () => {
  it('refuses alg none in any case, with or without a signature', async () => {
    const verifier = makeVerifier();
    const signature = (await sign()).split('.')[2]!;
    for (const alg of ['none', 'None', 'NONE']) {
      for (const sig of ['', signature]) {
        const token = `${b64({ alg, typ: GATEWAY_TOKEN_TYP, kid: gateway.kid })}.${b64(claims())}.${sig}`;
        await expect401(verifier.verify(bearer(token), BODY), /refused algorithm/);
      }
    }
  });

  it('refuses HS256 keyed with the gateway public key', async () => {
    const pem = await exportSPKI(gateway.publicKey);
    for (const secret of [pem, JSON.stringify(gateway.publicJwk)]) {
      const input = `${b64({ alg: 'HS256', typ: GATEWAY_TOKEN_TYP, kid: gateway.kid })}.${b64(claims())}`;
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      await expect401(makeVerifier().verify(bearer(`${input}.${mac}`), BODY), /refused algorithm/);
    }
  });

  it('refuses any algorithm but ES256', async () => {
    for (const alg of ['RS256', 'ES384', 'EdDSA']) {
      const token = `${b64({ alg, typ: GATEWAY_TOKEN_TYP, kid: gateway.kid })}.${b64(claims())}.AAAA`;
      await expect401(makeVerifier().verify(bearer(token), BODY), /refused algorithm/);
    }
  });

  it('refuses jku, x5u, jwk and x5c headers', async () => {
    const verifier = makeVerifier();
    const headers = [
      { jku: 'http://127.0.0.1:1/jwks.json' },
      { x5u: 'http://127.0.0.1:1/cert.pem' },
      { jwk: attacker.publicJwk },
      { x5c: [Buffer.from('certificate').toString('base64')] },
    ];
    for (const header of headers) {
      await expect401(
        verifier.verify(bearer(await sign(attacker, claims(), header)), BODY),
        /header/,
      );
      await expect401(
        verifier.verify(bearer(await sign(gateway, claims(), header)), BODY),
        /header/,
      );
    }
  });

  it('refuses a wrong typ', async () => {
    for (const typ of ['JWT', 'at+jwt', undefined]) {
      const token = await sign(gateway, claims(), { typ });
      await expect401(makeVerifier().verify(bearer(token), BODY), /type/);
    }
  });

  it('refuses hostile, unknown and missing kids', async () => {
    for (const kid of ['../../dev/null', "' OR 1=1 --", 'attacker']) {
      const token = await sign(gateway, claims(), { kid });
      await expect401(makeVerifier().verify(bearer(token), BODY), /unknown key/);
    }
    await expect401(makeVerifier().verify(bearer(await sign(attacker)), BODY), /unknown key/);
    const noKid = await sign(gateway, claims(), { kid: undefined });
    await expect401(makeVerifier().verify(bearer(noKid), BODY), /malformed/);
  });

  it('refuses an empty, truncated or altered signature', async () => {
    const verifier = makeVerifier();
    const [header, payload, signature] = (await sign()).split('.') as [string, string, string];
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    for (const token of [
      `${header}.${payload}.`,
      `${header}.${payload}.${signature.slice(0, 40)}`,
      `${header}.${payload}.${flipped}`,
      `${header}.${b64(claims({ project: 'other' }))}.${signature}`,
    ]) {
      await expect401(verifier.verify(bearer(token), BODY), /signature|malformed/);
    }
  });

  it('refuses a missing or non-Bearer Authorization header', async () => {
    for (const header of [undefined, '', 'Basic Zm9vOmJhcg==', 'Bearer', 'Bearer a.b']) {
      await expect401(makeVerifier().verify(header, BODY), /required|malformed/);
    }
  });
});

describe('the replay cache seam', () => {
  it('uses an injected cache, after every other check, until exp plus skew', async () => {
    const calls: [string, number, number][] = [];
    const replayCache: ReplayCache = {
      remember(jti, expiresAtMs, nowMs) {
        calls.push([jti, expiresAtMs, nowMs]);
        return Promise.resolve(true);
      },
    };
    const verifier = makeVerifier({ replayCache });
    const token = await sign(gateway, claims({ jti: 'j-1' }));
    await expect401(verifier.verify(bearer(token), Buffer.from('other')), /request body/);
    expect(calls).toEqual([]);
    await verifier.verify(bearer(token), BODY);
    expect(calls).toEqual([['j-1', (nowSec() + 10 + 10) * 1000, clock]]);
  });

  it('refuses when the cache cannot record the id', async () => {
    const verifier = makeVerifier({ replayCache: { remember: () => false } });
    await expect401(verifier.verify(bearer(await sign()), BODY), /already used/);
  });
});

describe('gateway keys fetched from jwksUrl', () => {
  let server: Server;
  let url: string;
  let hits = 0;
  let down = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits += 1;
      if (down) return void req.socket.destroy();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [gateway.publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('verifies against the fetched keys', async () => {
    const verifier = makeVerifier({ publicJwks: undefined, jwksUrl: url });
    await expect(verifier.verify(bearer(await sign()), BODY)).resolves.toBeDefined();
    await expect(verifier.verify(bearer(await sign()), BODY)).resolves.toBeDefined();
    expect(hits).toBe(1);
  });

  it('fails closed with 503 when the keys cannot be fetched', async () => {
    down = true;
    const verifier = makeVerifier({ publicJwks: undefined, jwksUrl: url });
    await expect(verifier.verify(bearer(await sign()), BODY)).rejects.toMatchObject({
      status: 503,
      code: 'ERR_GATEWAY_KEYS_UNAVAILABLE',
    });
    down = false;
  });
});

describe('configuration', () => {
  it('names the option at fault', async () => {
    const { d } = await exportJWK(
      (await generateKeyPair('ES256', { extractable: true })).privateKey,
    );
    if (d === undefined) throw new Error('an exported private key has d');
    expect(() => makeVerifier({ nodeId: '' })).toThrow(/"nodeId"/);
    expect(() => makeVerifier({ issuer: '' })).toThrow(/"issuer"/);
    expect(() => makeVerifier({ jwksUrl: 'http://127.0.0.1/jwks' })).toThrow(/"jwksUrl"/);
    expect(() => makeVerifier({ publicJwks: undefined })).toThrow(/"jwksUrl"/);
    expect(() => makeVerifier({ publicJwks: undefined, jwksUrl: 'file:///etc/jwks' })).toThrow(
      /"jwksUrl"/,
    );
    expect(() => makeVerifier({ publicJwks: { keys: [] } })).toThrow(/"publicJwks"/);
    expect(() => makeVerifier({ publicJwks: { keys: [{ ...gateway.publicJwk, d }] } })).toThrow(
      /"publicJwks"/,
    );
    expect(() => makeVerifier({ clockToleranceSec: 3600 })).toThrow(/"clockToleranceSec"/);
  });
});
