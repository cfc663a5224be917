// Fan-out: one query sent to many nodes, each node's fate returned as data.
//
// Every node has its own connection pool (in the node client), its own
// circuit breaker, its own deadline and its own limit of calls in flight, so a
// slow, dead or hung node costs only its own outcome: once a hung node holds
// all its places, queries that include it get it as `unavailable` at once and
// the other nodes' answers as usual (threat 58). How many queries the gateway
// runs in all is decided before the fan-out, at submission (jobs/admission.ts).
// A node call ends as one NodeOutcome:
//
// | what happened                                         | status      | retried |
// | ----------------------------------------------------- | ----------- | ------- |
// | 200 with a body that is a valid NodeResult for us     | ok          |         |
// | connection refused / unreachable / connect timeout    | unavailable | yes     |
// | 502, 503, 504                                         | unavailable | yes     |
// | connection reset or closed after the request went out | unavailable | no      |
// | circuit open (attempts: 0)                            | unavailable | no      |
// | node's calls in flight at its limit (ERR_NODE_BUSY,   | unavailable | no      |
// |   attempts: 0)                                        |             |         |
// | per-node or query deadline passed                     | timeout     | no      |
// | 4xx (problem code kept if the node catalogue has it,  | refused     | no      |
// |   else ERR_NODE_REFUSED)                              |             |         |
// | 500, other status, bad JSON, wrong schema, too large, | error       | no      |
// |   a table of another shape than the query asks for    |             |         |
// | the caller's signal aborted, or close()               | cancelled   | no      |
//
// Only failures where the node cannot have evaluated the query are retried: a
// node may charge a privacy budget per evaluation, so a request that may have
// reached it is never sent twice. Nothing a node sends is kept in an outcome
// except a validated NodeResult of the query's shape (shape.ts) or a problem
// code of the node catalogue the gateway knows (NODE_REFUSAL_CODES).
import { setMaxListeners } from 'node:events';
import { errors } from 'undici';
import { acceptTraceparent, isRequestId } from '@tessera/http-kit';
import {
  type Cell,
  type CohortQuery,
  type NodeOutcome,
  type NodeResult,
  isValid,
} from '@tessera/schemas';
import { NODE_REFUSAL_CODES, gatewayProblem } from '../errors.ts';
import { NodeCallError, type NodeClient, type NodeResponse } from '../nodes/node-client.ts';
import {
  createCircuitBreaker,
  type BreakerOptions,
  type CircuitBreaker,
  type CircuitState,
  type Permit,
} from './breaker.ts';
import { createRetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
import { type ResultShape, fitsShape, resultShape } from './shape.ts';

/** On whose behalf a query is asked: each node token names the researcher and the project. */
export interface FanoutCaller {
  readonly sub: string;
  readonly project: string;
}

/** Hooks for metrics; each is optional and must not throw. */
export interface FanoutMetrics {
  /** An HTTP attempt to a node is about to go out (1 for the first). */
  attempt?(node: string, attempt: number): void;
  retry?(node: string): void;
  /** A node call ended; elapsedMs and status are in the outcome. */
  outcome?(outcome: NodeOutcome): void;
  circuit?(node: string, state: CircuitState): void;
  /** Calls in flight to a node changed. */
  nodeInFlight?(node: string, count: number): void;
}

export interface FanoutOptions {
  /** Reaches the nodes; every node it knows can be asked. Its owner closes it. */
  readonly client: NodeClient;
  /** Time one node gets, retries included. */
  readonly perNodeDeadlineMs: number;
  /** Time the whole fan-out gets; caps every node's deadline. */
  readonly queryDeadlineMs: number;
  /** Attempts per node call, the first included: 1 to 3. */
  readonly maxAttempts: number;
  /** Shared by all nodes. */
  readonly retryBudget: RetryBudgetOptions;
  /** Full-jitter exponential backoff between attempts. */
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  /** Per node. */
  readonly breaker: Pick<BreakerOptions, 'failureThreshold' | 'openMs'>;
  /**
   * Calls in flight to each node at most, by node id (every node the client
   * knows); a query finding its node at the limit gets it `unavailable`
   * (ERR_NODE_BUSY) without a call.
   */
  readonly maxConcurrentPerNode: Readonly<Record<string, number>>;
  /** Largest node response accepted. */
  readonly maxResponseBytes: number;
  /**
   * Returns the bearer token for this node, these exact body bytes and this
   * caller. Called for every attempt, so no token is ever sent twice.
   */
  readonly signRequest: (
    nodeId: string,
    body: string,
    caller: FanoutCaller,
  ) => string | Promise<string>;
  readonly metrics?: FanoutMetrics;
  /** Milliseconds; used for deadlines, latencies and the breakers. Default Date.now. */
  readonly now?: () => number;
  /** In [0, 1); used for backoff jitter. Default Math.random. */
  readonly random?: () => number;
}

export interface FanoutQuery {
  /**
   * The request body; serialised once, and those bytes are signed and sent.
   * Every answer must have the shape of the table `query` asks for.
   */
  readonly body: {
    readonly query: CohortQuery;
    readonly requestId: string;
  };
  /** Node ids to ask; each must be one of the configured nodes. */
  readonly nodes: readonly string[];
  readonly requestId: string;
  /** Handed to signRequest unchanged. */
  readonly caller: FanoutCaller;
  /** W3C trace context; passed on only when well-formed. */
  readonly traceparent?: string;
  /** When given, an answer carrying another query hash is an error. */
  readonly queryHash?: string;
  /** Told of each node's outcome as soon as it is known. */
  readonly onNodeOutcome?: (outcome: NodeOutcome) => void;
  readonly signal?: AbortSignal;
}

export interface NodeState {
  readonly id: string;
  readonly circuit: CircuitState;
  /** Duration of the last call that reached a verdict; null before the first. */
  readonly lastLatencyMs: number | null;
  readonly consecutiveFailures: number;
}

export interface Fanout {
  /**
   * Asks every listed node; resolves with one outcome per distinct node, in
   * the order given, within the query deadline. Rejects only with 503
   * ERR_OVERLOADED once the fan-out is closed, or for a caller error
   * (unknown node, bad requestId, body that cannot be serialised).
   */
  run(query: FanoutQuery): Promise<NodeOutcome[]>;
  nodeStates(): NodeState[];
  /** Cancels running queries and refuses new ones (the node client is closed by its owner). */
  close(): Promise<void>;
}

const PROBLEM_CODE = /^ERR_[A-Z0-9_]{1,60}$/;
const TOKEN = /^[A-Za-z0-9._~+/=-]{1,8192}$/;
/** Problem bodies are small; a refusal larger than this keeps no code. */
const PROBLEM_MAX_BYTES = 16 * 1024;
/** A retry is not started with less time than this left. */
const MIN_ATTEMPT_MS = 20;
const RETRYABLE_STATUS = new Set([502, 503, 504]);
/** Errors raised before the request could reach the node. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** How one attempt ended, and what it says about the node's health. */
interface Verdict {
  readonly status: NodeOutcome['status'];
  readonly code?: string;
  readonly result?: NodeResult;
  /** The node cannot have evaluated the query, so it may be asked again. */
  readonly retryable?: boolean;
  readonly health: 'good' | 'bad' | 'none';
}

const TIMEOUT: Verdict = { status: 'timeout', health: 'bad' };
const CANCELLED: Verdict = { status: 'cancelled', health: 'none' };
const NODE_ERROR: Verdict = { status: 'error', health: 'bad' };
/** Our side failed (signing): no verdict on the node. */
const LOCAL_ERROR: Verdict = { status: 'error', health: 'none' };
const CUT_OFF: Verdict = { status: 'unavailable', health: 'bad' };
const UNREACHABLE: Verdict = { status: 'unavailable', retryable: true, health: 'bad' };

interface NodeEntry {
  readonly id: string;
  readonly breaker: CircuitBreaker;
  /** Calls in flight to this node at most. */
  readonly limit: number;
  inFlight: number;
  lastLatencyMs: number | null;
}

interface RunContext {
  readonly bodyText: string;
  readonly requestId: string;
  readonly caller: FanoutCaller;
  readonly traceparent: string | undefined;
  readonly queryHash: string | undefined;
  readonly shape: ResultShape;
  readonly deadline: number;
  readonly signal: AbortSignal;
}

/**
 * Creates the fan-out; options are checked here and a bad one throws naming it.
 * Every limit is required: the gateway passes its configuration's `fanout`
 * (defaults filled in by the schema), tests pass their own.
 * @example
 * const client = createNodeClient({ connectTimeoutMs: 10_000,
 *   nodes: [{ id: 'lombardia', url: 'http://10.0.0.5:8080', connections: 8 }] });
 * const fanout = createFanout({ client,
 *   perNodeDeadlineMs: 10_000, queryDeadlineMs: 15_000, maxConcurrentPerNode: { lombardia: 64 },
 *   maxAttempts: 3, retryBudget: { ratio: 0.1, reserve: 10 }, backoff: { baseMs: 50, maxMs: 1000 },
 *   breaker: { failureThreshold: 5, openMs: 30_000 }, maxResponseBytes: 1_048_576,
 *   signRequest: (node, body, { sub, project }) => signer.sign({ aud: node, sub, project, body }) });
 * const outcomes = await fanout.run({ body: { query, requestId }, nodes: ['lombardia'], requestId,
 *   caller: { sub: 'researcher-1', project: 'diabetes-2026' } });
 */
export function createFanout(options: FanoutOptions): Fanout {
  const config = checkOptions(options);
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const metrics = options.metrics ?? {};
  const budget = createRetryBudget(options.retryBudget);

  const { client } = options;
  const nodes = new Map<string, NodeEntry>();
  for (const id of client.nodeIds) {
    nodes.set(id, {
      id,
      limit: nodeLimit(options.maxConcurrentPerNode, id),
      inFlight: 0,
      breaker: createCircuitBreaker({
        ...options.breaker,
        now,
        onChange: (state) => metrics.circuit?.(id, state),
      }),
      lastLatencyMs: null,
    });
  }

  let closing: Promise<void> | undefined;
  const running = new Set<AbortController>();

  function backoffMs(attempt: number): number {
    return random() * Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** (attempt - 1));
  }

  async function callNode(node: NodeEntry, run: RunContext): Promise<NodeOutcome> {
    const started = now();
    const deadline = Math.min(started + config.perNodeDeadlineMs, run.deadline);
    if (run.signal.aborted)
      return { node: node.id, status: 'cancelled', elapsedMs: 0, attempts: 0 };
    // A node at its limit is busy, not failing: no call, and no mark against its circuit.
    if (node.inFlight >= node.limit) {
      return {
        node: node.id,
        status: 'unavailable',
        code: 'ERR_NODE_BUSY',
        elapsedMs: 0,
        attempts: 0,
      };
    }
    const permit = node.breaker.acquire();
    if (permit === 'reject')
      return { node: node.id, status: 'unavailable', elapsedMs: 0, attempts: 0 };
    node.inFlight += 1;
    metrics.nodeInFlight?.(node.id, node.inFlight);
    // A probe is one request: it asks whether the node is back, not for retries.
    const limit = permit === 'probe' ? 1 : config.maxAttempts;
    budget.deposit();
    let attempts = 0;
    let verdict: Verdict = LOCAL_ERROR;
    let elapsedMs = 0;
    try {
      for (;;) {
        attempts += 1;
        metrics.attempt?.(node.id, attempts);
        verdict = await attempt(node, run, deadline);
        if (verdict.retryable !== true || attempts >= limit) break;
        const delay = backoffMs(attempts);
        if (now() + delay > deadline - MIN_ATTEMPT_MS || !budget.withdraw()) break;
        metrics.retry?.(node.id);
        if (!(await sleep(delay, run.signal))) {
          verdict = CANCELLED;
          break;
        }
      }
    } finally {
      elapsedMs = now() - started;
      node.inFlight -= 1;
      metrics.nodeInFlight?.(node.id, node.inFlight);
      settle(node, permit, verdict, elapsedMs);
    }
    return {
      node: node.id,
      status: verdict.status,
      ...(verdict.code === undefined ? {} : { code: verdict.code }),
      elapsedMs,
      attempts,
      ...(verdict.result === undefined ? {} : { result: verdict.result }),
    };
  }

  function settle(node: NodeEntry, permit: Permit, verdict: Verdict, elapsedMs: number): void {
    switch (verdict.health) {
      case 'good':
        node.lastLatencyMs = elapsedMs;
        node.breaker.success();
        break;
      case 'bad':
        node.lastLatencyMs = elapsedMs;
        node.breaker.failure();
        break;
      case 'none':
        node.breaker.release(permit);
        break;
    }
  }

  async function attempt(node: NodeEntry, run: RunContext, deadline: number): Promise<Verdict> {
    const remaining = deadline - now();
    if (run.signal.aborted) return CANCELLED;
    if (remaining <= 0) return TIMEOUT;
    const controller = new AbortController();
    let cause: 'deadline' | 'cancelled' | undefined;
    const timer = setTimeout(() => {
      cause ??= 'deadline';
      controller.abort();
    }, remaining);
    const onCancel = (): void => {
      cause ??= 'cancelled';
      controller.abort();
    };
    run.signal.addEventListener('abort', onCancel, { once: true });
    const interrupted = (): Verdict => (cause === 'cancelled' ? CANCELLED : TIMEOUT);
    try {
      let token: string;
      try {
        token = await untilAborted(
          Promise.resolve().then(() => options.signRequest(node.id, run.bodyText, run.caller)),
          controller.signal,
        );
      } catch {
        return cause === undefined ? LOCAL_ERROR : interrupted();
      }
      if (!TOKEN.test(token)) return LOCAL_ERROR;
      // The client's deadline is this attempt's; the timer above also covers signing.
      const response = await client.request(node.id, {
        path: '/v1/evaluate',
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, application/problem+json',
          'x-request-id': run.requestId,
          'x-tessera-deadline-ms': String(Math.max(1, Math.floor(deadline - now()))),
          ...(run.traceparent === undefined ? {} : { traceparent: run.traceparent }),
        },
        body: run.bodyText,
        signal: controller.signal,
        timeoutMs: Math.max(1, deadline - now()),
        maxBodyBytes: config.maxResponseBytes,
      });
      return await judge(response, node, run);
    } catch (err) {
      if (cause !== undefined) return interrupted();
      return classifyError(err);
    } finally {
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onCancel);
    }
  }

  async function judge(response: NodeResponse, node: NodeEntry, run: RunContext): Promise<Verdict> {
    const { statusCode } = response;
    if (statusCode === 200) {
      const text = await bodyText(response);
      const result = text === undefined ? undefined : parseNodeResult(text, node.id, run);
      return result === undefined ? NODE_ERROR : { status: 'ok', result, health: 'good' };
    }
    if (statusCode >= 400 && statusCode < 500) {
      const text = await bodyText(response, PROBLEM_MAX_BYTES);
      const code = text === undefined ? undefined : problemCode(text);
      // A refusal is a healthy node saying no: it does not count against the circuit.
      return { status: 'refused', ...(code === undefined ? {} : { code }), health: 'good' };
    }
    await response.discard();
    return RETRYABLE_STATUS.has(statusCode) ? UNREACHABLE : NODE_ERROR;
  }

  return {
    async run(query) {
      if (closing !== undefined) throw gatewayProblem('ERR_OVERLOADED', { retryAfter: 1 });
      const entries = [...new Set(query.nodes)].map((id) => {
        const entry = nodes.get(id);
        if (entry === undefined) throw new RangeError(`fanout: unknown node "${id}"`);
        return entry;
      });
      if (!isRequestId(query.requestId)) {
        throw new TypeError('fanout: requestId must be 1-128 of A-Z a-z 0-9 . _ : -');
      }
      const bodyText = JSON.stringify(query.body);
      if (typeof bodyText !== 'string') throw new TypeError('fanout: body must be a JSON object');
      const shape = resultShape(query.body.query);

      const controller = new AbortController();
      // Every node call listens on the query's signal (and a retry's wait
      // too): a wide fan-out is not a listener leak.
      setMaxListeners(2 * entries.length + 10, controller.signal);
      const onAbort = (): void => controller.abort();
      query.signal?.addEventListener('abort', onAbort, { once: true });
      if (query.signal?.aborted === true) controller.abort();
      running.add(controller);
      const run: RunContext = {
        bodyText,
        requestId: query.requestId,
        caller: query.caller,
        traceparent: acceptTraceparent(query.traceparent),
        queryHash: query.queryHash,
        shape,
        deadline: now() + config.queryDeadlineMs,
        signal: controller.signal,
      };
      try {
        return await Promise.all(
          entries.map(async (entry) => {
            const outcome = await callNode(entry, run);
            metrics.outcome?.(outcome);
            try {
              query.onNodeOutcome?.(outcome);
            } catch {
              // A failing listener must not cost the other nodes' outcomes.
            }
            return outcome;
          }),
        );
      } finally {
        running.delete(controller);
        query.signal?.removeEventListener('abort', onAbort);
      }
    },

    nodeStates() {
      return [...nodes.values()].map((n) => ({
        id: n.id,
        circuit: n.breaker.state(),
        lastLatencyMs: n.lastLatencyMs,
        consecutiveFailures: n.breaker.consecutiveFailures(),
      }));
    },

    close() {
      if (closing === undefined) {
        for (const c of running) c.abort();
        closing = Promise.resolve();
      }
      return closing;
    },
  };
}

/**
 * The body as text, or undefined when the node sent too much or not UTF-8
 * (its answer is then broken, whatever it says). Other failures, a cut
 * connection or the deadline, reject: they are the call's fate, not the body's.
 */
async function bodyText(response: NodeResponse, maxBytes?: number): Promise<string | undefined> {
  try {
    return await response.text(maxBytes);
  } catch (err) {
    if (
      err instanceof NodeCallError &&
      (err.code === 'NODE_BODY_TOO_LARGE' || err.code === 'NODE_BODY_NOT_UTF8')
    ) {
      return undefined;
    }
    throw err;
  }
}

/**
 * The body as a NodeResult for this node and query, or undefined. Beyond the
 * schema (which already refuses extra keys, negative and fractional counts),
 * a node must name itself, answer the table the query asks for (its strata
 * and measures) and order every suppressed range.
 */
function parseNodeResult(
  text: string,
  nodeId: string,
  { queryHash, shape }: Pick<RunContext, 'queryHash' | 'shape'>,
): NodeResult | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isValid('node-result', parsed)) return undefined;
  if (parsed.node !== nodeId) return undefined;
  if (queryHash !== undefined && parsed.queryHash !== queryHash) return undefined;
  if (!fitsShape(parsed, shape)) return undefined;
  return cellsOf(parsed).every((c) => !('suppressed' in c) || c.range[0] <= c.range[1])
    ? parsed
    : undefined;
}

function cellsOf(result: NodeResult): Cell[] {
  const cells: Cell[] = [result.total, ...result.strata.map((s) => s.cell)];
  for (const m of result.measures) {
    if (m.type === 'histogram') cells.push(...m.bins.map((b) => b.cell), m.missing);
    if (m.type === 'summary') cells.push(m.n);
  }
  return cells;
}

/**
 * The problem's `code` when the node catalogue the gateway knows has it;
 * ERR_NODE_REFUSED for any other code a node sends, which might carry
 * anything (`ERR_PATIENT_4711_HIV_POSITIVE`); undefined when there is no
 * well-formed code at all. No other upstream text survives.
 */
function problemCode(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || !('code' in parsed)) return undefined;
    const { code } = parsed;
    if (typeof code !== 'string' || !PROBLEM_CODE.test(code)) return undefined;
    return NODE_REFUSAL_CODES.has(code) ? code : 'ERR_NODE_REFUSED';
  } catch {
    return undefined;
  }
}

function classifyError(err: unknown): Verdict {
  const code =
    typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
      ? err.code
      : '';
  if (CONNECT_ERRORS.has(code)) return UNREACHABLE;
  if (code === 'NODE_DEADLINE') return TIMEOUT;
  if (err instanceof errors.HTTPParserError || code === 'UND_ERR_HEADERS_OVERFLOW') {
    return NODE_ERROR;
  }
  // Reset, closed socket, length mismatch: the request may have reached the
  // node, so the call is over, but the node is still the one that failed.
  return CUT_OFF;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

interface Config {
  readonly perNodeDeadlineMs: number;
  readonly queryDeadlineMs: number;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly maxResponseBytes: number;
}

function checkOptions(options: FanoutOptions): Config {
  const config: Config = {
    perNodeDeadlineMs: options.perNodeDeadlineMs,
    queryDeadlineMs: options.queryDeadlineMs,
    maxAttempts: options.maxAttempts,
    backoffBaseMs: options.backoff.baseMs,
    backoffMaxMs: options.backoff.maxMs,
    maxResponseBytes: options.maxResponseBytes,
  };
  // Timers hold at most 2^31 - 1 ms; an hour is far beyond any sane deadline.
  const positive = (key: keyof Config, max = 3_600_000): void => {
    const v = config[key];
    if (!Number.isFinite(v) || v <= 0 || v > max) {
      throw new RangeError(`fanout: ${key} must be a number above 0 and at most ${max}`);
    }
  };
  const integer = (key: keyof Config, max = Number.MAX_SAFE_INTEGER): void => {
    const v = config[key];
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw new RangeError(`fanout: ${key} must be an integer from 1 to ${max}`);
    }
  };
  positive('perNodeDeadlineMs');
  positive('queryDeadlineMs');
  positive('backoffBaseMs');
  positive('backoffMaxMs');
  integer('maxAttempts', 3);
  integer('maxResponseBytes');
  if (typeof options.signRequest !== 'function') {
    throw new TypeError('fanout: signRequest must be a function');
  }
  return Object.freeze(config);
}

/** A node's limit of calls in flight, checked like every other option. */
function nodeLimit(limits: Readonly<Record<string, number>>, id: string): number {
  const limit = Object.hasOwn(limits, id) ? limits[id] : undefined;
  if (limit === undefined || !Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`fanout: maxConcurrentPerNode.${id} must be an integer of at least 1`);
  }
  return limit;
}
