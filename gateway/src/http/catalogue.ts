// GET /v1/catalogue: the federated catalogue, searchable, as JSON or
// DCAT JSON-LD. Public: it describes datasets, never their contents.
import express from 'express';
import {
  type FederatedCatalogue,
  searchCatalogue,
  searchCodes,
  toJsonLd,
} from '../catalogue/catalogue.ts';
import { gatewayProblem } from '../errors.ts';

export interface CatalogueRouteDeps {
  readonly catalogue: FederatedCatalogue;
  /** The gateway's public URL, without a trailing slash. */
  readonly publicUrl: string;
}

/** @example app.use(catalogueRouter({ catalogue, publicUrl })); */
export function catalogueRouter(deps: CatalogueRouteDeps): express.Router {
  const router = express.Router();
  router.get('/v1/catalogue', async (req, res) => {
    const entries = searchCatalogue(await deps.catalogue.entries(), {
      code: typeof req.query.code === 'string' ? req.query.code : undefined,
      q: typeof req.query.q === 'string' ? req.query.q : undefined,
    });
    if (req.accepts(['application/json', 'application/ld+json']) === 'application/ld+json') {
      res.type('application/ld+json').json(toJsonLd(entries, `${deps.publicUrl}/v1/catalogue`));
    } else {
      res.json({ entries });
    }
  });
  // Codes by prefix or name, with each node's band: what a search box asks.
  router.get('/v1/catalogue/codes', async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q : '';
    if (q.trim() === '' || q.length > 200) {
      throw gatewayProblem('ERR_SEARCH_INVALID', {
        detail: 'q is 1 to 200 characters: the start of a code, or words of its name',
        pointer: '/q',
      });
    }
    const limit = typeof req.query.limit === 'string' ? Number(req.query.limit) : 50;
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 200)) {
      throw gatewayProblem('ERR_SEARCH_INVALID', {
        detail: 'limit is a whole number from 1 to 200',
        pointer: '/limit',
      });
    }
    const system = typeof req.query.system === 'string' ? req.query.system : undefined;
    res.json(searchCodes(await deps.catalogue.entries(), { q, system, limit }));
  });
  return router;
}
