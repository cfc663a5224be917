// The researcher verifier against a real OpenID Provider (oidc-provider) on a
// loopback port, issuing RFC 9068 JWT access tokens by client_credentials.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import request from 'supertest';
import { configDefaults } from '@tessera/schemas/testing';
import { createResearcherAuth, researcherAuthMiddleware, researcherOf } from './researcher.ts';
import type { ResearcherAuth } from './researcher.ts';
import { startTestIdp } from '../../test/support/test-idp.ts';
import type { TestIdp } from '../../test/support/test-idp.ts';

let idp: TestIdp;
let otherIdp: TestIdp;
let auth: ResearcherAuth;

/** The token checks of a gateway configured with nothing but its IdP. */
const { oidc: OIDC } = configDefaults('gateway-config');

beforeAll(async () => {
  [idp, otherIdp] = await Promise.all([
    startTestIdp({
      clients: ['alice', { clientId: 'bob', clientSecret: 'bob-secret-at-least-32-characters' }],
      projectsByClient: { alice: ['diabetes-eu', 'cardio'] },
    }),
    startTestIdp({ clients: ['alice'], projectsByClient: { alice: ['diabetes-eu'] } }),
  ]);
  auth = createResearcherAuth({
    issuer: idp.issuer,
    audience: idp.audience,
    algorithms: ['RS256'],
    typ: ['at+jwt'],
    requiredScope: OIDC.requiredScope,
    projectsClaim: idp.projectsClaim,
    clockToleranceSec: OIDC.clockToleranceSec,
    jwksCacheMaxAgeMs: OIDC.jwksCacheMaxAgeSec * 1000,
    fetchTimeoutMs: OIDC.fetchTimeoutMs,
  });
});

afterAll(async () => {
  await Promise.all([idp.close(), otherIdp.close()]);
});

describe('researcher tokens from a real OpenID Provider', () => {
  it('accepts a client_credentials JWT access token with scope and projects', async () => {
    const researcher = await auth.verify(`Bearer ${await idp.tokenFor('alice')}`);
    expect(researcher).toEqual({
      sub: 'alice',
      projects: ['diabetes-eu', 'cardio'],
      scopes: ['tessera:query'],
    });
  });

  it('gives a client without projects an empty list', async () => {
    expect(idp.clients.get('bob')).toBe('bob-secret-at-least-32-characters');
    const researcher = await auth.verify(`Bearer ${await idp.tokenFor('bob')}`);
    expect(researcher.projects).toEqual([]);
  });

  it('answers 403 for a token issued without the tessera:query scope', async () => {
    const token = await idp.tokenFor('alice', { scope: '' });
    await expect(auth.verify(`Bearer ${token}`)).rejects.toMatchObject({
      status: 403,
      code: 'ERR_FORBIDDEN',
    });
  });

  it('refuses a token from another IdP', async () => {
    const token = await otherIdp.tokenFor('alice');
    await expect(auth.verify(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
  });

  it('serves an Express route behind the middleware', async () => {
    const app = express();
    app.use(researcherAuthMiddleware(auth));
    app.get('/me', (_req, res) => {
      res.json({ sub: researcherOf(res).sub });
    });
    const ok = await request(app)
      .get('/me')
      .set('Authorization', `Bearer ${await idp.tokenFor('alice')}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ sub: 'alice' });
    const refused = await request(app).get('/me');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="tessera"');
  });
});
