// What operators and orchestrators read: liveness, readiness and metrics.
import express from 'express';
import type { GatewayMetrics } from './metrics.ts';

export interface HealthRouteDeps {
  /** False while the gateway should get no traffic (starting, draining, store down). */
  readonly ready: () => Promise<boolean>;
  readonly metrics: GatewayMetrics;
}

/** @example app.use(healthRouter({ ready: async () => true, metrics })); */
export function healthRouter(deps: HealthRouteDeps): express.Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const ready = await deps.ready().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready' });
  });
  router.get('/metrics', async (_req, res) => {
    const { registry } = deps.metrics;
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
