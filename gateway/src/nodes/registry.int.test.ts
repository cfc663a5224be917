// Node health as the gateway sees it, from real HTTP servers standing in for
// nodes: where the probe goes, what it keeps, and what it refuses to read.
import { describe, expect, it } from 'vitest';
import { createNodeRegistry } from './registry.ts';
import { sendJson, useTestNodes } from '../../test/support/test-node-server.ts';

const { start: node, client } = useTestNodes();

function registryOf(list: { id: string; url: string }[]) {
  return createNodeRegistry(list, {
    client: client({ nodes: list }),
    timeoutMs: 5_000,
    maxBodyBytes: 16 * 1024,
  });
}

describe('node registry', () => {
  it('records readiness, data version and age from /readyz', async () => {
    const alpha = await node((_req, res) =>
      sendJson(res, 200, { status: 'ready', dataVersion: 'v7', dataAgeSeconds: 60 }),
    );
    const beta = await node((_req, res) => sendJson(res, 503, { status: 'not-ready' }));
    const registry = registryOf([
      { id: 'alpha', url: alpha.url },
      { id: 'beta', url: beta.url },
    ]);
    await registry.poll();
    expect(registry.list()).toEqual([
      expect.objectContaining({ id: 'alpha', ready: true, dataVersion: 'v7', dataAgeSeconds: 60 }),
      expect.objectContaining({ id: 'beta', ready: false, dataVersion: undefined }),
    ]);
    expect(registry.dataVersionOf('alpha')).toBe('v7');
  });

  it('probes a node with a base path at <base>/readyz', async () => {
    const alpha = await node((req, res) =>
      req.url === '/region/x/readyz'
        ? sendJson(res, 200, { status: 'ready', dataVersion: 'v1' })
        : sendJson(res, 404, { code: 'ERR_NOT_FOUND' }),
    );
    const registry = registryOf([{ id: 'alpha', url: `${alpha.url}/region/x/` }]);
    await registry.poll();
    expect(alpha.paths).toEqual(['/region/x/readyz']);
    expect(registry.list()[0]).toMatchObject({ ready: true, dataVersion: 'v1' });
  });

  it('refuses an oversized /readyz body: the node is not ready and nothing of it is kept', async () => {
    const padded = { status: 'ready', dataVersion: 'v-huge', pad: ' '.repeat(2 * 1024 * 1024) };
    const alpha = await node((_req, res) => sendJson(res, 200, padded, { chunked: true }));
    const registry = registryOf([{ id: 'alpha', url: alpha.url }]);
    await registry.poll();
    expect(registry.list()[0]).toMatchObject({ ready: false, dataVersion: undefined });
  });

  it('marks a node it cannot reach as not ready, without throwing', async () => {
    const gone = await node(() => undefined);
    const url = gone.url;
    await gone.close();
    const registry = registryOf([{ id: 'alpha', url }]);
    await registry.poll();
    expect(registry.list()[0]).toMatchObject({ ready: false });
    expect(registry.list()[0]?.checkedAt).toBeDefined();
  });
});
