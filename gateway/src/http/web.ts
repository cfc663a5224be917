// What a browser reads: the OpenAPI description, the web page (built from
// gateway/src/web into gateway/dist/web at install time), its example menu
// (the schemas package's example queries, as data) and its sign-in settings.
// The page's files carry the page CSP (its own scripts and styles only,
// nothing inline, no framing; calls to its own origin and the IdP's only);
// everything else keeps the app's deny-all policy (threat 56).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { pageCsp } from '@tessera/http-kit';
import { EXAMPLE_QUERIES } from '@tessera/schemas';

/** The IdP settings the page signs researchers in with (authorization code + PKCE). */
export interface WebSignIn {
  readonly issuer: string;
  readonly clientId: string;
  readonly scope: string;
  /** The gateway's audience, asked for as the resource indicator (RFC 8707). */
  readonly resource: string;
  /** The access token claim listing the researcher's projects (the page offers them). */
  readonly projectsClaim: string;
}

export interface WebRouteDeps {
  readonly openapi: Record<string, unknown>;
  /** Built web page directory, served at `/`; no page without it. */
  readonly webRoot?: string;
  /** No sign-in on the page without it. */
  readonly browserSignIn?: WebSignIn;
}

/** @example app.use(webRouter({ openapi: buildOpenApi(publicUrl), webRoot: WEB_ROOT, browserSignIn })); */
export function webRouter(deps: WebRouteDeps): express.Router {
  const router = express.Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(deps.openapi);
  });
  const { webRoot, browserSignIn: signIn } = deps;
  if (webRoot === undefined || !existsSync(join(webRoot, 'index.html'))) return router;
  const csp = pageCsp(signIn ? [new URL(signIn.issuer).origin] : []);
  router.get('/examples.json', (_req, res) => {
    res.json(EXAMPLE_QUERIES);
  });
  router.get('/web-config.json', (_req, res) => {
    res.json({ signIn: signIn ?? null });
  });
  router.use(
    express.static(webRoot, {
      index: 'index.html',
      // Revalidated, never served stale after an upgrade; results are never in these files.
      setHeaders: (res) => {
        res.set({ 'content-security-policy': csp, 'cache-control': 'no-cache' });
      },
    }),
  );
  return router;
}
