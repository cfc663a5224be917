// A child process serving simulated nodes for the gateway benchmark: each
// node is its own node:http server on a loopback port answering
// POST /v1/evaluate with a fixed, schema-valid NodeResult for the variant it
// was sent, after a fixed delay, and reporting its own time both in the result
// (`elapsedMs`) and in `Server-Timing: app;dur=<ms>`. The node's time runs from
// the arrival of the request to the moment the answer is written. Tokens are
// not checked: these stand for nodes, the gateway still signs every request.
//
// Started by tests/bench/gateway.ts with a NodeHostInit as JSON in argv[2].
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeResult } from '@tessera/schemas';
import type { FromNodeHost, NodeHostInit, ToNodeHost } from './protocol.ts';
import { variantIndexOf } from './variants.ts';

const MAX_BODY_BYTES = 1 << 20;
const EVALUATED_AT = new Date().toISOString();

/** What every node answers, apart from its id, the query hash and its time. */
const TEMPLATE: Omit<NodeResult, 'node' | 'queryHash' | 'elapsedMs'> = {
  dataVersion: 'bench-2026-11-01',
  evaluatedAt: EVALUATED_AT,
  disclosure: { threshold: 10, mechanism: 'cell-key', maxNoise: 2, rounding: 1 },
  total: { count: 1234, perturbed: true },
  strata: [
    { key: { ageBand: '0-17' }, cell: { suppressed: true, range: [0, 9] } },
    { key: { ageBand: '18-39' }, cell: { count: 57, perturbed: true } },
    { key: { ageBand: '40-64' }, cell: { count: 812, perturbed: true } },
    { key: { ageBand: '65-79' }, cell: { count: 365, perturbed: true } },
    { key: { ageBand: '80+' }, cell: { suppressed: true, range: [0, 9] } },
  ],
  measures: [{ type: 'count' }],
};

const init = JSON.parse(process.argv[2] ?? '{}') as NodeHostInit;
const hashes = new Map<number, string>();

function send(message: FromNodeHost): void {
  process.send?.(message);
}

function fail(res: ServerResponse, status: number, code: string): void {
  const body = JSON.stringify({ type: 'about:blank', title: code, status, code });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function handle(node: string, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  if (req.method !== 'POST' || req.url !== '/v1/evaluate') {
    req.resume();
    fail(res, 404, 'ERR_NOT_FOUND');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    let hash: string | undefined;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query?: unknown };
      const index = variantIndexOf(body.query);
      hash = index === undefined ? undefined : hashes.get(index);
    } catch {
      hash = undefined;
    }
    if (hash === undefined) {
      fail(res, 400, 'ERR_BENCH_UNKNOWN_VARIANT');
      return;
    }
    const queryHash = hash;
    setTimeout(() => {
      const elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
      const result: NodeResult = { node, queryHash, elapsedMs, ...TEMPLATE };
      const text = JSON.stringify(result);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'server-timing': `app;dur=${elapsedMs}`,
      });
      res.end(text);
    }, init.delayMs);
  });
}

// Without the parent (it exited or was killed) there is nothing left to do.
process.on('disconnect', () => process.exit(0));

const servers: Server[] = [];

async function start(): Promise<void> {
  const urls: Record<string, string> = {};
  for (const node of init.nodes) {
    const server = createServer((req, res) => handle(node, req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.push(server);
    urls[node] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  process.on('message', (message: ToNodeHost) => {
    if (message.type === 'variants') {
      message.hashes.forEach((hash, i) => hashes.set(message.from + i, hash));
      send({ type: 'variants-ok', upTo: message.from + message.hashes.length });
    } else {
      for (const server of servers) {
        server.close();
        server.closeAllConnections();
      }
      process.disconnect();
    }
  });
  send({ type: 'ready', urls });
}

await start();
