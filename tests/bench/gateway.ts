// The gateway benchmark: `npm run bench -- gateway [flags]`.
//
// Per node count N: N simulated nodes, each a node:http server on loopback in
// child processes (gateway/node-host.ts; at most MAX_NODE_HOSTS processes, the
// nodes spread over them), answering a fixed NodeResult after a fixed delay;
// the test OpenID provider (gateway/idp-host.ts) and an open-loop load
// generator (gateway/load.ts) in child processes of their own. At stepped
// arrival rates it first finds the highest rate a bare undici fan-out to the
// nodes sustains (p99 under the budget, no error, nothing left unanswered;
// the floor: no auth, validation, state or merge), then, for each store in
// turn, starts the real gateway in a child process of its own
// (gateway/gateway-host.ts: createGatewayService on that store, node tokens
// signed as in production) and finds the highest rate it sustains; then the
// same with a relaxed budget (capacity). At half the gateway's sustained rate
// it measures the latency the gateway adds to the slowest node's own time.
// The gateway's process reports its own CPU, resident memory and event-loop
// delay over each step, so they are the gateway's alone. Prints the tables
// and rewrites the "## Gateway" section of docs/benchmarks.md.
//
// Flags: --nodes 3,10,30,100  --duration 3 (seconds per rate step)
//        --repeats 3 (steps at each answer and at half the sustained rate)
//        --delay 5 (node delay, ms)  --budget 100 (p99 budget, ms)
//        --capacity-budget 1000 (p99 budget of the capacity search, ms; 0: none)
//        --start-rate 50  --max-rate 4000
//        --store pglite,postgres (the default: both, in the order given; PostgreSQL:
//        DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test, in a
//        schema of its own, dropped afterwards)
//        --profile (a CPU profile of the gateway at its capacity, per N and
//        store, and its store calls counted)  --note "<text>" (a line for the
//        doc's notes)  --no-doc
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { DEFAULT_LIMITS, canonicalQuery, parseQuery, queryHash } from '@tessera/schemas';
import { configDefaults } from '@tessera/schemas/testing';
import { freePort } from '../support/processes.ts';
import { forkChild } from './gateway/child.ts';
import type { Child } from './gateway/child.ts';
import { describeStep, docBody, fmt, fmtMb, printSummary } from './gateway/doc.ts';
import type { PhaseResult, RunSettings, StoreCalls, StoreResult } from './gateway/doc.ts';
import type {
  FromGatewayHost,
  FromLoad,
  FromNodeHost,
  GatewayHostInit,
  GatewayWindow,
  IdpHostInit,
  IdpHostReady,
  LoadInit,
  Mode,
  NodeHostInit,
  StoreKind,
  StoreTarget,
  ToGatewayHost,
  ToIdpHost,
  ToLoad,
  ToNodeHost,
} from './gateway/protocol.ts';
import { gatewayIdle, metricValue } from './gateway/gateway-metrics.ts';
import { findRate, makeStep } from './gateway/search.ts';
import type { Search, Step } from './gateway/search.ts';
import { variantQuery } from './gateway/variants.ts';
import { describeMachine, machineLine, REPO_ROOT, writeDocSection } from './report.ts';

export { TARGETS } from './gateway/doc.ts';

const DEFAULT_NODES = [3, 10, 30, 100];
const STORE_KINDS: readonly StoreKind[] = ['pglite', 'postgres'];
const MAX_NODE_HOSTS = 10;
const PROJECT = 'bench';
const CLIENT = 'bench-researcher';
/** The production default (`nodes[].connections`, from the schema); the bare fan-out uses the same. */
const CONNECTIONS_PER_NODE = configDefaults('gateway-config').nodes[0].connections;
/** Queries one replica runs at once (`fanout.maxConcurrentQueries`, from the schema). */
const REPLICA_CAPACITY = configDefaults('gateway-config').fanout.maxConcurrentQueries;
const GATEWAY_CONNECTIONS = 256;
const WAIT_SEC = 10;
/** Queries per second; below it a step would take too long to hold enough requests. */
const MIN_RATE = 0.5;
/** Rate refinements after the doubling phase: the answer is within 2^(1/4) (19 %). */
const REFINEMENTS = 2;
const WARM_UP_SEC = 2;
/** A step lasts long enough to hold this many requests. */
const MIN_REQUESTS = 5;
const IDLE_SEC = 3;
const SETTLE_MS = 300;
/** How often the gateway's process samples its resident memory. */
const RSS_SAMPLE_MS = 200;
/** `monitorEventLoopDelay` resolution in the gateway's process (prom-client's default too). */
const LOOP_RESOLUTION_MS = 10;
/** Opening a new PGlite data directory takes seconds, more on a busy machine. */
const GATEWAY_START_MS = 180_000;
const GATEWAY_STOP_GRACE_MS = 15_000;
/** Variants are made (and sent to the processes that need them) this many at a time. */
const VARIANT_CHUNK = 2000;
const PROFILE_DIR = join(REPO_ROOT, '.data', 'bench', 'gateway');
const HERE = fileURLToPath(new URL('./gateway/', import.meta.url));

interface Options {
  readonly nodes: readonly number[];
  readonly durationSec: number;
  readonly repeats: number;
  readonly delayMs: number;
  readonly budgetMs: number;
  readonly capacityBudgetMs: number;
  readonly startRate: number;
  readonly maxRate: number;
  readonly profile: boolean;
  readonly doc: boolean;
  readonly note: string | undefined;
  readonly stores: readonly StoreKind[];
}

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

function number(text: string, flag: string, { integer = false, zero = false } = {}): number {
  const n = Number(text.replaceAll('_', ''));
  const ok = Number.isFinite(n) && (zero ? n >= 0 : n > 0) && (!integer || Number.isSafeInteger(n));
  if (!ok) throw new RangeError(`${flag}: not a ${integer ? 'whole ' : ''}number > 0: ${text}`);
  return n;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      nodes: { type: 'string' },
      duration: { type: 'string' },
      repeats: { type: 'string' },
      delay: { type: 'string' },
      budget: { type: 'string' },
      'capacity-budget': { type: 'string' },
      'start-rate': { type: 'string' },
      'max-rate': { type: 'string' },
      profile: { type: 'boolean' },
      note: { type: 'string' },
      store: { type: 'string' },
      'no-doc': { type: 'boolean' },
    },
  });
  const nodes =
    values.nodes === undefined
      ? DEFAULT_NODES
      : values.nodes.split(',').map((s) => number(s.trim(), '--nodes', { integer: true }));
  if (nodes.some((n) => n > 500)) throw new RangeError('--nodes: at most 500 (gateway config)');
  const opt = (value: string | undefined, flag: string, fallback: number, zero = false): number =>
    value === undefined ? fallback : number(value, flag, { zero });
  return {
    nodes: [...new Set(nodes)].sort((a, b) => a - b),
    durationSec: opt(values.duration, '--duration', 3),
    repeats:
      values.repeats === undefined ? 3 : number(values.repeats, '--repeats', { integer: true }),
    delayMs: opt(values.delay, '--delay', 5, true),
    budgetMs: opt(values.budget, '--budget', 100),
    capacityBudgetMs: opt(values['capacity-budget'], '--capacity-budget', 1000, true),
    startRate: opt(values['start-rate'], '--start-rate', 50),
    maxRate: opt(values['max-rate'], '--max-rate', 4000),
    profile: values.profile === true,
    doc: values['no-doc'] !== true,
    note: values.note,
    stores: storeKinds(values.store),
  };
}

function storeKinds(value: string | undefined): StoreKind[] {
  if (value === undefined) return [...STORE_KINDS];
  const kinds = value.split(',').map((s) => s.trim());
  const known = (kind: string): kind is StoreKind => (STORE_KINDS as string[]).includes(kind);
  const bad = kinds.find((kind) => !known(kind));
  if (bad !== undefined || kinds.length === 0) {
    throw new RangeError(`--store: pglite, postgres or pglite,postgres, not ${bad ?? value}`);
  }
  return [...new Set(kinds.filter(known))];
}

// --- the stores --------------------------------------------------------------------

/** A store the gateways of the run use, made before them and removed after them. */
interface BenchStore {
  readonly kind: StoreKind;
  readonly target: StoreTarget;
  dispose(): Promise<void>;
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(DATABASE_URL)';
  }
}

async function adminQuery(connectionString: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString });
  try {
    await admin.connect();
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * The store for one kind: a PGlite data directory under `dataDir` (the
 * caller removes it), or a PostgreSQL schema of its own, dropped by `dispose`.
 * Each node count's gateway opens it in its own process.
 */
async function prepareStore(kind: StoreKind, dataDir: string): Promise<BenchStore> {
  if (kind === 'pglite') {
    return {
      kind,
      target: { kind, dataDir: join(dataDir, 'state') },
      dispose: () => Promise.resolve(),
    };
  }
  const connectionString = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  try {
    await adminQuery(connectionString, `CREATE SCHEMA ${schema}`);
  } catch (err) {
    throw new Error(
      `--store postgres: cannot create a schema at ${redacted(connectionString)} (DATABASE_URL): ${
        err instanceof Error ? err.message : String(err)
      }; --store pglite leaves PostgreSQL out`,
      { cause: err },
    );
  }
  return {
    kind,
    target: { kind, connectionString, schema },
    dispose: () => adminQuery(connectionString, `DROP SCHEMA ${schema} CASCADE`),
  };
}

function settingsOf(options: Options): RunSettings {
  return {
    durationSec: options.durationSec,
    repeats: options.repeats,
    delayMs: options.delayMs,
    budgetMs: options.budgetMs,
    capacityBudgetMs: options.capacityBudgetMs,
    startRate: options.startRate,
    minRate: MIN_RATE,
    maxRate: options.maxRate,
    refinements: REFINEMENTS,
    maxNodeHosts: MAX_NODE_HOSTS,
    connectionsPerNode: CONNECTIONS_PER_NODE,
    waitSec: WAIT_SEC,
    idleSec: IDLE_SEC,
    rssSampleMs: RSS_SAMPLE_MS,
    loopResolutionMs: LOOP_RESOLUTION_MS,
    note: options.note,
    stores: options.stores,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench gateway ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A rate on the ladder: two significant digits, within [MIN_RATE, max]. */
function roundRate(rate: number, max: number): number {
  const clamped = Math.min(max, Math.max(MIN_RATE, rate));
  const scale = 10 ** (Math.floor(Math.log10(clamped)) - 1);
  return Math.min(max, Math.max(MIN_RATE, Math.round(clamped / scale) * scale));
}

// --- the variant pool ------------------------------------------------------------

/** Query variants with their hashes, made before the steps that use them. */
class VariantPool {
  made = 0;
  /** Next variant for a gateway request: each is sent to the gateway once per run. */
  gatewayCursor = 0;
  readonly hashes: string[] = [];
  readonly nodeQueries: string[] = [];

  /** Makes variants up to `upTo` (exclusive); returns the new ones. */
  extend(upTo: number): { from: number; hashes: string[]; nodeQueries: string[] } {
    const from = this.made;
    for (let i = from; i < upTo; i += 1) {
      const canonical = canonicalQuery(variantQuery(i));
      this.hashes.push(queryHash(canonical));
      this.nodeQueries.push(JSON.stringify(canonical));
    }
    if (from === 0 && upTo > 0) {
      // The gateway validates and pins before hashing; the variant must hash the same.
      const pinned = canonicalQuery(parseQuery(variantQuery(0), DEFAULT_LIMITS));
      if (queryHash(pinned) !== this.hashes[0]) {
        throw new Error('variant hash differs from the hash of the validated query');
      }
    }
    this.made = Math.max(this.made, upTo);
    return {
      from,
      hashes: this.hashes.slice(from, upTo),
      nodeQueries: this.nodeQueries.slice(from, upTo),
    };
  }
}

// --- the processes of one node count -----------------------------------------------

type NodeHost = Child<ToNodeHost, FromNodeHost>;
type Load = Child<ToLoad, FromLoad>;

interface Idp {
  readonly child: Child<ToIdpHost, IdpHostReady>;
  readonly ready: IdpHostReady;
}

/** The gateway under test, in its own process. */
interface GatewayProcess {
  readonly child: Child<ToGatewayHost, FromGatewayHost>;
  readonly url: string;
  /** Ends the gateway process's current window (its figures since the last call) and starts the next. */
  window(): Promise<GatewayWindow>;
}

interface Phase {
  readonly n: number;
  readonly hosts: readonly NodeHost[];
  readonly nodes: readonly { readonly id: string; readonly url: string }[];
  readonly load: Load;
  /** The gateway the gateway steps go to, while one runs. */
  gateway: GatewayProcess | undefined;
  /** Next variant for a bare request (any made variant will do: nothing caches). */
  bareCursor: number;
  stepId: number;
}

async function shipVariants(
  phase: Pick<Phase, 'hosts' | 'load'>,
  chunk: { from: number; hashes: string[]; nodeQueries: string[] },
): Promise<void> {
  if (chunk.hashes.length === 0) return;
  const upTo = chunk.from + chunk.hashes.length;
  const hostsDone = phase.hosts.map((host) => {
    host.send({ type: 'variants', from: chunk.from, hashes: chunk.hashes });
    return host.next(
      (m): m is Extract<FromNodeHost, { type: 'variants-ok' }> =>
        m.type === 'variants-ok' && m.upTo === upTo,
    );
  });
  phase.load.send({ type: 'variants', ...chunk });
  await Promise.all([
    ...hostsDone,
    phase.load.next(
      (m): m is Extract<FromLoad, { type: 'variants-ok' }> =>
        m.type === 'variants-ok' && m.upTo === upTo,
    ),
  ]);
}

/** The node hosts and the load generator of a node count; gateways come and go on them. */
async function startPhase(
  n: number,
  options: Options,
  idp: Idp,
  pool: VariantPool,
): Promise<Phase> {
  const ids = Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(3, '0')}`);
  const hostCount = Math.min(n, MAX_NODE_HOSTS);
  const hosts: NodeHost[] = [];
  const urls = new Map<string, string>();
  await Promise.all(
    Array.from({ length: hostCount }, async (_, h) => {
      const init: NodeHostInit = {
        nodes: ids.filter((_, i) => i % hostCount === h),
        delayMs: options.delayMs,
      };
      const host = forkChild<ToNodeHost, FromNodeHost>(
        join(HERE, 'node-host.ts'),
        `node host ${h}`,
        init,
      );
      hosts.push(host);
      const ready = await host.next(
        (m): m is Extract<FromNodeHost, { type: 'ready' }> => m.type === 'ready',
      );
      for (const [id, url] of Object.entries(ready.urls)) urls.set(id, url);
    }),
  );
  const nodes = ids.map((id) => ({ id, url: urls.get(id)! }));

  const loadInit: LoadInit = {
    token: idp.ready.token,
    project: PROJECT,
    nodes,
    connectionsPerNode: CONNECTIONS_PER_NODE,
    gatewayConnections: GATEWAY_CONNECTIONS,
    waitSec: WAIT_SEC,
  };
  const load = forkChild<ToLoad, FromLoad>(join(HERE, 'load.ts'), 'load generator', loadInit);
  await load.next((m): m is Extract<FromLoad, { type: 'ready' }> => m.type === 'ready');
  const phase: Phase = { n, hosts, nodes, load, gateway: undefined, bareCursor: 0, stepId: 0 };
  // Every variant made so far, to the new processes.
  await shipVariants(phase, {
    from: 0,
    hashes: pool.hashes.slice(0, pool.made),
    nodeQueries: pool.nodeQueries.slice(0, pool.made),
  });
  log(`N=${n}: ${n} nodes in ${hostCount} processes`);
  return phase;
}

async function stopPhase(phase: Phase): Promise<void> {
  await phase.load.stop({ type: 'stop' });
  await Promise.all(phase.hosts.map((h) => h.stop({ type: 'stop' })));
}

/** The gateway's configuration, as the benchmark has always run it. */
function gatewayConfig(
  gatewayUrl: string,
  nodes: Phase['nodes'],
  idp: Idp,
): Record<string, unknown> {
  return {
    publicUrl: gatewayUrl,
    oidc: { issuer: idp.ready.issuer, audience: idp.ready.audience },
    nodes,
    projects: {
      [PROJECT]: {
        nodes: nodes.map((node) => node.id),
        queriesPerMinute: 1_000_000_000,
        queriesPerDay: 1_000_000_000,
        repeatsPerWindow: 1_000_000_000,
      },
    },
    // The load comes from one researcher standing for many: her share is the replica's.
    fanout: { maxConcurrentPerResearcher: REPLICA_CAPACITY },
    log: { level: 'warn' },
  };
}

let windowIds = 0;

/** Starts a gateway on `store` in a process of its own and points the load generator at it. */
async function startGateway(
  phase: Phase,
  store: BenchStore,
  options: Options,
  idp: Idp,
): Promise<GatewayProcess> {
  const port = await freePort();
  const init: GatewayHostInit = {
    port,
    config: gatewayConfig(`http://127.0.0.1:${port}`, phase.nodes, idp),
    store: store.target,
    countStoreCalls: options.profile,
    rssSampleMs: RSS_SAMPLE_MS,
    loopResolutionMs: LOOP_RESOLUTION_MS,
  };
  const child = forkChild<ToGatewayHost, FromGatewayHost>(
    join(HERE, 'gateway-host.ts'),
    `gateway on ${store.kind}`,
    init,
  );
  const ready = await child.next(
    (m): m is Extract<FromGatewayHost, { type: 'ready' }> => m.type === 'ready',
    GATEWAY_START_MS,
  );
  const gateway: GatewayProcess = {
    child,
    url: ready.url,
    async window() {
      windowIds += 1;
      const id = windowIds;
      child.send({ type: 'window', id });
      return child.next(
        (m): m is Extract<FromGatewayHost, { type: 'window' }> =>
          m.type === 'window' && m.id === id,
      );
    },
  };
  phase.load.send({ type: 'gateway', url: gateway.url });
  await phase.load.next(
    (m): m is Extract<FromLoad, { type: 'gateway-ok' }> =>
      m.type === 'gateway-ok' && m.url === gateway.url,
  );
  log(
    `N=${phase.n} ${store.kind}: gateway at ${gateway.url} (pid ${child.process.pid}), store opened in ${fmt(ready.storeOpenMs / 1000)} s`,
  );
  return gateway;
}

/** What every step of a node count needs. */
interface StepContext {
  readonly phase: Phase;
  readonly pool: VariantPool;
  readonly options: Options;
}

async function runStep(
  { phase, pool, options }: StepContext,
  mode: Mode,
  rate: number,
  how: {
    readonly sec?: number;
    /** Wait for the gateway's background tasks (cache writes, audit) inside the window. */
    readonly settleInWindow?: boolean;
  } = {},
): Promise<Step> {
  const stepSec = how.sec ?? options.durationSec;
  const gateway = mode === 'gateway' ? phase.gateway : undefined;
  if (mode === 'gateway' && gateway === undefined)
    throw new Error('a gateway step with no gateway');
  // Slow rates get longer steps: a p99 over a handful of requests says little.
  const durationSec = Math.max(stepSec, MIN_REQUESTS / rate);
  const count = Math.max(1, Math.round(rate * durationSec));
  let firstVariant: number;
  let variantLimit: number;
  if (mode === 'gateway') {
    firstVariant = pool.gatewayCursor;
    pool.gatewayCursor += count;
    if (pool.gatewayCursor > pool.made) {
      // Made ahead in chunks, so that small steps do not each pay a round of messages.
      await shipVariants(
        phase,
        pool.extend(Math.max(pool.gatewayCursor, pool.made + VARIANT_CHUNK)),
      );
    }
    variantLimit = Number.MAX_SAFE_INTEGER;
  } else {
    firstVariant = phase.bareCursor % pool.made;
    phase.bareCursor += count;
    variantLimit = pool.made;
  }
  phase.stepId += 1;
  const id = phase.stepId;
  // The gateway's window opens before the first request leaves.
  await gateway?.window();
  phase.load.send({
    type: 'step',
    id,
    mode,
    rate,
    durationSec,
    firstVariant,
    variantLimit,
    // Under the budget about rate x p99 requests are outstanding; far beyond it the step has failed.
    maxInFlight: Math.max(64, Math.ceil(rate * 0.5)),
  });
  await phase.load.next(
    (m): m is Extract<FromLoad, { type: 'step-started' }> =>
      m.type === 'step-started' && m.id === id,
  );
  const done = await phase.load.next(
    (m): m is Extract<FromLoad, { type: 'step-done' }> => m.type === 'step-done' && m.id === id,
    (durationSec + WAIT_SEC + 60) * 1000,
  );
  let window: GatewayWindow | undefined;
  if (gateway !== undefined) {
    // ... and closes when the gateway runs no query, so that work after the last answer counts too.
    if (!(await gatewayIdle(gateway.url)))
      log('the gateway still had queries in flight after 30 s');
    if (how.settleInWindow === true) await sleep(SETTLE_MS);
    window = await gateway.window();
  }
  if (how.settleInWindow !== true) await sleep(SETTLE_MS);
  return makeStep(done.result, window);
}

/** The search of one mode at one budget; `history` holds that mode's earlier steps and gets the new ones. */
function search(
  ctx: StepContext,
  label: string,
  mode: Mode,
  budgetMs: number,
  start: number,
  history: Step[],
): Promise<Search> {
  return findRate(
    async (rate) => {
      const step = await runStep(ctx, mode, rate);
      history.push(step);
      log(describeStep(label, step, budgetMs));
      return step;
    },
    [...history],
    {
      budgetMs,
      repeats: ctx.options.repeats,
      minRate: MIN_RATE,
      maxRate: ctx.options.maxRate,
      refinements: REFINEMENTS,
      start,
      round: (rate) => roundRate(rate, ctx.options.maxRate),
    },
  );
}

/** The gateway process's figures over `IDLE_SEC` with no request. */
async function idleWindow(gateway: GatewayProcess): Promise<GatewayWindow> {
  await gateway.window();
  await sleep(IDLE_SEC * 1000);
  return gateway.window();
}

// --- one store's gateway at one node count -------------------------------------------

async function runStore(
  ctx: StepContext,
  store: BenchStore,
  idp: Idp,
  start: number,
): Promise<StoreResult> {
  const { phase, options } = ctx;
  const label = `N=${phase.n} ${store.kind}`;
  const loadAtStart = loadavg()[0] ?? 0;
  log(`${label}: starting the gateway (load average ${loadAtStart.toFixed(2)})`);
  const gateway = await startGateway(phase, store, options, idp);
  phase.gateway = gateway;
  try {
    // Resident memory once started, before any request.
    const idleRssBytes = (await idleWindow(gateway)).rssBytes;
    // Warm-up: JIT, connections, the IdP's keys; not recorded.
    await runStep(ctx, 'gateway', roundRate(Math.min(5, start), options.maxRate), {
      sec: WARM_UP_SEC,
    });
    const idle = await idleWindow(gateway);
    const idleCpuMsPerSec = idle.cpuMs / (idle.wallMs / 1000);
    log(
      `${label}: gateway process idle: RSS ${fmtMb(idleRssBytes)} before any request, CPU ${fmt(idleCpuMsPerSec)} ms/s after the warm-up`,
    );

    const history: Step[] = [];
    const latency = await search(ctx, label, 'gateway', options.budgetMs, start, history);
    const capacity =
      options.capacityBudgetMs > 0
        ? await search(ctx, label, 'gateway', options.capacityBudgetMs, start, history)
        : undefined;

    // Half the sustained rate; with none sustained, half the capacity, else the lowest rate.
    const basis: StoreResult['half']['basis'] =
      latency.sustained > 0 ? 'sustained' : (capacity?.sustained ?? 0) > 0 ? 'capacity' : 'lowest';
    const halfRate = roundRate(
      basis === 'sustained'
        ? latency.sustained / 2
        : basis === 'capacity'
          ? capacity!.sustained / 2
          : MIN_RATE,
      options.maxRate,
    );
    const half = { rate: halfRate, basis, gateway: [] as Step[], bare: [] as Step[] };
    for (let r = 0; r < options.repeats; r += 1) {
      for (const mode of ['gateway', 'bare'] as const) {
        const step = await runStep(ctx, mode, halfRate);
        log(describeStep(label, step, options.budgetMs, `latency, ${basis}`));
        half[mode].push(step);
      }
    }

    let profile: StoreResult['profile'];
    if (options.profile) {
      await mkdir(PROFILE_DIR, { recursive: true });
      const file = join(PROFILE_DIR, `gateway-${store.kind}-${phase.n}-nodes.cpuprofile`);
      const top = capacity ?? latency;
      const rate = top.sustained > 0 ? top.sustained : MIN_RATE;
      gateway.child.send({ type: 'profile-start' });
      await gateway.child.next(
        (m): m is Extract<FromGatewayHost, { type: 'profile-started' }> =>
          m.type === 'profile-started',
      );
      // Store writes the gateway leaves to the background after an answer count too.
      const step = await runStep(ctx, 'gateway', rate, { settleInWindow: true });
      gateway.child.send({ type: 'profile-stop', file });
      const { summary } = await gateway.child.next(
        (m): m is Extract<FromGatewayHost, { type: 'profile-done' }> => m.type === 'profile-done',
      );
      log(describeStep(label, step, top.budgetMs, `profiled, ${file}`));
      profile = { file, summary, step, storeCalls: storeCallsPerQuery(step) };
    }

    const cacheHits = await metricValue(gateway.url, 'tessera_gateway_cache_hits_total');
    if (cacheHits > 0) log(`${label}: ${cacheHits} answers came from the result cache`);
    return {
      store: store.kind,
      loadAtStart,
      idleCpuMsPerSec,
      idleRssBytes,
      gateway: { latency, capacity },
      half,
      cacheHits,
      ...(profile ? { profile } : {}),
    };
  } finally {
    phase.gateway = undefined;
    await gateway.child.stop({ type: 'stop' }, GATEWAY_STOP_GRACE_MS);
  }
}

/** The gateway's store calls in a step, per query sent, the costliest first. */
function storeCallsPerQuery(step: Step): StoreCalls[] {
  return Object.entries(step.gateway?.storeCalls ?? {})
    .map(([method, c]) => ({
      method,
      perQuery: c.calls / step.raw.sent,
      msPerCall: c.ms / c.calls,
    }))
    .filter((c) => c.perQuery >= 0.5)
    .sort((a, b) => b.perQuery * b.msPerCall - a.perQuery * a.msPerCall);
}

// --- one node count ----------------------------------------------------------------

interface Starts {
  readonly bare: number;
  readonly gateway: Readonly<Record<StoreKind, number>>;
}

async function runNodeCount(
  n: number,
  options: Options,
  idp: Idp,
  stores: readonly BenchStore[],
  pool: VariantPool,
  starts: Starts,
): Promise<PhaseResult> {
  const loadAtStart = loadavg()[0] ?? 0;
  log(`N=${n}: starting (load average ${loadAtStart.toFixed(2)})`);
  const phase = await startPhase(n, options, idp, pool);
  const ctx: StepContext = { phase, pool, options };
  try {
    // The bare fan-out once per node count, with no gateway process running.
    const label = `N=${n}`;
    await runStep(ctx, 'bare', roundRate(Math.min(5, starts.bare), options.maxRate), {
      sec: WARM_UP_SEC,
    });
    const history: Step[] = [];
    const latency = await search(ctx, label, 'bare', options.budgetMs, starts.bare, history);
    const capacity =
      options.capacityBudgetMs > 0
        ? await search(ctx, label, 'bare', options.capacityBudgetMs, starts.bare, history)
        : undefined;
    const results: StoreResult[] = [];
    for (const store of stores) {
      results.push(await runStore(ctx, store, idp, starts.gateway[store.kind]));
    }
    return {
      n,
      nodeHosts: phase.hosts.length,
      loadAtStart,
      bare: { latency, capacity },
      stores: results,
    };
  } finally {
    await stopPhase(phase);
  }
}

/** Where the next node count's searches start: the last results, scaled by the fan-out width. */
function nextStarts(previous: PhaseResult | undefined, n: number, options: Options): Starts {
  if (previous === undefined) {
    return {
      bare: options.startRate,
      gateway: { pglite: options.startRate, postgres: options.startRate },
    };
  }
  const scaled = (search: Search | undefined, fallback: number): number =>
    search === undefined || search.sustained === 0
      ? fallback
      : roundRate(Math.min(1, (2 * previous.n) / n) * search.sustained, options.maxRate);
  const gateway = (kind: StoreKind): number =>
    scaled(previous.stores.find((s) => s.store === kind)?.gateway.latency, MIN_RATE);
  return {
    bare: scaled(previous.bare.latency, options.startRate),
    gateway: { pglite: gateway('pglite'), postgres: gateway('postgres') },
  };
}

async function startIdp(): Promise<Idp> {
  const init: IdpHostInit = { client: CLIENT, projects: [PROJECT], accessTokenTtlSec: 3600 };
  const child = forkChild<ToIdpHost, IdpHostReady>(join(HERE, 'idp-host.ts'), 'IdP', init);
  const ready = await child.next((m): m is IdpHostReady => m.type === 'ready');
  return { child, ready };
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  const machine = describeMachine();
  const startedAt = new Date();
  const command = [
    'npm run bench -- gateway',
    ...argv.map((a) => (/^[\w.,=/:-]+$/.test(a) ? a : JSON.stringify(a))),
  ].join(' ');
  log(
    `${machineLine(machine)}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  // One state store of each kind for the run; each node count's gateway opens it in its
  // own process. Node ids differ between node counts and every query variant is sent
  // once, so nothing cached for one node count can answer another.
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-gateway-'));
  const stores: BenchStore[] = [];
  const results: PhaseResult[] = [];
  let idp: Idp | undefined;
  try {
    for (const kind of options.stores) stores.push(await prepareStore(kind, dataDir));
    idp = await startIdp();
    const pool = new VariantPool();
    pool.extend(VARIANT_CHUNK);
    let previous: PhaseResult | undefined;
    for (const n of options.nodes) {
      previous = await runNodeCount(
        n,
        options,
        idp,
        stores,
        pool,
        nextStarts(previous, n, options),
      );
      results.push(previous);
    }
  } finally {
    await idp?.child.stop({ type: 'stop' });
    for (const store of stores) await store.dispose();
    await rm(dataDir, { recursive: true, force: true });
  }

  const settings = settingsOf(options);
  printSummary(results, settings);
  if (options.doc) {
    await writeDocSection(
      'Gateway',
      docBody({ results, settings, machine, command, startedAt }),
      machine,
    );
    log('wrote the "## Gateway" section of docs/benchmarks.md');
  }
}
