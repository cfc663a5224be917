// GET /v1/catalogue: the federated catalogue, searchable, as JSON or
// DCAT JSON-LD. Public: it describes datasets, never their contents.
import express from 'express';
import { type FederatedCatalogue, searchCatalogue, toJsonLd } from '../catalogue/catalogue.ts';

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
  return router;
}
