// The composition root's wiring, with a real stand-in node behind a base
// path: health probes and catalogue fetches go through the node client to
// `<base>/...`, readiness can be withdrawn, and background failures have
// their metric.
import request from 'supertest';
import { ConfigError, loadConfig } from '@tessera/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type TestNodeServer,
  catalogueEntryOf,
  sendJson,
  startTestNodeServer,
} from '../../test/support/test-node-server.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { createPgliteStore } from '../store/pglite-store.ts';
import type { Store } from '../store/store.ts';
import { type GatewayService, createGatewayService } from './gateway.ts';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('createGatewayService', () => {
  it('reaches a node under its base path for health and catalogue, and can stop being ready', async () => {
    let probed: () => void = () => undefined;
    const wasProbed = new Promise<void>((resolve) => (probed = resolve));
    const node: TestNodeServer = await startTestNodeServer((req, res) => {
      if (req.url === '/region/x/readyz') {
        sendJson(res, 200, { status: 'ready', dataVersion: 'v1' });
        probed();
      } else if (req.url === '/region/x/v1/catalogue') {
        sendJson(res, 200, catalogueEntryOf('alpha'));
      } else {
        sendJson(res, 404, { code: 'ERR_NOT_FOUND' });
      }
    });
    cleanups.push(() => node.close());
    const store: Store = await createPgliteStore();
    cleanups.push(() => store.close());
    const config = loadConfig('gateway-config', {
      publicUrl: 'http://127.0.0.1:8080',
      // Never asked: no request here carries a researcher token.
      oidc: { issuer: 'http://127.0.0.1:9/', audience: 'tessera' },
      nodes: [{ id: 'alpha', url: `${node.url}/region/x/`, connections: 2 }],
      projects: { diabetes: { nodes: ['alpha'] } },
      log: { level: 'silent' },
    });
    const gateway: GatewayService = await createGatewayService(config, { store });
    cleanups.push(() => gateway.close());

    await wasProbed;
    const catalogue = await request(gateway.app).get('/v1/catalogue').expect(200);
    expect(catalogue.body).toEqual({ entries: [catalogueEntryOf('alpha')] });
    expect(node.paths).toContain('/region/x/readyz');
    expect(node.paths).toContain('/region/x/v1/catalogue');
    expect(node.paths.every((p) => p.startsWith('/region/x/'))).toBe(true);

    const metrics = await request(gateway.app).get('/metrics').expect(200);
    expect(metrics.text).toContain('# TYPE tessera_gateway_background_failures_total counter');

    await request(gateway.app).get('/readyz').expect(200);
    gateway.markNotReady();
    const notReady = await request(gateway.app).get('/readyz').expect(503);
    expect(notReady.body).toEqual({ status: 'not-ready' });
  });

  it('refuses to start when a replica one heartbeat late would already be taken as dead', async () => {
    const config = loadConfig('gateway-config', {
      publicUrl: 'http://127.0.0.1:8080',
      oidc: { issuer: 'http://127.0.0.1:9/', audience: 'tessera' },
      nodes: [{ id: 'alpha', url: 'http://127.0.0.1:9/' }],
      projects: { diabetes: { nodes: ['alpha'] } },
      store: { heartbeatIntervalSec: 10, staleAfterSec: 15 },
      log: { level: 'silent' },
    });
    const store = createMemoryStore();
    cleanups.push(() => store.close());
    const refused = createGatewayService(config, { store });
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow(
      'configuration /store/staleAfterSec: must be at least twice store.heartbeatIntervalSec (10)',
    );
  });
});
