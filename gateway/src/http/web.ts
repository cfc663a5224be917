// What a browser reads: the OpenAPI description, the web page and its
// example menu (the schemas package's example queries, as data).
import express from 'express';
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
    router.use(express.static(deps.webRoot, { index: 'index.html' }));
  }
  return router;
}
