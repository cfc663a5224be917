// The gateway benchmark: `npm run bench -- gateway [flags]`.
//
// Per node count N: N simulated nodes, each a node:http server on loopback in
// child processes (gateway/node-host.ts; at most MAX_NODE_HOSTS processes, the
// nodes spread over them), answering a fixed NodeResult after a fixed delay;
// the real gateway (createGatewayService on PGlite in a temporary directory,
// node tokens signed as in production) in this process; the test OpenID
// provider (gateway/idp-host.ts) and an open-loop load generator
// (gateway/load.ts) in child processes of their own. At stepped arrival rates
// it finds the highest rate the gateway sustains (p99 under the budget, no
// error, nothing left unanswered) and the highest rate a bare undici fan-out
// to the same nodes sustains (the floor: no auth, validation, state or
// merge), then the same with a relaxed budget (capacity). At half the
// gateway's sustained rate it measures the latency the gateway adds to the
// slowest node's own time. Gateway CPU per query comes from this process's
// CPU over each step. Prints the tables and rewrites the "## Gateway" section
// of docs/benchmarks.md.
//
// Flags: --nodes 3,10,30,100  --duration 3 (seconds per rate step)
//        --repeats 3 (steps at each answer and at half the sustained rate)
//        --delay 5 (node delay, ms)  --budget 100 (p99 budget, ms)
//        --capacity-budget 1000 (p99 budget of the capacity search, ms; 0: none)
//        --start-rate 50  --max-rate 4000
//        --store pglite|postgres (PostgreSQL: DATABASE_URL, default
//        postgres://postgres@127.0.0.1:5432/test, in a schema of its own)
//        --profile (a CPU profile of the gateway at its capacity, per N, and
//        its store calls counted)  --note "<text>" (a line for the doc's notes)
//        --no-doc
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { listen } from '@tessera/http-kit';
import {
  DEFAULT_LIMITS,
  canonicalQuery,
  loadConfig,
  parseQuery,
  queryHash,
} from '@tessera/schemas';
import { configDefaults } from '@tessera/schemas/testing';
import { createGatewayService, createPostgresStore, openStore } from '@tessera/gateway';
import type { GatewayService, Store } from '@tessera/gateway';
import { freePort } from '../support/processes.ts';
import { forkChild } from './gateway/child.ts';
import type { Child } from './gateway/child.ts';
import { describeStep, docBody, fmt, printSummary } from './gateway/doc.ts';
import type { PhaseResult, RunSettings, StoreCalls } from './gateway/doc.ts';
import { profileDuring, summariseProfile } from './gateway/profile.ts';
import type {
  FromLoad,
  FromNodeHost,
  IdpHostInit,
  IdpHostReady,
  LoadInit,
  Mode,
  NodeHostInit,
  ToIdpHost,
  ToLoad,
  ToNodeHost,
} from './gateway/protocol.ts';
import { gatewayIdle, metricValue } from './gateway/gateway-metrics.ts';
import { findRate, makeStep } from './gateway/search.ts';
import type { Search, Step } from './gateway/search.ts';
import { countingStore } from './gateway/store-calls.ts';
import type { CountingStore } from './gateway/store-calls.ts';
import { variantQuery } from './gateway/variants.ts';
import { describeMachine, machineLine, REPO_ROOT, writeDocSection } from './report.ts';

export { TARGETS } from './gateway/doc.ts';

const DEFAULT_NODES = [3, 10, 30, 100];
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
  readonly store: 'pglite' | 'postgres';
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
    store: storeKind(values.store),
  };
}

function storeKind(value: string | undefined): Options['store'] {
  if (value === undefined || value === 'pglite' || value === 'postgres') return value ?? 'pglite';
  throw new RangeError(`--store: pglite or postgres, not ${value}`);
}

/** The gateway's state store for the run, and how to dispose of it. */
async function openBenchStore(
  kind: Options['store'],
  dataDir: string,
): Promise<{ store: Store; dispose: () => Promise<void> }> {
  if (kind === 'pglite') {
    const store = await openStore({ dataDir: join(dataDir, 'state') });
    return { store, dispose: () => store.close() };
  }
  const connectionString = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const store = await createPostgresStore({ connectionString, schema });
  return {
    store,
    dispose: async () => {
      await store.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
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
    note: options.note,
    store: options.store,
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

// --- one node count ----------------------------------------------------------------

type NodeHost = Child<ToNodeHost, FromNodeHost>;
type Load = Child<ToLoad, FromLoad>;

interface Idp {
  readonly child: Child<ToIdpHost, IdpHostReady>;
  readonly ready: IdpHostReady;
}

interface Phase {
  readonly n: number;
  readonly hosts: readonly NodeHost[];
  readonly load: Load;
  readonly gateway: GatewayService;
  readonly server: Server;
  readonly gatewayUrl: string;
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

async function startPhase(
  n: number,
  options: Options,
  idp: Idp,
  store: Store,
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

  const port = await freePort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const nodes = ids.map((id) => ({ id, url: urls.get(id)! }));
  const config = loadConfig('gateway-config', {
    publicUrl: gatewayUrl,
    oidc: { issuer: idp.ready.issuer, audience: idp.ready.audience },
    nodes,
    projects: {
      [PROJECT]: {
        nodes: ids,
        queriesPerMinute: 1_000_000_000,
        queriesPerDay: 1_000_000_000,
        repeatsPerWindow: 1_000_000_000,
      },
    },
    // The load comes from one researcher standing for many: her share is the replica's.
    fanout: { maxConcurrentPerResearcher: REPLICA_CAPACITY },
    log: { level: 'warn' },
  });
  const gateway = await createGatewayService(config, { store, pollIntervalSec: 0 });
  const { server } = await listen(gateway.app, '127.0.0.1', port);

  const loadInit: LoadInit = {
    gatewayUrl,
    token: idp.ready.token,
    project: PROJECT,
    nodes,
    connectionsPerNode: CONNECTIONS_PER_NODE,
    gatewayConnections: GATEWAY_CONNECTIONS,
    waitSec: WAIT_SEC,
  };
  const load = forkChild<ToLoad, FromLoad>(join(HERE, 'load.ts'), 'load generator', loadInit);
  await load.next((m): m is Extract<FromLoad, { type: 'ready' }> => m.type === 'ready');
  const phase: Phase = { n, hosts, load, gateway, server, gatewayUrl, bareCursor: 0, stepId: 0 };
  // Every variant made so far, to the new processes.
  await shipVariants(phase, {
    from: 0,
    hashes: pool.hashes.slice(0, pool.made),
    nodeQueries: pool.nodeQueries.slice(0, pool.made),
  });
  log(`N=${n}: ${n} nodes in ${hostCount} processes, gateway at ${gatewayUrl}`);
  return phase;
}

async function stopPhase(phase: Phase): Promise<void> {
  await phase.load.stop({ type: 'stop' });
  phase.server.closeAllConnections();
  await new Promise<void>((resolve) => phase.server.close(() => resolve()));
  await phase.gateway.close();
  await Promise.all(phase.hosts.map((h) => h.stop({ type: 'stop' })));
}

async function runStep(
  phase: Phase,
  pool: VariantPool,
  options: Options,
  mode: Mode,
  rate: number,
  stepSec = options.durationSec,
): Promise<Step> {
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
  const cpu = process.cpuUsage();
  const done = await phase.load.next(
    (m): m is Extract<FromLoad, { type: 'step-done' }> => m.type === 'step-done' && m.id === id,
    (durationSec + WAIT_SEC + 60) * 1000,
  );
  const used = process.cpuUsage(cpu);
  const step = makeStep(done.result, (used.user + used.system) / 1000);
  if (mode === 'gateway' && !(await gatewayIdle(phase.gatewayUrl))) {
    log('the gateway still had queries in flight after 30 s');
  }
  await sleep(SETTLE_MS);
  return step;
}

interface Starts {
  readonly gateway: number;
  readonly bare: number;
}

async function runPhase(
  n: number,
  options: Options,
  idp: Idp,
  store: Store,
  counted: CountingStore | undefined,
  pool: VariantPool,
  starts: Starts,
): Promise<PhaseResult> {
  const loadAtStart = loadavg()[0] ?? 0;
  log(`N=${n}: starting (load average ${loadAtStart.toFixed(2)})`);
  const phase = await startPhase(n, options, idp, store, pool);
  try {
    // Warm-up: JIT, connections, the IdP's keys; not recorded.
    const warm = roundRate(Math.min(5, starts.gateway), options.maxRate);
    await runStep(phase, pool, options, 'gateway', warm, WARM_UP_SEC);
    await runStep(phase, pool, options, 'bare', warm, WARM_UP_SEC);
    const idleFrom = process.cpuUsage();
    await sleep(IDLE_SEC * 1000);
    const idleUsed = process.cpuUsage(idleFrom);
    const idleCpuMsPerSec = (idleUsed.user + idleUsed.system) / 1000 / IDLE_SEC;
    log(`N=${n}: gateway process CPU while idle ${fmt(idleCpuMsPerSec)} ms/s`);

    const history: Record<Mode, Step[]> = { gateway: [], bare: [] };
    const search = (mode: Mode, budgetMs: number, start: number): Promise<Search> =>
      findRate(
        async (rate) => {
          const step = await runStep(phase, pool, options, mode, rate);
          history[mode].push(step);
          log(describeStep(n, step, budgetMs));
          return step;
        },
        [...history[mode]],
        {
          budgetMs,
          repeats: options.repeats,
          minRate: MIN_RATE,
          maxRate: options.maxRate,
          refinements: REFINEMENTS,
          start,
          round: (rate) => roundRate(rate, options.maxRate),
        },
      );
    const capacity = options.capacityBudgetMs > 0;
    const gatewayLatency = await search('gateway', options.budgetMs, starts.gateway);
    const gatewayCapacity = capacity
      ? await search('gateway', options.capacityBudgetMs, starts.gateway)
      : undefined;
    const bareLatency = await search('bare', options.budgetMs, starts.bare);
    const bareCapacity = capacity
      ? await search('bare', options.capacityBudgetMs, starts.bare)
      : undefined;

    // Half the sustained rate; with none sustained, half the capacity, else the lowest rate.
    const basis: PhaseResult['half']['basis'] =
      gatewayLatency.sustained > 0
        ? 'sustained'
        : (gatewayCapacity?.sustained ?? 0) > 0
          ? 'capacity'
          : 'lowest';
    const halfRate = roundRate(
      basis === 'sustained'
        ? gatewayLatency.sustained / 2
        : basis === 'capacity'
          ? gatewayCapacity!.sustained / 2
          : MIN_RATE,
      options.maxRate,
    );
    const half = { rate: halfRate, basis, gateway: [] as Step[], bare: [] as Step[] };
    for (let r = 0; r < options.repeats; r += 1) {
      for (const mode of ['gateway', 'bare'] as const) {
        const step = await runStep(phase, pool, options, mode, halfRate);
        log(describeStep(n, step, options.budgetMs, `latency, ${basis}`));
        half[mode].push(step);
      }
    }

    let profile: PhaseResult['profile'];
    if (counted !== undefined) {
      await mkdir(PROFILE_DIR, { recursive: true });
      const file = join(PROFILE_DIR, `gateway-${n}-nodes.cpuprofile`);
      const top = gatewayCapacity ?? gatewayLatency;
      const rate = top.sustained > 0 ? top.sustained : MIN_RATE;
      counted.reset();
      const { value: step, profile: taken } = await profileDuring(file, () =>
        runStep(phase, pool, options, 'gateway', rate),
      );
      log(describeStep(n, step, top.budgetMs, `profiled, ${file}`));
      const storeCalls: StoreCalls[] = [...counted.snapshot()]
        .map(([method, c]) => ({
          method,
          perQuery: c.calls / step.raw.sent,
          msPerCall: c.ms / c.calls,
        }))
        .filter((c) => c.perQuery >= 0.5)
        .sort((a, b) => b.perQuery * b.msPerCall - a.perQuery * a.msPerCall);
      profile = { file, summary: summariseProfile(taken), step, storeCalls };
    }

    const cacheHits = await metricValue(phase.gatewayUrl, 'tessera_gateway_cache_hits_total');
    if (cacheHits > 0) log(`N=${n}: ${cacheHits} answers came from the result cache`);
    return {
      n,
      nodeHosts: phase.hosts.length,
      loadAtStart,
      idleCpuMsPerSec,
      gateway: { latency: gatewayLatency, capacity: gatewayCapacity },
      bare: { latency: bareLatency, capacity: bareCapacity },
      half,
      cacheHits,
      ...(profile ? { profile } : {}),
    };
  } finally {
    await stopPhase(phase);
  }
}

/** Where the next node count's searches start: the last results, scaled by the fan-out width. */
function nextStarts(previous: PhaseResult | undefined, n: number, options: Options): Starts {
  const scaled = (search: Search | undefined, fallback: number): number =>
    search === undefined || search.sustained === 0 || previous === undefined
      ? fallback
      : roundRate(Math.min(1, (2 * previous.n) / n) * search.sustained, options.maxRate);
  if (previous === undefined) return { gateway: options.startRate, bare: options.startRate };
  return {
    gateway: scaled(previous.gateway.latency, MIN_RATE),
    bare: scaled(previous.bare.latency, options.startRate),
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

  const idp = await startIdp();
  const pool = new VariantPool();
  pool.extend(VARIANT_CHUNK);
  // One gateway state store for the run (opening PGlite is slow); each node count gets
  // its own gateway on it. Node ids differ between node counts and every query variant
  // is sent once, so nothing cached for one node count can answer another.
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-gateway-'));
  const results: PhaseResult[] = [];
  try {
    const opened = performance.now();
    const { store: openedStore, dispose } = await openBenchStore(options.store, dataDir);
    log(`gateway store (${options.store}) opened in ${fmt((performance.now() - opened) / 1000)} s`);
    // With --profile the gateway's store calls are counted (a Proxy; microseconds per call).
    const counted = options.profile ? countingStore(openedStore) : undefined;
    try {
      let previous: PhaseResult | undefined;
      for (const n of options.nodes) {
        const starts = nextStarts(previous, n, options);
        previous = await runPhase(
          n,
          options,
          idp,
          counted?.store ?? openedStore,
          counted,
          pool,
          starts,
        );
        results.push(previous);
      }
    } finally {
      await dispose();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await idp.child.stop({ type: 'stop' });
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
