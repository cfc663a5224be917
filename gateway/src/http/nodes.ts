// What the gateway says about its nodes: their health to researchers
// (/v1/nodes, behind authentication) and, to the nodes themselves, the public
// keys its node tokens are signed with.
import express from 'express';
import type { NodeRegistry } from '../nodes/registry.ts';

export interface NodesRouteDeps {
  readonly registry: NodeRegistry;
  readonly circuits: () => { node: string; state: string }[];
}

/**
 * GET /v1/nodes; mount it behind researcher authentication.
 * @example app.use(nodesRouter({ registry, circuits: () => fanout.nodeStates() }));
 */
export function nodesRouter(deps: NodesRouteDeps): express.Router {
  const router = express.Router();
  router.get('/v1/nodes', (_req, res) => {
    const circuits = new Map(deps.circuits().map((c) => [c.node, c]));
    res.json({
      nodes: deps.registry.list().map((n) => ({
        id: n.id,
        title: n.title,
        ready: n.ready,
        latencyMs: n.latencyMs,
        dataVersion: n.dataVersion,
        dataAgeSeconds: n.dataAgeSeconds,
        checkedAt: n.checkedAt,
        circuit: circuits.get(n.id)?.state ?? 'closed',
      })),
    });
  });
  return router;
}

/**
 * GET /.well-known/jwks.json: the keys nodes verify the gateway's tokens with. Public.
 * @example app.use(nodeKeysRouter({ jwks: async () => publicJwks(keys) }));
 */
export function nodeKeysRouter(deps: {
  readonly jwks: () => Promise<{ keys: unknown[] }>;
}): express.Router {
  const router = express.Router();
  router.get('/.well-known/jwks.json', async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(await deps.jwks());
  });
  return router;
}
