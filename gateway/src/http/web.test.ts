// The web page's files and settings: served only when the page is built,
// with a page policy that lets scripts call the IdP's origin and nothing
// else, and the sign-in settings the page starts from.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityHeaders } from '@tessera/http-kit';
import { webRouter } from './web.ts';

const SIGN_IN = {
  issuer: 'https://idp.example:8443/realms/tessera',
  clientId: 'tessera-web',
  scope: 'openid tessera:query',
  resource: 'urn:tessera:gateway',
  projectsClaim: 'tessera_projects',
};

describe('the web router', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-web-root-'));
    await writeFile(join(root, 'index.html'), '<!doctype html><title>Tessera</title>');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function app(deps: Partial<Parameters<typeof webRouter>[0]>) {
    const server = express();
    server.use(securityHeaders());
    server.use(webRouter({ openapi: {}, ...deps }));
    return server;
  }

  it("serves the page under a policy that reaches the IdP's origin and no other", async () => {
    const res = await request(app({ webRoot: root, browserSignIn: SIGN_IN })).get('/');
    expect(res.status).toBe(200);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("connect-src 'self' https://idp.example:8443;");
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toMatch(/unsafe|\*/);
  });

  it('gives the page its sign-in settings, or none', async () => {
    const withSignIn = await request(app({ webRoot: root, browserSignIn: SIGN_IN })).get(
      '/web-config.json',
    );
    expect(withSignIn.body).toEqual({ signIn: SIGN_IN });
    const without = await request(app({ webRoot: root })).get('/web-config.json');
    expect(without.body).toEqual({ signIn: null });
    expect(
      (await request(app({ webRoot: root })).get('/')).headers['content-security-policy'],
    ).toContain("connect-src 'self';");
  });

  it('serves no page, and no page settings, when the page is not built', async () => {
    const server = app({ webRoot: join(root, 'missing'), browserSignIn: SIGN_IN });
    for (const path of ['/', '/web-config.json', '/examples.json']) {
      const res = await request(server).get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    }
    expect((await request(server).get('/openapi.json')).status).toBe(200);
  });
});
