// A stand-in node for the node client's, the registry's and the catalogue's
// tests: a real HTTP server on 127.0.0.1, answering through a handler the
// test can swap, recording the paths asked and the connections opened.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach } from 'vitest';
import type { CatalogueEntry, NodeResult } from '@tessera/schemas';
import { configDefaults } from '@tessera/schemas/testing';
import {
  type NodeClient,
  type NodeClientOptions,
  type NodeEndpoint,
  createNodeClient,
} from '../../src/nodes/node-client.ts';

export type TestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestNodeServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  /** Request paths in arrival order, query strings included. */
  readonly paths: string[];
  /** TCP connections accepted so far. */
  connections(): number;
  handler: TestHandler;
  close(): Promise<void>;
}

/** Starts a server; close it in the test's cleanup. */
export async function startTestNodeServer(handler: TestHandler): Promise<TestNodeServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((req, res) => {
    node.paths.push(req.url ?? '');
    node.handler(req, res);
  });
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const node: TestNodeServer = {
    url: `http://127.0.0.1:${port}`,
    paths: [],
    connections: () => accepted,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return node;
}

/**
 * Node client options as a test gives them: a node's `connections` and the
 * connect timeout may be left out, and are then the configuration's defaults.
 */
export interface TestClientOptions extends Omit<NodeClientOptions, 'nodes' | 'connectTimeoutMs'> {
  readonly nodes: readonly (Omit<NodeEndpoint, 'connections'> & {
    readonly connections?: number;
  })[];
  readonly connectTimeoutMs?: number;
}

/** What a gateway configured with nothing but its nodes gives its node client. */
const DEFAULTS = configDefaults('gateway-config');

/** The node client a gateway with a default configuration would make for these nodes. */
export function testNodeClient(options: TestClientOptions): NodeClient {
  return createNodeClient({
    ...options,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.fanout.perNodeDeadlineMs,
    nodes: options.nodes.map((n) => ({ connections: DEFAULTS.nodes[0].connections, ...n })),
  });
}

/**
 * Stand-in nodes and node clients for the tests of one file, all closed
 * after each test.
 * @example const { start, client } = useTestNodes(); const alpha = await start(handler);
 *   const nodes = client({ nodes: [{ id: 'alpha', url: alpha.url }] });
 */
export function useTestNodes(): {
  readonly start: (handler: TestHandler) => Promise<TestNodeServer>;
  readonly client: (options: TestClientOptions) => NodeClient;
} {
  const servers: TestNodeServer[] = [];
  const clients: NodeClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return {
    async start(handler) {
      const server = await startTestNodeServer(handler);
      servers.push(server);
      return server;
    },
    client(options) {
      const client = testNodeClient(options);
      clients.push(client);
      return client;
    },
  };
}

/**
 * Answers with `body` as JSON, its length declared unless `chunked`: a
 * chunked body can be refused only by a reader that counts what it reads.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  { chunked = false }: { readonly chunked?: boolean } = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    ...(chunked ? {} : { 'content-length': Buffer.byteLength(text) }),
  });
  res.end(text);
}

/** A valid catalogue entry for node `id`, as its /v1/catalogue would answer. */
export function catalogueEntryOf(id: string): CatalogueEntry {
  return {
    node: id,
    title: `${id} node`,
    description: 'Synthetic patients',
    publisher: { name: 'Regional health service' },
    spatial: 'IT-25',
    accessRights: 'RESTRICTED',
    dataVersion: 'v1',
    numberOfUniqueIndividuals: 300,
    hasCodingSystem: ['http://hl7.org/fhir/sid/icd-10'],
  };
}

/** A valid answer of node `id` to the query `queryHash`, as its /v1/evaluate would give. */
export function nodeResultOf(
  id: string,
  queryHash: string,
  fields: Partial<NodeResult> = {},
): NodeResult {
  return {
    node: id,
    queryHash,
    dataVersion: 'v1',
    evaluatedAt: '2026-11-20T10:00:00Z',
    elapsedMs: 3,
    disclosure: { threshold: 10, mechanism: 'cell-key', maxNoise: 2, rounding: 1 },
    total: { count: 42, perturbed: true },
    strata: [],
    measures: [{ type: 'count' }],
    ...fields,
  };
}
