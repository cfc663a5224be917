// The gateway benchmark's load generator, a child process of its own so that
// it does not share the gateway's event loop. Open loop: request k of a step
// leaves at start + k / rate whatever became of the earlier ones, and its
// latency runs from the moment it left to the moment its whole answer was
// read. Two modes at the same rates:
//
// - gateway: POST /v1/queries with `Prefer: wait=<s>`, one variant per request;
//   an answer counts when it is a finished job whose merged result is complete,
//   carries the variant's hash and every node's outcome is ok. Its added
//   latency is the latency minus the slowest node's own time (`elapsedMs` of
//   the node results the merged answer keeps).
// - bare: the floor. The same POST /v1/evaluate calls to every node straight
//   from here with undici (no token, no validation, no merge, no state); the
//   answer is complete when every node answered 200, and the node's own time
//   comes from its Server-Timing header.
//
// Started by tests/bench/gateway.ts with a LoadInit as JSON in argv[2]; a
// `gateway` message names the gateway the gateway steps go to.
import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type {
  FromLoad,
  LoadInit,
  LoadVariants,
  Mode,
  StepRaw,
  StepRequest,
  ToLoad,
} from './protocol.ts';
import { variantQuery } from './variants.ts';

const init = JSON.parse(process.argv[2] ?? '{}') as LoadInit;

/** How long a step waits for its last answers; an overloaded step waits less. */
const DRAIN_MS = (init.waitSec + 2) * 1000;
const OVERLOADED_DRAIN_MS = 3000;

const hashes: string[] = [];
const nodeQueries: string[] = [];

/** The pool to the gateway under test; each store's gateway is a process of its own. */
let gateway: Pool | undefined;

async function pointAt(url: string): Promise<void> {
  const previous = gateway;
  gateway = new Pool(url, { connections: init.gatewayConnections, pipelining: 1 });
  // Nothing is in flight between steps; the old gateway may already be gone.
  await previous?.destroy();
  send({ type: 'gateway-ok', url });
}
const nodePools = init.nodes.map(
  (n) => new Pool(n.url, { connections: init.connectionsPerNode, pipelining: 1 }),
);

function send(message: FromLoad): void {
  process.send?.(message);
}

interface Outcome {
  readonly error?: string;
  /** The slowest node's own time. */
  readonly nodeMs?: number;
}

function problemOrStatus(statusCode: number, text: string): string {
  try {
    const parsed = JSON.parse(text) as { code?: unknown };
    if (typeof parsed.code === 'string') return `http ${statusCode} ${parsed.code}`;
  } catch {
    // not JSON: the status alone
  }
  return `http ${statusCode}`;
}

interface JobAnswer {
  readonly status?: string;
  readonly error?: string;
  readonly result?: {
    readonly complete?: boolean;
    readonly queryHash?: string;
    readonly nodes?: readonly {
      readonly status?: string;
      readonly result?: { readonly elapsedMs?: number };
    }[];
  };
}

function judgeJob(text: string, hash: string | undefined): Outcome {
  const job = JSON.parse(text) as JobAnswer;
  if (job.status !== 'done') return { error: `job ${job.status ?? '?'} ${job.error ?? ''}`.trim() };
  const result = job.result;
  if (result === undefined) return { error: 'no result' };
  if (result.queryHash !== hash) return { error: 'query hash differs' };
  const nodes = result.nodes ?? [];
  if (nodes.length !== init.nodes.length) return { error: 'node count differs' };
  let nodeMs = 0;
  for (const node of nodes) {
    if (node.status !== 'ok') return { error: `node ${node.status ?? '?'}` };
    nodeMs = Math.max(nodeMs, node.result?.elapsedMs ?? Number.NaN);
  }
  if (result.complete !== true) return { error: 'incomplete' };
  if (!Number.isFinite(nodeMs)) return { error: 'node time missing' };
  return { nodeMs };
}

async function viaGateway(variant: number, body: string, signal: AbortSignal): Promise<Outcome> {
  if (gateway === undefined) throw new Error('load: no gateway to send to');
  const response = await gateway.request({
    path: '/v1/queries',
    method: 'POST',
    headers: {
      authorization: `Bearer ${init.token}`,
      'content-type': 'application/json',
      prefer: `wait=${init.waitSec}`,
      'x-tessera-project': init.project,
    },
    body,
    signal,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) return { error: problemOrStatus(response.statusCode, text) };
  return judgeJob(text, hashes[variant]);
}

const SERVER_TIMING = /(?:^|,)\s*app;dur=([0-9.]+)/;

function serverTiming(headers: Dispatcher.ResponseData['headers']): number {
  const value = headers['server-timing'];
  const match = SERVER_TIMING.exec(Array.isArray(value) ? value.join(',') : (value ?? ''));
  return match ? Number(match[1]) : Number.NaN;
}

async function bare(body: string, signal: AbortSignal): Promise<Outcome> {
  const answers = await Promise.all(
    nodePools.map(async (pool) => {
      const response = await pool.request({
        path: '/v1/evaluate',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal,
      });
      const text = await response.body.text();
      return response.statusCode === 200
        ? { nodeMs: serverTiming(response.headers) }
        : { error: problemOrStatus(response.statusCode, text) };
    }),
  );
  let nodeMs = 0;
  for (const answer of answers) {
    if (answer.error !== undefined) return { error: answer.error };
    nodeMs = Math.max(nodeMs, answer.nodeMs ?? Number.NaN);
  }
  return Number.isFinite(nodeMs) ? { nodeMs } : { error: 'node time missing' };
}

function errorName(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'exception';
}

/** The request bodies of a step, made before its clock starts. */
function bodiesFor(step: StepRequest): { variants: number[]; bodies: string[] } {
  const count = Math.max(1, Math.round(step.rate * step.durationSec));
  const variants: number[] = [];
  const bodies: string[] = [];
  for (let k = 0; k < count; k += 1) {
    const variant = (step.firstVariant + k) % step.variantLimit;
    variants.push(variant);
    if (step.mode === 'gateway') {
      bodies.push(JSON.stringify(variantQuery(variant)));
    } else {
      const query = nodeQueries[variant];
      if (query === undefined) throw new RangeError(`load: no canonical query for ${variant}`);
      bodies.push(`{"query":${query},"requestId":"bench-${variant}-${k}"}`);
    }
  }
  return { variants, bodies };
}

async function runStep(step: StepRequest): Promise<StepRaw> {
  const { variants, bodies } = bodiesFor(step);
  const mode: Mode = step.mode;
  const total = bodies.length;
  const intervalMs = 1000 / step.rate;
  const abort = new AbortController();
  // Every request of the step listens to it.
  setMaxListeners(0, abort.signal);
  const errors: Record<string, number> = {};
  const e2eMs: number[] = [];
  const addedMs: number[] = [];
  const nodeMs: number[] = [];
  const lagMs: number[] = [];
  let sent = 0;
  let inFlight = 0;
  let overloaded = false;
  let lastDone = 0;
  const countError = (reason: string): void => {
    errors[reason] = (errors[reason] ?? 0) + 1;
  };

  let drained: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => {
    drained = resolve;
  });
  let dispatching = true;

  const dispatch = (k: number, due: number): void => {
    const left = performance.now();
    lagMs.push(left - due);
    sent += 1;
    inFlight += 1;
    const variant = variants[k]!;
    const body = bodies[k]!;
    const call =
      mode === 'gateway' ? viaGateway(variant, body, abort.signal) : bare(body, abort.signal);
    call
      .then(
        (outcome) => {
          const done = performance.now();
          if (outcome.error !== undefined) {
            countError(outcome.error);
            return;
          }
          const e2e = done - left;
          e2eMs.push(e2e);
          nodeMs.push(outcome.nodeMs!);
          addedMs.push(e2e - outcome.nodeMs!);
        },
        (err: unknown) => {
          if (!abort.signal.aborted) countError(errorName(err));
        },
      )
      .finally(() => {
        inFlight -= 1;
        lastDone = performance.now();
        if (!dispatching && inFlight === 0) drained();
      });
  };

  const cpu = process.cpuUsage();
  const start = performance.now() + 2;
  send({ type: 'step-started', id: step.id });
  await new Promise<void>((resolve) => {
    let k = 0;
    const tick = (): void => {
      const now = performance.now();
      while (k < total && start + k * intervalMs <= now) {
        if (inFlight >= step.maxInFlight) {
          overloaded = true;
          break;
        }
        dispatch(k, start + k * intervalMs);
        k += 1;
      }
      if (k >= total || overloaded) {
        resolve();
        return;
      }
      const wait = start + k * intervalMs - performance.now();
      if (wait <= 0) setImmediate(tick);
      else setTimeout(tick, wait);
    };
    tick();
  });
  dispatching = false;
  if (inFlight === 0) drained();
  const timer = setTimeout(() => abort.abort(), overloaded ? OVERLOADED_DRAIN_MS : DRAIN_MS);
  const unfinishedAt = new Promise<number>((resolve) => {
    abort.signal.addEventListener('abort', () => resolve(inFlight), { once: true });
  });
  const unfinished = await Promise.race([allDone.then(() => 0), unfinishedAt]);
  clearTimeout(timer);
  const used = process.cpuUsage(cpu);
  return {
    mode,
    rate: step.rate,
    durationSec: step.durationSec,
    scheduled: total,
    sent,
    ok: e2eMs.length,
    errors,
    unfinished,
    overloaded,
    e2eMs,
    addedMs,
    nodeMs,
    lagMs,
    wallMs: Math.max(0, lastDone - start),
    cpuMs: (used.user + used.system) / 1000,
  };
}

function addVariants(message: LoadVariants): void {
  message.hashes.forEach((hash, i) => {
    hashes[message.from + i] = hash;
    nodeQueries[message.from + i] = message.nodeQueries[i]!;
  });
  send({ type: 'variants-ok', upTo: message.from + message.hashes.length });
}

// Without the parent (it exited or was killed) there is nothing left to do.
process.on('disconnect', () => process.exit(0));

let queue: Promise<void> = Promise.resolve();

process.on('message', (message: ToLoad) => {
  switch (message.type) {
    case 'variants':
      addVariants(message);
      break;
    case 'gateway':
      queue = queue.then(() => pointAt(message.url));
      break;
    case 'step':
      queue = queue.then(async () => {
        const result = await runStep(message);
        send({ type: 'step-done', id: message.id, result });
      });
      break;
    case 'stop':
      queue = queue.then(async () => {
        await Promise.all([gateway?.close(), ...nodePools.map((p) => p.close())]);
        process.disconnect();
      });
      break;
  }
});

send({ type: 'ready' });
