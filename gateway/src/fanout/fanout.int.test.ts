// The fan-out against real HTTP servers in this process, made slow, dead and
// wrong on purpose (threats 25 to 30). Deadlines are a few hundred ms; the
// only timing asserted is that deadlines hold, with generous margins.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CohortQuery, type NodeOutcome, type NodeResult } from '@tessera/schemas';
import { configDefaults } from '@tessera/schemas/testing';
import { mergeResults } from '../merge/merge.ts';
import type { NodeClient } from '../nodes/node-client.ts';
import {
  type TestClientOptions,
  nodeResultOf,
  testNodeClient,
} from '../../test/support/test-node-server.ts';
import { createFanout, type Fanout, type FanoutCaller, type FanoutOptions } from './fanout.ts';

const HASH = `sha256:${'c'.repeat(64)}`;
/** Text a node puts in its bad answers; it must never reach an outcome. */
const MARKER = 'UPSTREAM-SECRET-patient-4711';

function nodeResult(node: string, fields: Partial<NodeResult> = {}): NodeResult {
  return nodeResultOf(node, HASH, fields);
}

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestNode {
  readonly url: string;
  readonly server: Server;
  readonly received: Received[];
  /** Requests in progress at the same time, at most. */
  readonly peakInFlight: () => number;
  handler: Handler;
  kill(): void;
}

const servers: TestNode[] = [];
const fanouts: Fanout[] = [];
const clients: NodeClient[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  await Promise.all(fanouts.splice(0).map((f) => f.close()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const t of timers.splice(0)) clearTimeout(t);
  await Promise.all(
    servers.splice(0).map(
      (n) =>
        new Promise<void>((resolve) => {
          n.server.closeAllConnections();
          n.server.close(() => resolve());
        }),
    ),
  );
});

async function startNode(handler: Handler): Promise<TestNode> {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let peak = 0;
  const server = createServer((req, res) => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    res.on('close', () => (inFlight -= 1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, body });
      node.handler(req, res, body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const node: TestNode = {
    url: `http://127.0.0.1:${port}`,
    server,
    received,
    peakInFlight: () => peak,
    handler,
    kill() {
      server.close();
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    },
  };
  servers.push(node);
  return node;
}

/** A node that answers every query correctly. */
const healthy =
  (id: string): Handler =>
  (_req, res) =>
    json(res, 200, nodeResult(id));

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function raw(res: ServerResponse, status: number, text: string | Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

/** Never answers (until the test ends). */
const hang: Handler = () => {};

/** The short deadlines the deadline tests hold the fan-out to. */
const SHORT = { perNodeDeadlineMs: 300, queryDeadlineMs: 600 } as const;
/** Slack on top of a deadline before a test calls it broken: a loaded machine stalls timers. */
const MARGIN = 1_000;

/** The fan-out limits of a gateway configured with nothing but its nodes. */
const { fanout: FANOUT, nodes: NODE_DEFAULTS } = configDefaults('gateway-config');
const NODE_LIMIT = NODE_DEFAULTS[0].maxConcurrentQueries;

/** What a test may change about the node client the fan-out is given. */
interface ClientOverrides {
  /** The node list itself, when a test needs URLs of its own (a base path, a bad scheme). */
  readonly nodes?: TestClientOptions['nodes'];
  /** Connections to each node, when not the configuration's default. */
  readonly connectionsPerNode?: number;
}

function setup(
  nodes: Record<string, TestNode>,
  overrides: Partial<FanoutOptions> & ClientOverrides = {},
): { fanout: Fanout; signed: { node: string; body: string; caller: FanoutCaller }[] } {
  const { nodes: endpoints, connectionsPerNode, ...fanoutOverrides } = overrides;
  const client = testNodeClient({
    nodes: (endpoints ?? Object.entries(nodes).map(([id, n]) => ({ id, url: n.url }))).map((n) =>
      connectionsPerNode === undefined ? n : { connections: connectionsPerNode, ...n },
    ),
  });
  clients.push(client);
  const signed: { node: string; body: string; caller: FanoutCaller }[] = [];
  const fanout = createFanout({
    client,
    // Generous unless a test is about deadlines: a cold first connection must
    // not turn a retry test into a timeout.
    perNodeDeadlineMs: 2_000,
    queryDeadlineMs: 3_000,
    maxConcurrentPerNode: Object.fromEntries(client.nodeIds.map((id) => [id, NODE_LIMIT])),
    maxAttempts: FANOUT.maxAttempts,
    retryBudget: { ratio: FANOUT.retryBudgetRatio, reserve: FANOUT.retryBudgetReserve },
    maxResponseBytes: FANOUT.maxResponseBytes,
    backoff: { baseMs: 5, maxMs: 20 },
    breaker: { failureThreshold: 5, openMs: 60_000 },
    signRequest: (node, body, caller) => {
      signed.push({ node, body, caller });
      return Promise.resolve(`token-${node}-${signed.length}`);
    },
    ...fanoutOverrides,
  });
  fanouts.push(fanout);
  return { fanout, signed };
}

// The first request in a process pays for connection setup and cold code;
// pay it here so the deadline tests measure only what they mean to.
beforeAll(async () => {
  const warm = await startNode(healthy('warm'));
  const { fanout } = setup({ warm });
  await fanout.run(query(['warm']));
});

function query(nodes: string[], extra: Record<string, unknown> = {}) {
  return {
    body: {
      query: { version: 1, cohort: { patient: { deceased: false } } } as CohortQuery,
      requestId: 'req-1',
    },
    nodes,
    requestId: 'req-1',
    caller: { sub: 'researcher-1', project: 'diabetes' },
    ...extra,
  };
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await p;
  return { value, ms: performance.now() - start };
}

function only(outcomes: NodeOutcome[], node: string): NodeOutcome {
  const o = outcomes.find((x) => x.node === node);
  expect(o).toBeDefined();
  return o!;
}

describe('fan-out: the request', () => {
  it('sends the signed bytes with request id, trace context and the remaining deadline', async () => {
    const a = await startNode(healthy('alpha'));
    const { fanout, signed } = setup({ alpha: a });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const [outcome] = await fanout.run(query(['alpha'], { traceparent }));
    expect(outcome).toMatchObject({ node: 'alpha', status: 'ok', attempts: 1 });
    expect(outcome?.result).toEqual(nodeResult('alpha'));
    const [req] = a.received;
    expect(req?.body).toBe(signed[0]?.body);
    expect(signed[0]).toMatchObject({
      node: 'alpha',
      caller: { sub: 'researcher-1', project: 'diabetes' },
    });
    expect(JSON.parse(req!.body)).toEqual(query([]).body);
    expect(req?.headers.authorization).toBe('Bearer token-alpha-1');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-request-id']).toBe('req-1');
    expect(req?.headers.traceparent).toBe(traceparent);
    const deadline = Number(req?.headers['x-tessera-deadline-ms']);
    expect(deadline).toBeGreaterThan(0);
    expect(deadline).toBeLessThanOrEqual(2_000);
  });

  it('drops a malformed traceparent rather than passing it on', async () => {
    const a = await startNode(healthy('alpha'));
    const { fanout } = setup({ alpha: a });
    await fanout.run(query(['alpha'], { traceparent: 'not-a-trace' }));
    expect(a.received[0]?.headers.traceparent).toBeUndefined();
  });

  it('posts under the node URL path, and asks each distinct node once', async () => {
    const paths: string[] = [];
    const a = await startNode((req, res) => {
      paths.push(req.url ?? '');
      json(res, 200, nodeResult('alpha'));
    });
    const { fanout } = setup({}, { nodes: [{ id: 'alpha', url: `${a.url}/tessera/` }] });
    const outcomes = await fanout.run(query(['alpha', 'alpha']));
    expect(outcomes).toHaveLength(1);
    expect(paths).toEqual(['/tessera/v1/evaluate']);
  });

  it('signs every attempt anew, so a node never sees a token twice', async () => {
    let calls = 0;
    const a = await startNode((_req, res) => {
      calls += 1;
      if (calls === 1) raw(res, 503, '');
      else json(res, 200, nodeResult('alpha'));
    });
    const { fanout } = setup({ alpha: a });
    const [outcome] = await fanout.run(query(['alpha']));
    expect(outcome).toMatchObject({ status: 'ok', attempts: 2 });
    const tokens = a.received.map((r) => r.headers.authorization);
    expect(new Set(tokens).size).toBe(2);
  });

  it('reports each outcome as soon as it is known', async () => {
    const fast = await startNode(healthy('fast'));
    const slow = await startNode((_req, res) => {
      timers.push(setTimeout(() => json(res, 200, nodeResult('slow')), 100));
    });
    const { fanout } = setup({ fast, slow });
    const seen: string[] = [];
    const outcomes = await fanout.run(
      query(['slow', 'fast'], { onNodeOutcome: (o: NodeOutcome) => seen.push(o.node) }),
    );
    expect(seen).toEqual(['fast', 'slow']);
    expect(outcomes.map((o) => o.node)).toEqual(['slow', 'fast']);
    expect(outcomes.every((o) => o.status === 'ok')).toBe(true);
  });

  it('asks 30 nodes at once without a listener-leak warning', async () => {
    const nodes: Record<string, TestNode> = {};
    for (let i = 0; i < 30; i++) nodes[`n${i}`] = await startNode(healthy(`n${i}`));
    const { fanout } = setup(nodes);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const outcomes = await fanout.run(query(Object.keys(nodes)));
      expect(outcomes.filter((o) => o.status === 'ok')).toHaveLength(30);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('keeps going when an outcome listener throws', async () => {
    const a = await startNode(healthy('alpha'));
    const b = await startNode(healthy('beta'));
    const { fanout } = setup({ alpha: a, beta: b });
    const outcomes = await fanout.run(
      query(['alpha', 'beta'], {
        onNodeOutcome: () => {
          throw new Error('listener fault');
        },
      }),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['ok', 'ok']);
  });

  it('refuses unknown nodes and bad options before anything is sent', async () => {
    const a = await startNode(healthy('alpha'));
    const { fanout } = setup({ alpha: a });
    await expect(fanout.run(query(['alpha', 'nowhere']))).rejects.toThrow(/unknown node/);
    await expect(fanout.run({ ...query(['alpha']), requestId: 'a\r\nb' })).rejects.toThrow(
      /requestId/,
    );
    expect(a.received).toHaveLength(0);
    expect(() => setup({ alpha: a }, { perNodeDeadlineMs: 0 })).toThrow(/perNodeDeadlineMs/);
    expect(() => setup({ alpha: a }, { maxAttempts: 4 })).toThrow(/maxAttempts/);
    expect(() => setup({}, { nodes: [{ id: 'x', url: 'ftp://h' }] })).toThrow(/nodes\[0\]\.url/);
  });

  it('reports a signing failure as an error without blaming the node', async () => {
    const a = await startNode(healthy('alpha'));
    const { fanout } = setup(
      { alpha: a },
      { signRequest: () => Promise.reject(new Error('key store down')) },
    );
    const [outcome] = await fanout.run(query(['alpha']));
    expect(outcome).toMatchObject({ status: 'error', attempts: 1 });
    expect(a.received).toHaveLength(0);
    expect(fanout.nodeStates()[0]?.consecutiveFailures).toBe(0);
  });
});

describe('threat 25: a node killed mid-query', () => {
  it('answers within the deadline, lists the node as unavailable, and the merge is incomplete', async () => {
    const ok = await startNode(healthy('alpha'));
    const dying = await startNode((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"node":"beta","queryHash":');
      // The process dies half-way through its answer.
      setImmediate(() => dying.kill());
    });
    const { fanout } = setup(
      { alpha: ok, beta: dying },
      { perNodeDeadlineMs: 1_000, queryDeadlineMs: 1_500 },
    );
    const { value: outcomes, ms } = await timed(fanout.run(query(['alpha', 'beta'])));
    expect(ms).toBeLessThan(1_500 + MARGIN);
    expect(only(outcomes, 'beta')).toMatchObject({ status: 'unavailable', attempts: 1 });
    expect(only(outcomes, 'beta').result).toBeUndefined();
    const merged = mergeResults({ queryHash: HASH, outcomes, minNodes: 1 });
    expect(merged.complete).toBe(false);
    expect(merged.missing).toEqual(['beta']);
    expect(merged.total.count).toBe(42);
  });

  it('reports a node whose sockets are cut before any answer as unavailable', async () => {
    const a = await startNode((req) => req.socket.destroy());
    const { fanout } = setup({ alpha: a });
    const [outcome] = await fanout.run(query(['alpha']));
    // The request reached the node, so it is not sent again.
    expect(outcome).toMatchObject({ status: 'unavailable', attempts: 1 });
  });

  it('retries a refused connection, then reports the node unavailable', async () => {
    const a = await startNode(healthy('alpha'));
    a.kill();
    await new Promise((resolve) => a.server.once('close', resolve));
    const { fanout } = setup({ alpha: a });
    const { value, ms } = await timed(fanout.run(query(['alpha'])));
    expect(value[0]).toMatchObject({ status: 'unavailable', attempts: 3 });
    expect(ms).toBeLessThan(2_000);
  });
});

describe('threat 26: a node that hangs', () => {
  it('times the node out at its deadline while the others answer', async () => {
    const ok = await startNode(healthy('alpha'));
    const stuck = await startNode(hang);
    const { fanout } = setup({ alpha: ok, beta: stuck }, SHORT);
    const { value, ms } = await timed(fanout.run(query(['alpha', 'beta'])));
    expect(only(value, 'alpha').status).toBe('ok');
    expect(only(value, 'beta')).toMatchObject({ status: 'timeout', attempts: 1 });
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(300 + MARGIN);
  });

  it('does not wait for an answer that comes after 30 s', async () => {
    const late = await startNode((_req, res) => {
      timers.push(setTimeout(() => json(res, 200, nodeResult('late')), 30_000));
    });
    const { fanout } = setup({ late }, SHORT);
    const { value, ms } = await timed(fanout.run(query(['late'])));
    expect(value[0]?.status).toBe('timeout');
    expect(ms).toBeLessThan(300 + MARGIN);
  });

  it('keeps the whole query within its own deadline when it is shorter', async () => {
    const stuck = await startNode(hang);
    const { fanout } = setup({ stuck }, { perNodeDeadlineMs: 5_000, queryDeadlineMs: 200 });
    const { value, ms } = await timed(fanout.run(query(['stuck'])));
    expect(value[0]?.status).toBe('timeout');
    expect(ms).toBeLessThan(200 + MARGIN);
    const deadline = Number(stuck.received[0]?.headers['x-tessera-deadline-ms']);
    expect(deadline).toBeLessThanOrEqual(200);
  });

  it('times out a node that sends its headers and then trickles', async () => {
    const drip = await startNode((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const tick = setInterval(() => {
        if (res.destroyed) clearInterval(tick);
        else res.write(' ');
      }, 20);
      timers.push(tick);
    });
    const { fanout } = setup({ drip }, SHORT);
    const { value, ms } = await timed(fanout.run(query(['drip'])));
    expect(value[0]?.status).toBe('timeout');
    expect(ms).toBeLessThan(300 + MARGIN);
  });
});

describe('threat 27: a node answering 503 every time', () => {
  it('tries exactly 3 times, opens the circuit after 5 failed queries, and probes later', async () => {
    let answer: Handler = (_req, res) => raw(res, 503, `{"detail":"${MARKER}"}`);
    const a = await startNode((req, res, body) => answer(req, res, body));
    let offset = 0;
    const { fanout } = setup(
      { alpha: a },
      { now: () => Date.now() + offset, breaker: { failureThreshold: 5, openMs: 10_000 } },
    );
    for (let i = 1; i <= 5; i++) {
      const [outcome] = await fanout.run(query(['alpha']));
      expect(outcome).toMatchObject({ status: 'unavailable', attempts: 3 });
      expect(a.received).toHaveLength(3 * i);
    }
    expect(fanout.nodeStates()[0]).toMatchObject({ circuit: 'open', consecutiveFailures: 5 });

    // Open: no request reaches the node.
    const [rejected] = await fanout.run(query(['alpha']));
    expect(rejected).toMatchObject({ status: 'unavailable', attempts: 0 });
    expect(a.received).toHaveLength(15);

    // After openMs one probe goes out; it fails, so the circuit opens again.
    offset += 10_000;
    expect(fanout.nodeStates()[0]?.circuit).toBe('half-open');
    const [probe] = await fanout.run(query(['alpha']));
    expect(probe).toMatchObject({ status: 'unavailable', attempts: 1 });
    expect(a.received).toHaveLength(16);
    expect(fanout.nodeStates()[0]?.circuit).toBe('open');
    await fanout.run(query(['alpha']));
    expect(a.received).toHaveLength(16);

    // The node recovers: the next probe closes the circuit.
    answer = (_req, res) => json(res, 200, nodeResult('alpha'));
    offset += 10_000;
    const [back] = await fanout.run(query(['alpha']));
    expect(back).toMatchObject({ status: 'ok', attempts: 1 });
    expect(fanout.nodeStates()[0]).toMatchObject({ circuit: 'closed', consecutiveFailures: 0 });
    expect(JSON.stringify(rejected) + JSON.stringify(probe)).not.toContain(MARKER);
  });

  it('retries 502 and 504 too, but not 500', async () => {
    const codes = [502, 504, 500];
    const nodes: Record<string, TestNode> = {};
    for (const code of codes)
      nodes[`s${code}`] = await startNode((_req, res) => raw(res, code, ''));
    const { fanout } = setup(nodes);
    const outcomes = await fanout.run(query(Object.keys(nodes)));
    expect(outcomes.map((o) => [o.status, o.attempts])).toEqual([
      ['unavailable', 3],
      ['unavailable', 3],
      ['error', 1],
    ]);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const a = await startNode((_req, res) => raw(res, 503, ''));
    const { fanout } = setup({ alpha: a }, { retryBudget: { ratio: 0, reserve: 1 } });
    const [first] = await fanout.run(query(['alpha']));
    const [second] = await fanout.run(query(['alpha']));
    expect(first?.attempts).toBe(2);
    expect(second?.attempts).toBe(1);
    expect(a.received).toHaveLength(3);
  });

  it('does not start a retry the deadline leaves no time for', async () => {
    const a = await startNode((_req, res) => {
      timers.push(setTimeout(() => raw(res, 503, ''), 150));
    });
    const { fanout } = setup(
      { alpha: a },
      { backoff: { baseMs: 5_000, maxMs: 5_000 }, random: () => 1 },
    );
    const { value, ms } = await timed(fanout.run(query(['alpha'])));
    expect(value[0]).toMatchObject({ status: 'unavailable', attempts: 1 });
    expect(ms).toBeLessThan(2_000 + MARGIN);
  });
});

describe('threat 28: a node answering nonsense', () => {
  const good = nodeResult('bad');
  const cases: [string, Handler][] = [
    ['malformed JSON', (_q, res) => raw(res, 200, `{"node":"bad", ${MARKER}`)],
    ['an empty body', (_q, res) => raw(res, 200, '')],
    ['a JSON array', (_q, res) => raw(res, 200, `["${MARKER}"]`)],
    ['the wrong schema', (_q, res) => json(res, 200, { node: 'bad', message: MARKER })],
    ['a negative count', (_q, res) => json(res, 200, { ...good, total: { count: -3 } })],
    ['a fractional count', (_q, res) => json(res, 200, { ...good, total: { count: 4.5 } })],
    [
      'a NaN count',
      (_q, res) => raw(res, 200, JSON.stringify(good).replace('"count":42', '"count":NaN')),
    ],
    ['a count as a string', (_q, res) => json(res, 200, { ...good, total: { count: '42' } })],
    ['patient ids', (_q, res) => json(res, 200, { ...good, patientIds: [MARKER] })],
    [
      'a value inside a cell',
      (_q, res) => json(res, 200, { ...good, total: { count: 42, values: [MARKER] } }),
    ],
    ['another node name', (_q, res) => json(res, 200, { ...good, node: 'other' })],
    [
      'a reversed range',
      (_q, res) => json(res, 200, { ...good, total: { suppressed: true, range: [9, 1] } }),
    ],
    ['invalid UTF-8', (_q, res) => raw(res, 200, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))],
    ['a 500 with a stack trace', (_q, res) => raw(res, 500, `Error: ${MARKER}\n    at x.js:1`)],
    ['a redirect', (_q, res) => raw(res, 302, MARKER)],
    ['a 204', (_q, res) => raw(res, 204, '')],
    [
      'bytes that are not HTTP',
      (req) => {
        req.socket.end(`HTTP/1.1 2x0 ${MARKER}\r\n\r\n`);
      },
    ],
  ];

  it.each(cases)('discards %s as error, without its text', async (_name, handler) => {
    const bad = await startNode(handler);
    const ok = await startNode(healthy('alpha'));
    const { fanout } = setup({ bad, alpha: ok });
    const outcomes = await fanout.run(query(['bad', 'alpha']));
    expect(only(outcomes, 'bad')).toMatchObject({ status: 'error', attempts: 1 });
    expect(only(outcomes, 'bad').result).toBeUndefined();
    expect(only(outcomes, 'alpha').status).toBe('ok');
    expect(JSON.stringify(outcomes)).not.toContain(MARKER);
    expect(fanout.nodeStates().find((s) => s.id === 'bad')?.consecutiveFailures).toBe(1);
  });

  it('discards an answer to another query when the query hash is given', async () => {
    const a = await startNode(healthy('alpha'));
    const { fanout } = setup({ alpha: a });
    const [wrong] = await fanout.run(query(['alpha'], { queryHash: `sha256:${'d'.repeat(64)}` }));
    const [right] = await fanout.run(query(['alpha'], { queryHash: HASH }));
    expect(wrong?.status).toBe('error');
    expect(right?.status).toBe('ok');
  });

  it('keeps only a well-formed problem code from a refusal', async () => {
    const problem = (code: unknown) => ({
      type: 'about:blank',
      title: MARKER,
      detail: MARKER,
      status: 403,
      code,
    });
    const handlers: Record<string, Handler> = {
      budget: (_q, res) => json(res, 429, problem('ERR_BUDGET_EXHAUSTED')),
      lower: (_q, res) => json(res, 403, problem('err_forbidden')),
      injected: (_q, res) => json(res, 403, problem(`ERR_X ${MARKER}`)),
      numeric: (_q, res) => json(res, 400, problem(42)),
      html: (_q, res) => raw(res, 401, `<html>${MARKER}</html>`),
    };
    const nodes: Record<string, TestNode> = {};
    for (const [id, h] of Object.entries(handlers)) nodes[id] = await startNode(h);
    const { fanout } = setup(nodes);
    const outcomes = await fanout.run(query(Object.keys(nodes)));
    expect(outcomes).toEqual([
      expect.objectContaining({ node: 'budget', status: 'refused', code: 'ERR_BUDGET_EXHAUSTED' }),
      ...['lower', 'injected', 'numeric', 'html'].map((node): unknown =>
        expect.objectContaining({ node, status: 'refused', attempts: 1 }),
      ),
    ]);
    expect(outcomes.slice(1).every((o) => o.code === undefined)).toBe(true);
    expect(JSON.stringify(outcomes)).not.toContain(MARKER);
    // A refusal comes from a healthy node: the circuit is not charged.
    expect(fanout.nodeStates().every((s) => s.consecutiveFailures === 0)).toBe(true);
  });
});

describe('threat 29: a node answering 100 MB', () => {
  /** Streams `total` bytes of a JSON string, honouring backpressure; returns bytes written so far. */
  function flood(total: number, declareLength: boolean): { handler: Handler; sent: () => number } {
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const handler: Handler = (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(declareLength ? { 'content-length': String(total) } : {}),
      });
      const step = (): void => {
        while (sent < total && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', step);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      step();
    };
    return { handler, sent: () => sent };
  }

  it('cuts a chunked 100 MB answer at the cap, with memory bounded', async () => {
    const { handler, sent } = flood(100 * 1024 * 1024, false);
    const big = await startNode(handler);
    const { fanout } = setup({ big }, { perNodeDeadlineMs: 5_000, queryDeadlineMs: 5_000 });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    try {
      const [outcome] = await fanout.run(query(['big']));
      expect(outcome).toMatchObject({ status: 'error', attempts: 1 });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - before).toBeLessThan(40 * 1024 * 1024);
    // The node was stopped early: far less than 100 MB ever left it.
    expect(sent()).toBeLessThan(20 * 1024 * 1024);
  });

  it('refuses a declared length over the cap without reading the body', async () => {
    const { handler, sent } = flood(100 * 1024 * 1024, true);
    const big = await startNode(handler);
    const { fanout } = setup({ big });
    const [outcome] = await fanout.run(query(['big']));
    expect(outcome).toMatchObject({ status: 'error' });
    expect(sent()).toBeLessThan(20 * 1024 * 1024);
  });

  it('holds the cap exactly: a valid answer one byte too long is an error', async () => {
    const text = JSON.stringify(nodeResult('alpha'));
    const cap = Buffer.byteLength(text) + 10;
    let pad = 10;
    const a = await startNode((_req, res) => raw(res, 200, text + ' '.repeat(pad)));
    const { fanout } = setup({ alpha: a }, { maxResponseBytes: cap });
    expect((await fanout.run(query(['alpha'])))[0]?.status).toBe('ok');
    pad = 11;
    expect((await fanout.run(query(['alpha'])))[0]?.status).toBe('error');
  });
});

describe('threat 58: one hung region cannot deny service to the others', () => {
  /** Resolves once `node` has received `count` requests. */
  async function received(node: TestNode, count: number): Promise<void> {
    while (node.received.length < count) await new Promise((r) => setTimeout(r, 5));
  }

  it('answers a saturated node "unavailable" at once, and the others as usual', async () => {
    const stuck = await startNode(hang);
    const fast = await startNode(healthy('fast'));
    const { fanout } = setup(
      { stuck, fast },
      {
        perNodeDeadlineMs: 5_000,
        queryDeadlineMs: 5_000,
        maxConcurrentPerNode: { stuck: 2, fast: 2 },
      },
    );
    let hungSettled = 0;
    const hung = [1, 2].map(() => fanout.run(query(['stuck'])).finally(() => (hungSettled += 1)));
    await received(stuck, 2);
    const outcomes = await fanout.run(query(['stuck', 'fast']));
    // Answered while the stuck node still holds both its places.
    expect(hungSettled).toBe(0);
    expect(only(outcomes, 'stuck')).toMatchObject({
      status: 'unavailable',
      code: 'ERR_NODE_BUSY',
      attempts: 0,
    });
    expect(only(outcomes, 'fast').status).toBe('ok');
    // The extra call never went out, and a busy node is not a failing one.
    expect(stuck.received).toHaveLength(2);
    expect(fanout.nodeStates().find((s) => s.id === 'stuck')?.consecutiveFailures).toBe(0);
    expect(only(await fanout.run(query(['fast'])), 'fast').status).toBe('ok');
    await fanout.close();
    await Promise.all(hung);
  });

  it('gives a node its place back when a call to it ends', async () => {
    const slow = await startNode(hang);
    const { fanout } = setup({ slow }, { ...SHORT, maxConcurrentPerNode: { slow: 1 } });
    const first = fanout.run(query(['slow']));
    await received(slow, 1);
    expect((await fanout.run(query(['slow'])))[0]).toMatchObject({ code: 'ERR_NODE_BUSY' });
    expect((await first)[0]?.status).toBe('timeout');
    const [again] = await fanout.run(query(['slow']));
    expect(again?.status).toBe('timeout');
    expect(slow.received).toHaveLength(2);
  });

  it('does not let a slow node hold up the answers of the others', async () => {
    const slow = await startNode(hang);
    const fast = await startNode(healthy('fast'));
    const { fanout } = setup(
      { slow, fast },
      { connectionsPerNode: 1, perNodeDeadlineMs: 1_500, queryDeadlineMs: 2_000 },
    );
    const events: string[] = [];
    const runs = Array.from({ length: 6 }, () =>
      fanout.run(
        query(['slow', 'fast'], {
          onNodeOutcome: (o: NodeOutcome) => events.push(`${o.node}:${o.status}`),
        }),
      ),
    );
    const outcomes = (await Promise.all(runs)).flat();
    // Every fast answer arrives before the first slow node gives up.
    expect(events.slice(0, 6)).toEqual(Array(6).fill('fast:ok'));
    expect(events.slice(6)).toEqual(Array(6).fill('slow:timeout'));
    expect(outcomes.filter((o) => o.node === 'fast').every((o) => o.status === 'ok')).toBe(true);
    // The slow node's pool stays within its own connection cap.
    expect(slow.peakInFlight()).toBe(1);
  });
});

describe('fan-out: cancellation and shutdown', () => {
  it('aborts in-flight calls when the caller cancels, without blaming the nodes', async () => {
    const stuck = await startNode(hang);
    const { fanout } = setup({ stuck }, { perNodeDeadlineMs: 5_000, queryDeadlineMs: 5_000 });
    const controller = new AbortController();
    const pending = timed(fanout.run(query(['stuck'], { signal: controller.signal })));
    setTimeout(() => controller.abort(), 50);
    const { value, ms } = await pending;
    expect(value[0]).toMatchObject({ status: 'cancelled', attempts: 1 });
    expect(ms).toBeLessThan(50 + MARGIN);
    expect(fanout.nodeStates()[0]?.consecutiveFailures).toBe(0);
  });

  it('cancels running queries on close and refuses new ones', async () => {
    const stuck = await startNode(hang);
    const { fanout } = setup({ stuck }, { perNodeDeadlineMs: 5_000, queryDeadlineMs: 5_000 });
    const pending = fanout.run(query(['stuck']));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fanout.close();
    expect((await pending)[0]?.status).toBe('cancelled');
    await expect(fanout.run(query(['stuck']))).rejects.toMatchObject({ code: 'ERR_OVERLOADED' });
  });
});

describe('fan-out: metrics', () => {
  it('reports calls, attempts, retries, circuit state and load per node through its hooks', async () => {
    const a = await startNode(healthy('alpha'));
    const b = await startNode((_req, res) => raw(res, 503, ''));
    const seen = {
      outcomes: [] as string[],
      attempts: [] as string[],
      retries: [] as string[],
      circuits: [] as string[],
      inFlight: [] as string[],
    };
    const { fanout } = setup(
      { alpha: a, beta: b },
      {
        metrics: {
          outcome: (o) => seen.outcomes.push(`${o.node}:${o.status}`),
          attempt: (node) => seen.attempts.push(node),
          retry: (node) => seen.retries.push(node),
          circuit: (node, state) => seen.circuits.push(`${node}:${state}`),
          nodeInFlight: (node, count) => seen.inFlight.push(`${node}:${count}`),
        },
        breaker: { failureThreshold: 1, openMs: 60_000 },
      },
    );
    await fanout.run(query(['alpha', 'beta']));
    expect(seen.outcomes.sort()).toEqual(['alpha:ok', 'beta:unavailable']);
    expect(seen.attempts.filter((n) => n === 'beta')).toHaveLength(3);
    expect(seen.retries).toEqual(['beta', 'beta']);
    expect(seen.circuits).toContain('beta:open');
    expect(seen.inFlight.sort()).toEqual(['alpha:0', 'alpha:1', 'beta:0', 'beta:1']);
  });
});

describe('threat 51: a node answering a table of another shape', () => {
  const stratified: CohortQuery = {
    version: 1,
    cohort: { patient: { deceased: false } },
    stratify: ['gender'],
    measures: [{ count: 'patients' }],
  };
  const gendered = (node: string) =>
    nodeResult(node, {
      strata: ['female', 'male'].map((gender) => ({
        key: { gender } as NodeResult['strata'][number]['key'],
        cell: { count: 20, perturbed: true },
      })),
    });
  const rogue: [string, Handler, CohortQuery?][] = [
    [
      'strata the query never asked for',
      (_q, res) =>
        json(res, 200, {
          ...nodeResult('bad'),
          strata: [{ key: { codes: '=HYPERLINK("http://x")' }, cell: { count: 12 } }],
        }),
    ],
    [
      'a measure of another kind',
      (_q, res) =>
        json(res, 200, {
          ...nodeResult('bad'),
          measures: [{ type: 'summary', unit: 'kg', n: { count: 30 }, mean: 80, sd: 3 }],
        }),
    ],
    [
      'a stratum key the dimension does not have',
      (_q, res) =>
        json(res, 200, {
          ...gendered('bad'),
          strata: [{ key: { gender: 'female', deceased: 'true' }, cell: { count: 12 } }],
        }),
      stratified,
    ],
  ];

  it.each(rogue)('discards %s as error', async (_name, handler, asked) => {
    const bad = await startNode(handler);
    const ok = await startNode(
      asked === undefined ? healthy('alpha') : (_q, res) => json(res, 200, gendered('alpha')),
    );
    const { fanout } = setup({ bad, alpha: ok });
    const run = query(['bad', 'alpha']);
    const outcomes = await fanout.run(
      asked === undefined ? run : { ...run, body: { ...run.body, query: asked } },
    );
    expect(only(outcomes, 'bad')).toMatchObject({ status: 'error', attempts: 1 });
    expect(only(outcomes, 'bad').result).toBeUndefined();
    expect(only(outcomes, 'alpha').status).toBe('ok');
    const merged = mergeResults({ queryHash: HASH, outcomes, minNodes: 1 });
    expect(JSON.stringify(merged)).not.toContain('HYPERLINK');
    expect(merged.measures.map((m) => m.type)).toEqual(['count']);
  });
});

describe('threat 52: a node refusing with a code of its own making', () => {
  it('passes on only codes of the node catalogue; any other becomes ERR_NODE_REFUSED', async () => {
    const problem = (code: string) => ({ type: 'about:blank', title: 'x', status: 403, code });
    const rogue = await startNode((_q, res) =>
      json(res, 403, problem('ERR_PATIENT_4711_HIV_POSITIVE')),
    );
    const budget = await startNode((_q, res) => json(res, 429, problem('ERR_BUDGET_EXHAUSTED')));
    const { fanout } = setup({ rogue, budget });
    const outcomes = await fanout.run(query(['rogue', 'budget']));
    expect(only(outcomes, 'rogue')).toMatchObject({ status: 'refused', code: 'ERR_NODE_REFUSED' });
    expect(only(outcomes, 'budget')).toMatchObject({
      status: 'refused',
      code: 'ERR_BUDGET_EXHAUSTED',
    });
    expect(JSON.stringify(outcomes)).not.toContain('4711');
  });
});
