// The one way the gateway talks HTTP to its nodes: the fan-out's queries, the
// health probes and the catalogue fetches all go through here, so every call
// to a node gets the same three guarantees.
//
// - The node's URL is a base: a node at `https://host/region/x/` is asked at
//   `https://host/region/x/v1/evaluate`, `.../readyz` and `.../v1/catalogue`
//   (a reverse proxy may put several nodes under one host).
// - Every call has a deadline that covers the body too, and rejects with
//   NodeCallError 'NODE_DEADLINE' when it passes.
// - A body is read only up to a cap: a declared length over it is refused
//   unread, and a stream is destroyed as soon as it passes it, so at most the
//   cap plus one chunk is held whatever a node sends.
//
// Each node has one undici Pool with that node's own connection limit; tests
// may send everything through a dispatcher of their own instead.
import { Pool, type Dispatcher } from 'undici';

export interface NodeEndpoint {
  /** The node id, as in NodeResult.node and the node token's `aud`. */
  readonly id: string;
  /** Base URL; any path it has is kept in front of every request path. */
  readonly url: string;
  /** Connections kept to this node at most (its configured `connections`). */
  readonly connections: number;
}

export interface NodeClientOptions {
  readonly nodes: readonly NodeEndpoint[];
  /** Time to open one connection. */
  readonly connectTimeoutMs: number;
  /**
   * Sends every call through this dispatcher instead of the per-node pools
   * (tests). The caller owns it: close() leaves it open.
   */
  readonly dispatcher?: Dispatcher;
}

export interface NodeCall {
  readonly method: 'GET' | 'POST';
  /** Below the node's base URL; starts with `/`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The whole call, reading the body included, ends within this. */
  readonly timeoutMs: number;
  /** Largest body `text()` reads. */
  readonly maxBodyBytes: number;
  /** Cancels the call; it then rejects with whatever undici reports for an abort. */
  readonly signal?: AbortSignal;
}

export interface NodeResponse {
  readonly statusCode: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  /**
   * The body as UTF-8 text. Rejects with NodeCallError when it is over the
   * call's cap (or over `maxBytes`, when that is smaller) or is not UTF-8,
   * and with the stream's error when the connection fails.
   */
  text(maxBytes?: number): Promise<string>;
  /** Drops the body; a response must be read or discarded once. */
  discard(): Promise<void>;
}

/** What went wrong in a call, beyond what undici reports itself (connection errors keep their undici codes). */
export type NodeCallErrorCode =
  'NODE_DEADLINE' | 'NODE_BODY_TOO_LARGE' | 'NODE_BODY_NOT_UTF8' | 'NODE_BODY_NOT_JSON';

const MESSAGES: Readonly<Record<NodeCallErrorCode, string>> = {
  NODE_DEADLINE: 'the call did not end within its deadline',
  NODE_BODY_TOO_LARGE: 'the response body is larger than allowed',
  NODE_BODY_NOT_UTF8: 'the response body is not UTF-8',
  NODE_BODY_NOT_JSON: 'the response body is not JSON',
};

/** A call that failed for one of the client's own reasons; the message holds nothing the node sent. */
export class NodeCallError extends Error {
  readonly code: NodeCallErrorCode;
  readonly node: string;

  constructor(code: NodeCallErrorCode, node: string, options?: { cause?: unknown }) {
    super(`node ${node}: ${MESSAGES[code]}`, options);
    this.name = 'NodeCallError';
    this.code = code;
    this.node = node;
  }
}

export interface NodeClient {
  /** The configured node ids, in configuration order. */
  readonly nodeIds: readonly string[];
  /** Sends one request; rejects with RangeError for a node that is not configured. */
  request(node: string, call: NodeCall): Promise<NodeResponse>;
  /** GETs `path` and parses the body (whatever the status) as JSON; rejects like request and text, or with 'NODE_BODY_NOT_JSON'. */
  getJson(
    node: string,
    path: string,
    limits: Pick<NodeCall, 'timeoutMs' | 'maxBodyBytes' | 'signal'>,
  ): Promise<{ statusCode: number; body: unknown }>;
  /** Closes the pools it made; calls after this reject. */
  close(): Promise<void>;
}

const NODE_ID = /^[a-z][a-z0-9-]{0,62}$/;
/** undici's own timeouts, set behind the deadline as a backstop: when one fires, the deadline has passed. */
const UNDICI_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/**
 * How far behind the deadline undici's timeouts are set. undici runs them on
 * a coarse clock that may fire up to half a second early, which would cut a
 * node off before its deadline; the deadline itself is a plain timer.
 */
const UNDICI_TIMEOUT_SLACK_MS = 1_000;
/** A body nobody reads is drained up to this, to keep the connection; beyond it the connection is dropped. */
const DISCARD_LIMIT_BYTES = 64 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Target {
  readonly origin: string;
  /** The URL's path without its trailing slashes: '' for a node at the root. */
  readonly basePath: string;
  readonly dispatcher: Dispatcher;
}

/**
 * Creates the client; its options are checked here and a bad one throws naming it.
 * @example
 * const nodes = createNodeClient({ connectTimeoutMs: 10_000,
 *   nodes: [{ id: 'lombardia', url: 'https://lombardia.example/tessera/', connections: 8 }] });
 * const { statusCode, body } = await nodes.getJson('lombardia', '/readyz', { timeoutMs: 2_000, maxBodyBytes: 16_384 });
 */
export function createNodeClient(options: NodeClientOptions): NodeClient {
  const { connectTimeoutMs } = options;
  if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw new RangeError('node client: connectTimeoutMs must be a number above 0');
  }
  const owned: Pool[] = [];
  const targets = new Map<string, Target>();
  for (const [i, node] of options.nodes.entries()) {
    const url = checkEndpoint(node, i, targets);
    let dispatcher = options.dispatcher;
    if (dispatcher === undefined) {
      const pool = new Pool(url.origin, {
        connections: node.connections,
        pipelining: 1,
        connect: { timeout: connectTimeoutMs },
      });
      owned.push(pool);
      dispatcher = pool;
    }
    targets.set(node.id, {
      origin: url.origin,
      basePath: url.pathname.replace(/\/+$/, ''),
      dispatcher,
    });
  }

  async function request(nodeId: string, call: NodeCall): Promise<NodeResponse> {
    const target = targets.get(nodeId);
    if (target === undefined) throw new RangeError(`node client: unknown node "${nodeId}"`);
    checkCall(call);

    const controller = new AbortController();
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      controller.abort();
    }, call.timeoutMs);
    const onCancel = (): void => controller.abort();
    call.signal?.addEventListener('abort', onCancel, { once: true });
    if (call.signal?.aborted === true) controller.abort();
    const release = (): void => {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onCancel);
    };
    const failure = (err: unknown): unknown => {
      if (err instanceof NodeCallError) return err;
      const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
      return expired || (typeof code === 'string' && UNDICI_TIMEOUTS.has(code))
        ? new NodeCallError('NODE_DEADLINE', nodeId, { cause: err })
        : err;
    };

    let response: Dispatcher.ResponseData;
    try {
      response = await target.dispatcher.request({
        origin: target.origin,
        path: `${target.basePath}${call.path}`,
        method: call.method,
        headers: { ...call.headers },
        body: call.body ?? null,
        signal: controller.signal,
        // Backstops behind the deadline above, which is the one that counts.
        headersTimeout: call.timeoutMs + UNDICI_TIMEOUT_SLACK_MS,
        bodyTimeout: call.timeoutMs + UNDICI_TIMEOUT_SLACK_MS,
      });
    } catch (err) {
      release();
      throw failure(err);
    }

    const { statusCode, headers, body } = response;
    let consumed = false;
    // The deadline holds until the body is read or dropped, not just until the headers.
    async function consume<T>(read: () => Promise<T>): Promise<T> {
      if (consumed) throw new Error('node client: a response body is read once');
      consumed = true;
      try {
        return await read();
      } catch (err) {
        throw failure(err);
      } finally {
        release();
      }
    }
    return {
      statusCode,
      headers,
      text: (maxBytes = call.maxBodyBytes) =>
        consume(() => readText(body, headers, Math.min(maxBytes, call.maxBodyBytes), nodeId)),
      discard: () => consume(() => discard(body)),
    };
  }

  return {
    nodeIds: [...targets.keys()],
    request,
    async getJson(nodeId, path, limits) {
      const response = await request(nodeId, {
        method: 'GET',
        path,
        headers: { accept: 'application/json' },
        ...limits,
      });
      const text = await response.text();
      try {
        return { statusCode: response.statusCode, body: JSON.parse(text) as unknown };
      } catch (err) {
        throw new NodeCallError('NODE_BODY_NOT_JSON', nodeId, { cause: err });
      }
    },
    async close() {
      await Promise.all(owned.map((pool) => pool.close()));
    },
  };
}

async function readText(
  body: Dispatcher.ResponseData['body'],
  headers: Dispatcher.ResponseData['headers'],
  maxBytes: number,
  node: string,
): Promise<string> {
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    drop(body);
    throw new NodeCallError('NODE_BODY_TOO_LARGE', node);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      drop(body);
      throw new NodeCallError('NODE_BODY_TOO_LARGE', node);
    }
    chunks.push(chunk);
  }
  try {
    return utf8.decode(Buffer.concat(chunks, size));
  } catch (err) {
    throw new NodeCallError('NODE_BODY_NOT_UTF8', node, { cause: err });
  }
}

/** Stops reading and closes the connection. */
function drop(body: Dispatcher.ResponseData['body']): void {
  // undici reports a body destroyed before its end as an 'error' event; with
  // no one listening that would be an uncaught exception.
  body.on('error', () => undefined);
  body.destroy();
}

async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  try {
    await body.dump({ limit: DISCARD_LIMIT_BYTES });
  } catch {
    // The connection is gone either way; nothing from it is kept.
  }
}

function checkEndpoint(node: NodeEndpoint, i: number, seen: ReadonlyMap<string, unknown>): URL {
  if (!NODE_ID.test(node.id)) {
    throw new RangeError(`node client: nodes[${i}].id is not a valid node id`);
  }
  if (seen.has(node.id)) {
    throw new RangeError(`node client: nodes[${i}].id "${node.id}" is listed twice`);
  }
  let url: URL;
  try {
    url = new URL(node.url);
  } catch {
    throw new RangeError(`node client: nodes[${i}].url is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(`node client: nodes[${i}].url must be http or https`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new RangeError(
      `node client: nodes[${i}].url must not carry credentials, a query or a fragment`,
    );
  }
  const { connections } = node;
  if (!Number.isInteger(connections) || connections < 1 || connections > 1024) {
    throw new RangeError(`node client: nodes[${i}].connections must be an integer from 1 to 1024`);
  }
  return url;
}

function checkCall(call: NodeCall): void {
  if (!call.path.startsWith('/')) throw new RangeError('node client: a path starts with "/"');
  // Timers hold at most 2^31 - 1 ms, undici's backstops included.
  const longest = 2 ** 31 - 1 - UNDICI_TIMEOUT_SLACK_MS;
  if (!Number.isFinite(call.timeoutMs) || call.timeoutMs <= 0 || call.timeoutMs > longest) {
    throw new RangeError('node client: timeoutMs must be a number above 0');
  }
  if (!Number.isSafeInteger(call.maxBodyBytes) || call.maxBodyBytes < 0) {
    throw new RangeError('node client: maxBodyBytes must be an integer >= 0');
  }
}
