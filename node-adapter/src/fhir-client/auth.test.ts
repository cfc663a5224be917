// SMART Backend Services: a client_credentials grant with a private_key_jwt
// assertion the token endpoint can verify, one token for many searches,
// renewed shortly before it expires or when the server refuses it.
import { describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import { ProblemError } from '@tessera/schemas';
import { createAuthProvider } from './auth.ts';
import type { FhirAuth } from './auth.ts';
import { fakeServers, sendJson } from '../../test/support/fake-fhir-server.ts';
import { createFhirHttp } from './fhir-http.ts';

const fake = fakeServers();
/** The FHIR client's concurrency and per-request timeout in these tests. */
const LIMITS = { concurrency: 4, timeoutMs: 30_000 } as const;

/** A SMART provider for a token endpoint at `origin`. */
function smart(origin: string, privateJwk: JWK) {
  return createAuthProvider(
    {
      kind: 'smart-backend',
      tokenUrl: `${origin}/token`,
      clientId: 'c',
      privateJwk,
      kid: 'k',
      scope: 's',
    },
    { fetch, timeoutMs: 2000, now: Date.now },
  );
}

async function keys(): Promise<{
  privateJwk: JWK;
  publicKey: Awaited<ReturnType<typeof generateKeyPair>>['publicKey'];
}> {
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  return { privateJwk: await exportJWK(privateKey), publicKey };
}

describe('SMART Backend Services', () => {
  it('gets a token with a verifiable assertion, caches it and renews it before expiry', async () => {
    const { privateJwk, publicKey } = await keys();
    let issued = 0;
    const assertions: Record<string, unknown>[] = [];
    let tokenUrl = '';
    const server = await fake(async (req, res) => {
      if (req.url === '/token') {
        const form = new URLSearchParams(req.body);
        expect(req.method).toBe('POST');
        expect(form.get('grant_type')).toBe('client_credentials');
        expect(form.get('scope')).toBe('system/Patient.rs system/Condition.rs');
        expect(form.get('client_assertion_type')).toBe(
          'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        );
        const { payload, protectedHeader } = await jwtVerify(
          form.get('client_assertion')!,
          publicKey,
          {
            issuer: 'tessera-node',
            subject: 'tessera-node',
            audience: tokenUrl,
            currentDate: new Date(now),
          },
        );
        expect(protectedHeader).toMatchObject({ alg: 'ES384', kid: 'node-key-1', typ: 'JWT' });
        expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
        assertions.push(payload);
        issued += 1;
        sendJson(res, 200, {
          access_token: `token-${issued}`,
          token_type: 'bearer',
          expires_in: 300,
        });
        return;
      }
      sendJson(res, 200, { resourceType: 'Bundle', seen: req.headers.authorization });
    });
    tokenUrl = `${server.origin}/token`;
    let now = Date.parse('2026-01-01T00:00:00Z');
    const auth: FhirAuth = {
      kind: 'smart-backend',
      tokenUrl,
      clientId: 'tessera-node',
      privateJwk,
      kid: 'node-key-1',
      scope: 'system/Patient.rs system/Condition.rs',
    };
    const provider = createAuthProvider(auth, { fetch, timeoutMs: 2000, now: () => now });
    const http = createFhirHttp({ ...LIMITS, fetch, auth: provider, now: () => now });

    const seen = await Promise.all([1, 2, 3].map(() => http.getJson(`${server.baseUrl}/Patient`)));
    expect(seen.map((s) => (s as { seen: string }).seen)).toEqual(Array(3).fill('Bearer token-1'));
    expect(issued).toBe(1);

    now += 200_000; // still well before expiry
    await http.getJson(`${server.baseUrl}/Patient`);
    expect(issued).toBe(1);

    now += 80_000; // within a minute of expiry
    expect(await http.getJson(`${server.baseUrl}/Patient`)).toMatchObject({
      seen: 'Bearer token-2',
    });
    expect(issued).toBe(2);
    expect(new Set(assertions.map((a) => a.jti)).size).toBe(2);
  });

  it('renews once when the server refuses the token, then gives up', async () => {
    const { privateJwk } = await keys();
    let issued = 0;
    const server = await fake((req, res) => {
      if (req.url === '/token') {
        issued += 1;
        sendJson(res, 200, {
          access_token: `token-${issued}`,
          token_type: 'Bearer',
          expires_in: 3600,
        });
      } else if (req.headers.authorization === 'Bearer token-2') {
        sendJson(res, 200, { resourceType: 'Bundle' });
      } else {
        sendJson(res, 401, { resourceType: 'OperationOutcome' });
      }
    });
    const provider = smart(server.origin, privateJwk);
    const http = createFhirHttp({ ...LIMITS, fetch, auth: provider });
    expect(await http.getJson(`${server.baseUrl}/Patient`)).toEqual({ resourceType: 'Bundle' });
    expect(issued).toBe(2);

    const refusing = await fake((req, res) => {
      if (req.url === '/token')
        sendJson(res, 200, { access_token: 'never-good', token_type: 'bearer' });
      else sendJson(res, 401, {});
    });
    const refused = createFhirHttp({
      ...LIMITS,
      fetch,
      auth: smart(refusing.origin, privateJwk),
    });
    await expect(refused.getJson(`${refusing.baseUrl}/Patient`)).rejects.toMatchObject({
      code: 'ERR_SOURCE_UNAVAILABLE',
    });
  });

  it('a token endpoint that refuses is unavailable, without its text', async () => {
    const { privateJwk } = await keys();
    const server = await fake((_req, res) =>
      sendJson(res, 400, {
        error: 'invalid_client',
        error_description: 'client secret-client-4711 unknown',
      }),
    );
    const provider = smart(server.origin, privateJwk);
    const err = await provider.authorization().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).code).toBe('ERR_SOURCE_UNAVAILABLE');
    expect(JSON.stringify((err as ProblemError).toProblem('r'))).not.toContain('4711');
  });

  it('checks its configuration when created', async () => {
    const { privateJwk } = await keys();
    const deps = { fetch, timeoutMs: 1000, now: Date.now };
    const base = {
      kind: 'smart-backend',
      tokenUrl: 'https://idp.example/token',
      clientId: 'c',
      privateJwk,
      kid: 'k',
      scope: 's',
    } as const;
    expect(() => createAuthProvider(base, deps)).not.toThrow();
    expect(() =>
      createAuthProvider({ ...base, tokenUrl: 'http://idp.example/token' }, deps),
    ).toThrow(ProblemError);
    const publicOnly = Object.fromEntries(
      Object.entries(privateJwk).filter(([name]) => name !== 'd'),
    ) as typeof privateJwk;
    expect(() => createAuthProvider({ ...base, privateJwk: publicOnly }, deps)).toThrow(
      ProblemError,
    );
    expect(() => createAuthProvider({ ...base, kid: '' }, deps)).toThrow(ProblemError);
  });
});
