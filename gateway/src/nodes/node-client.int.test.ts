// The node client against real HTTP servers on 127.0.0.1: the base path,
// the deadline, the body cap and the per-node connection limit, as a node
// sees them on the wire.
import { Agent, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeCallError, createNodeClient } from './node-client.ts';
import { sendJson, testNodeClient, useTestNodes } from '../../test/support/test-node-server.ts';

const { start: node, client } = useTestNodes();
/** Other things a test made, closed after it. */
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

const LIMITS = { timeoutMs: 5_000, maxBodyBytes: 1024 } as const;

/** Rejects with the NodeCallError code of `promise`, or fails the test. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NodeCallError);
  return (err as NodeCallError).code;
}

describe('node client: where calls go', () => {
  it.each([
    ['at the root', '', '/readyz'],
    ['with a base path and a trailing slash', '/region/x/', '/region/x/readyz'],
    ['with a base path and no trailing slash', '/region/x', '/region/x/readyz'],
  ])('asks a node %s under its base path', async (_name, base, expected) => {
    const alpha = await node((_req, res) => sendJson(res, 200, { status: 'ready' }));
    const nodes = client({ nodes: [{ id: 'alpha', url: `${alpha.url}${base}` }] });
    const { statusCode, body } = await nodes.getJson('alpha', '/readyz', LIMITS);
    expect({ statusCode, body }).toEqual({ statusCode: 200, body: { status: 'ready' } });
    expect(alpha.paths).toEqual([expected]);
  });

  it('posts the body and headers given, under the base path', async () => {
    const seen: {
      method: string | undefined;
      url: string | undefined;
      type: string | undefined;
      body: string;
    }[] = [];
    const alpha = await node((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          type: req.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        });
        sendJson(res, 200, { ok: true });
      });
    });
    const nodes = client({ nodes: [{ id: 'alpha', url: `${alpha.url}/tessera/` }] });
    const response = await nodes.request('alpha', {
      method: 'POST',
      path: '/v1/evaluate',
      headers: { 'content-type': 'application/json' },
      body: '{"q":1}',
      ...LIMITS,
    });
    expect(await response.text()).toBe('{"ok":true}');
    expect(seen).toEqual([
      { method: 'POST', url: '/tessera/v1/evaluate', type: 'application/json', body: '{"q":1}' },
    ]);
  });

  it('refuses a node it was not configured with, and bad configuration by name', async () => {
    const nodes = client({ nodes: [] });
    await expect(
      nodes.request('nowhere', { method: 'GET', path: '/readyz', ...LIMITS }),
    ).rejects.toThrow(RangeError);
    expect(() => testNodeClient({ nodes: [{ id: 'x', url: 'ftp://h' }] })).toThrow(
      /nodes\[0\]\.url/,
    );
    expect(() => testNodeClient({ nodes: [{ id: 'x', url: 'http://u:p@h' }] })).toThrow(
      /nodes\[0\]\.url/,
    );
    expect(() => testNodeClient({ nodes: [{ id: 'x', url: 'http://h', connections: 0 }] })).toThrow(
      /nodes\[0\]\.connections/,
    );
    expect(() => createNodeClient({ nodes: [], connectTimeoutMs: 0 })).toThrow(/connectTimeoutMs/);
  });
});

describe('node client: the body cap', () => {
  const big = { pad: 'x'.repeat(4096) };

  it('refuses a declared length over the cap, and a chunked body that grows past it', async () => {
    const declared = await node((_req, res) => sendJson(res, 200, big));
    const chunked = await node((_req, res) => sendJson(res, 200, big, { chunked: true }));
    const nodes = client({
      nodes: [
        { id: 'declared', url: declared.url },
        { id: 'chunked', url: chunked.url },
      ],
    });
    expect(await codeOf(nodes.getJson('declared', '/readyz', LIMITS))).toBe('NODE_BODY_TOO_LARGE');
    expect(await codeOf(nodes.getJson('chunked', '/readyz', LIMITS))).toBe('NODE_BODY_TOO_LARGE');
  });

  it('holds the cap exactly, and a smaller cap asked for when reading', async () => {
    const text = JSON.stringify({ a: 'b' });
    let pad = 0;
    const alpha = await node((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text + ' '.repeat(pad));
    });
    const nodes = client({ nodes: [{ id: 'alpha', url: alpha.url }] });
    const cap = Buffer.byteLength(text) + 2;
    const limits = { timeoutMs: 5_000, maxBodyBytes: cap };
    pad = 2;
    expect((await nodes.getJson('alpha', '/', limits)).body).toEqual({ a: 'b' });
    pad = 3;
    expect(await codeOf(nodes.getJson('alpha', '/', limits))).toBe('NODE_BODY_TOO_LARGE');
    pad = 0;
    const response = await nodes.request('alpha', { method: 'GET', path: '/', ...limits });
    expect(await codeOf(response.text(Buffer.byteLength(text) - 1))).toBe('NODE_BODY_TOO_LARGE');
  });

  it('refuses a body that is not UTF-8 or not JSON', async () => {
    const binary = await node((_req, res) => {
      res.writeHead(200);
      res.end(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    });
    const prose = await node((_req, res) => {
      res.writeHead(200);
      res.end('not json');
    });
    const nodes = client({
      nodes: [
        { id: 'binary', url: binary.url },
        { id: 'prose', url: prose.url },
      ],
    });
    expect(await codeOf(nodes.getJson('binary', '/', LIMITS))).toBe('NODE_BODY_NOT_UTF8');
    expect(await codeOf(nodes.getJson('prose', '/', LIMITS))).toBe('NODE_BODY_NOT_JSON');
  });
});

describe('node client: the deadline', () => {
  it('ends a call whose answer never comes', async () => {
    const hang = await node(() => undefined);
    const nodes = client({ nodes: [{ id: 'hang', url: hang.url }] });
    const call = nodes.getJson('hang', '/readyz', { timeoutMs: 200, maxBodyBytes: 1024 });
    expect(await codeOf(call)).toBe('NODE_DEADLINE');
  });

  it('covers the body: headers in time and then a trickle is still cut off', async () => {
    const timers: NodeJS.Timeout[] = [];
    cleanups.push(() => {
      timers.forEach(clearInterval);
      return Promise.resolve();
    });
    const drip = await node((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      timers.push(setInterval(() => res.destroyed || res.write(' '), 20));
    });
    const nodes = client({ nodes: [{ id: 'drip', url: drip.url }] });
    const response = await nodes.request('drip', {
      method: 'GET',
      path: '/',
      timeoutMs: 300,
      maxBodyBytes: 1024 * 1024,
    });
    expect(response.statusCode).toBe(200);
    expect(await codeOf(response.text())).toBe('NODE_DEADLINE');
  });

  it("ends at once when the caller's signal aborts, and says it was not the deadline", async () => {
    const hang = await node(() => undefined);
    const nodes = client({ nodes: [{ id: 'hang', url: hang.url }] });
    const controller = new AbortController();
    const call = nodes.request('hang', {
      method: 'GET',
      path: '/',
      timeoutMs: 60_000,
      maxBodyBytes: 1024,
      signal: controller.signal,
    });
    // Aborted once the request has reached the node.
    await new Promise<void>((resolve) => {
      hang.handler = () => resolve();
    });
    controller.abort();
    const err: unknown = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(NodeCallError);
  });
});

describe('node client: connections', () => {
  it("keeps to each node's own connection limit", async () => {
    // `narrow` answers at once; `wide` holds its requests until three are in,
    // which only three connections at once can bring about.
    const narrow = await node((_req, res) => sendJson(res, 200, {}));
    const held: (() => void)[] = [];
    const wide = await node((_req, res) => {
      held.push(() => sendJson(res, 200, {}));
      if (held.length === 3) held.forEach((answer) => answer());
    });
    const nodes = client({
      nodes: [
        { id: 'narrow', url: narrow.url, connections: 1 },
        { id: 'wide', url: wide.url, connections: 3 },
      ],
    });
    const three = (id: string) =>
      Promise.all([1, 2, 3].map(() => nodes.getJson(id, '/readyz', LIMITS)));
    await Promise.all([three('narrow'), three('wide')]);
    expect(narrow.connections()).toBe(1);
    expect(wide.connections()).toBe(3);
  });

  it('sends every call through an injected dispatcher, and leaves it open on close', async () => {
    const alpha = await node((_req, res) => sendJson(res, 200, { status: 'ready' }));
    const dispatched: string[] = [];
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const recording = agent.compose((dispatch): Dispatcher['dispatch'] => (opts, handler) => {
      dispatched.push(`${String(opts.origin)}${opts.path}`);
      return dispatch(opts, handler);
    });
    const nodes = testNodeClient({
      nodes: [{ id: 'alpha', url: `${alpha.url}/base/` }],
      dispatcher: recording,
    });
    await nodes.getJson('alpha', '/readyz', LIMITS);
    await nodes.close();
    expect(dispatched).toEqual([`${alpha.url}/base/readyz`]);
    expect(agent.closed).toBe(false);
  });
});
