// What a browser reads: the OpenAPI description, the web page and its
// example menu (the schemas package's example queries, as data). The page's
// files carry the page CSP (its own scripts and styles only, nothing inline,
// no framing); everything else keeps the app's deny-all policy (threat 56).
import express from 'express';
import { PAGE_CSP } from '@tessera/http-kit';
import { EXAMPLE_QUERIES } from '@tessera/schemas';

export interface WebRouteDeps {
  readonly openapi: Record<string, unknown>;
  /** Static web page directory, served at `/`; no page without it. */
  readonly webRoot?: string;
}

/** @example app.use(webRouter({ openapi: buildOpenApi(publicUrl), webRoot: WEB_ROOT })); */
export function webRouter(deps: WebRouteDeps): express.Router {
  const router = express.Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(deps.openapi);
  });
  if (deps.webRoot) {
    router.get('/examples.json', (_req, res) => {
      res.json(EXAMPLE_QUERIES);
    });
    router.use(
      express.static(deps.webRoot, {
        index: 'index.html',
        // Revalidated, never served stale after an upgrade; results are never in these files.
        setHeaders: (res) => {
          res.set({ 'content-security-policy': PAGE_CSP, 'cache-control': 'no-cache' });
        },
      }),
    );
  }
  return router;
}
