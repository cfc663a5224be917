// /v1/saved-queries: a researcher's named queries, shared by link with the
// members of their project. The routes parse and answer; who may do what is
// saved/saved-queries.ts.
import express from 'express';
import { parseJsonBody } from '@tessera/schemas';
import { researcherOf } from '../auth/researcher.ts';
import type { SavedQueryService } from '../saved/saved-queries.ts';
import type { SavedQueryRecord } from '../store/store.ts';
import { readBody } from './body.ts';

export interface SavedQueriesRouteDeps {
  readonly saved: SavedQueryService;
  /** The gateway's public URL, without a trailing slash: links are absolute. */
  readonly publicUrl: string;
  readonly bodyLimitBytes: number;
}

/** A saved query as researchers see it; `links.share` is the link to pass on. */
export function savedQueryView(
  saved: SavedQueryRecord,
  publicUrl: string,
): Record<string, unknown> {
  return {
    id: saved.id,
    name: saved.name,
    project: saved.project,
    owner: saved.owner,
    query: saved.query,
    createdAt: saved.createdAt.toISOString(),
    links: {
      self: `${publicUrl}/v1/saved-queries/${saved.id}`,
      share: `${publicUrl}/?saved=${saved.id}`,
    },
  };
}

/**
 * The saved-query routes; mount them behind researcher authentication.
 * @example app.use(savedQueriesRouter({ saved, publicUrl, bodyLimitBytes: 262_144 }));
 */
export function savedQueriesRouter(deps: SavedQueriesRouteDeps): express.Router {
  const { saved, publicUrl } = deps;
  const router = express.Router();

  router.post('/v1/saved-queries', readBody(deps.bodyLimitBytes), async (req, res) => {
    const body = parseJsonBody(Buffer.isBuffer(req.body) ? req.body : undefined);
    const record = await saved.save(researcherOf(res), body, req.get('x-tessera-project'));
    const view = savedQueryView(record, publicUrl);
    res.status(201).set('Location', `${publicUrl}/v1/saved-queries/${record.id}`).json(view);
  });

  router.get('/v1/saved-queries', async (_req, res) => {
    const list = await saved.list(researcherOf(res));
    res.json({ savedQueries: list.map((s) => savedQueryView(s, publicUrl)) });
  });

  router.get('/v1/saved-queries/:id', async (req, res) => {
    res.json(savedQueryView(await saved.get(req.params.id, researcherOf(res)), publicUrl));
  });

  router.delete('/v1/saved-queries/:id', async (req, res) => {
    await saved.remove(req.params.id, researcherOf(res));
    res.status(204).end();
  });

  return router;
}
