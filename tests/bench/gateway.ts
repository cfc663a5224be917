// The gateway benchmark: `npm run bench -- gateway [flags]`.
//
// Per node count N: N simulated nodes, each a node:http server on loopback in
// child processes (gateway/node-host.ts; at most MAX_NODE_HOSTS processes, the
// nodes spread over them), answering a fixed NodeResult after a fixed delay;
// the real gateway (createGatewayService, PGlite in a temporary directory,
// researcher tokens from the test OpenID provider, node tokens signed as in
// production) in this process; and an open-loop load generator in a child
// process of its own (gateway/load.ts). At stepped arrival rates it finds the
// highest rate the gateway sustains (p99 under the budget, no error, nothing
// left unanswered) and, at the same rates, the highest rate a bare undici
// fan-out to the same nodes sustains (the floor: no auth, validation, state
// or merge). At half the gateway's sustained rate it measures the latency the
// gateway adds to the slowest node's own time, and the gateway's CPU per
// query. Prints the tables and rewrites the "## Gateway" section of
// docs/benchmarks.md.
//
// Flags: --nodes 3,10,30,100  --duration 4 (seconds per rate step)
//        --repeats 3 (steps at the sustained and at half the sustained rate)
//        --delay 5 (node delay, ms)  --budget 100 (p99 budget, ms)
//        --start-rate 50  --max-rate 4000  --profile (CPU profile of the
//        gateway at its sustained rate, per N, and its store calls counted)
//        --note "<text>" (a line for the doc's notes)  --no-doc
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_LIMITS,
  canonicalQuery,
  gatewayConfigSchemaId,
  loadConfig,
  parseQuery,
  queryHash,
} from '@tessera/schemas';
import type { GatewayConfig } from '@tessera/schemas';
import { startTestIdp } from '../../gateway/src/auth/test-idp.ts';
import type { TestIdp } from '../../gateway/src/auth/test-idp.ts';
import { createGatewayService } from '../../gateway/src/server/gateway.ts';
import type { GatewayService } from '../../gateway/src/server/gateway.ts';
import { listen } from '../../gateway/src/server/listen.ts';
import { openStore } from '../../gateway/src/store/index.ts';
import type { Store } from '../../gateway/src/store/index.ts';
import { forkChild } from './gateway/child.ts';
import type { Child } from './gateway/child.ts';
import { profileDuring, summariseProfile } from './gateway/profile.ts';
import { countingStore } from './gateway/store-calls.ts';
import type { CountingStore } from './gateway/store-calls.ts';
import type { ProfileSummary } from './gateway/profile.ts';
import type {
  FromLoad,
  FromNodeHost,
  LoadInit,
  Mode,
  NodeHostInit,
  StepRaw,
  ToLoad,
  ToNodeHost,
} from './gateway/protocol.ts';
import { variantQuery } from './gateway/variants.ts';
import {
  describeMachine,
  machineLine,
  markdownTable,
  REPO_ROOT,
  writeDocSection,
} from './report.ts';
import type { Machine } from './report.ts';

/** The gateway's targets on a 2-core machine. */
export const TARGETS = {
  /** Added latency at 3 nodes, at half the sustained rate. */
  addedP50Ms: 2,
  addedP99Ms: 10,
  /** Sustained queries per second at 3 nodes. */
  sustainedAt3: 1000,
  /** Gateway sustained rate / bare fan-out sustained rate, at every N. */
  fractionOfBare: 0.5,
} as const;

const DEFAULT_NODES = [3, 10, 30, 100];
const MAX_NODE_HOSTS = 10;
const PROJECT = 'bench';
const CLIENT = 'bench-researcher';
/** The production default (`nodes[].connections`); the bare fan-out uses the same. */
const CONNECTIONS_PER_NODE = 8;
const GATEWAY_CONNECTIONS = 256;
const WAIT_SEC = 10;
/** Queries per second; below it a step would hold too few requests to judge. */
const MIN_RATE = 0.5;
/** Rate refinements after the doubling phase: the answer is within 2^(1/4) (19 %). */
const REFINEMENTS = 2;
const WARM_UP_SEC = 2;
const MIN_REQUESTS = 5;
const IDLE_SEC = 3;
const SETTLE_MS = 300;
const PROFILE_DIR = join(REPO_ROOT, '.data', 'bench', 'gateway');
const HERE = fileURLToPath(new URL('./gateway/', import.meta.url));

interface Options {
  readonly nodes: readonly number[];
  readonly durationSec: number;
  readonly repeats: number;
  readonly delayMs: number;
  readonly budgetMs: number;
  readonly startRate: number;
  readonly maxRate: number;
  readonly profile: boolean;
  readonly doc: boolean;
  /** A line for the notes of the doc section (why the run was as it was). */
  readonly note: string | undefined;
}

function positive(text: string, flag: string, integer = true): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) {
    throw new RangeError(`${flag}: not a positive ${integer ? 'integer' : 'number'}: ${text}`);
  }
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
      'start-rate': { type: 'string' },
      'max-rate': { type: 'string' },
      profile: { type: 'boolean' },
      'no-doc': { type: 'boolean' },
      note: { type: 'string' },
    },
  });
  const nodes =
    values.nodes === undefined
      ? DEFAULT_NODES
      : values.nodes.split(',').map((s) => positive(s.trim(), '--nodes'));
  if (nodes.some((n) => n > 500)) throw new RangeError('--nodes: at most 500 (gateway config)');
  return {
    nodes,
    durationSec: values.duration === undefined ? 4 : positive(values.duration, '--duration', false),
    repeats: values.repeats === undefined ? 3 : positive(values.repeats, '--repeats'),
    delayMs: values.delay === undefined ? 5 : Number(values.delay),
    budgetMs: values.budget === undefined ? 100 : positive(values.budget, '--budget', false),
    startRate:
      values['start-rate'] === undefined ? 50 : positive(values['start-rate'], '--start-rate'),
    maxRate: values['max-rate'] === undefined ? 4000 : positive(values['max-rate'], '--max-rate'),
    profile: values.profile === true,
    doc: values['no-doc'] !== true,
    note: values.note,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench gateway ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// --- statistics ------------------------------------------------------------------

/** Nearest-rank percentile; NaN for no samples. */
function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One step, as judged: the raw counts plus percentiles and the gateway's CPU. */
interface Step {
  readonly mode: Mode;
  readonly rate: number;
  readonly pass: boolean;
  /** Why it failed, for the log. */
  readonly why: string;
  readonly raw: StepRaw;
  readonly budgetMs: number;
  readonly e2eP50: number;
  readonly e2eP99: number;
  readonly addedP50: number;
  readonly addedP99: number;
  readonly nodeP50: number;
  readonly lagP99: number;
  /** Completed answers per second over the step's duration. */
  readonly throughput: number;
  /** Gateway process CPU per successful query (gateway mode), ms. */
  readonly gatewayCpuPerQuery: number;
  /** Load generator CPU per successful query, ms (the bare fan-out's own cost in bare mode). */
  readonly loadCpuPerQuery: number;
}

function judge(raw: StepRaw, gatewayCpuMs: number, budgetMs: number): Step {
  const errors = Object.entries(raw.errors)
    .map(([reason, count]) => `${count}x ${reason}`)
    .join(', ');
  const e2eP99 = percentile(raw.e2eMs, 0.99);
  const why = [
    raw.overloaded ? `overloaded after ${raw.sent} of ${raw.scheduled}` : '',
    errors === '' ? '' : `errors: ${errors}`,
    raw.unfinished > 0 ? `${raw.unfinished} unanswered` : '',
    raw.ok > 0 && e2eP99 > budgetMs ? `p99 ${fmt(e2eP99)} ms > ${budgetMs} ms` : '',
    raw.ok === 0 ? 'no answer' : '',
  ]
    .filter((s) => s !== '')
    .join('; ');
  return {
    mode: raw.mode,
    rate: raw.rate,
    pass: why === '',
    why,
    raw,
    budgetMs,
    e2eP50: percentile(raw.e2eMs, 0.5),
    e2eP99,
    addedP50: percentile(raw.addedMs, 0.5),
    addedP99: percentile(raw.addedMs, 0.99),
    nodeP50: percentile(raw.nodeMs, 0.5),
    lagP99: percentile(raw.lagMs, 0.99),
    throughput: raw.ok / raw.durationSec,
    gatewayCpuPerQuery: raw.mode === 'gateway' && raw.ok > 0 ? gatewayCpuMs / raw.ok : Number.NaN,
    loadCpuPerQuery: raw.ok > 0 ? raw.cpuMs / raw.ok : Number.NaN,
  };
}

// --- formatting ----------------------------------------------------------------

/** Three significant digits, thousands separated. */
function fmt(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** Milliseconds with the unit, or n/a. */
function fmtMs(value: number): string {
  return Number.isFinite(value) ? `${fmt(value)} ms` : 'n/a';
}

function fmtRate(rate: number): string {
  return rate < 10
    ? String(Math.round(rate * 100) / 100)
    : Math.round(rate).toLocaleString('en-US');
}

/** A rate on the ladder: two significant digits, within [MIN_RATE, max]. */
function roundRate(rate: number, max: number): number {
  const clamped = Math.min(max, Math.max(MIN_RATE, rate));
  const scale = 10 ** (Math.floor(Math.log10(clamped)) - 1);
  return Math.min(max, Math.max(MIN_RATE, Math.round(clamped / scale) * scale));
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
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
      const query = variantQuery(i);
      const canonical = canonicalQuery(query);
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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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

async function metricValue(gatewayUrl: string, name: string): Promise<number> {
  const response = await fetch(`${gatewayUrl}/metrics`);
  const text = await response.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/** Waits until the gateway has no fan-out running (after a step that overloaded it). */
async function gatewayIdle(gatewayUrl: string): Promise<void> {
  const until = performance.now() + 30_000;
  while (performance.now() < until) {
    if ((await metricValue(gatewayUrl, 'tessera_gateway_queries_in_flight')) === 0) return;
    await sleep(200);
  }
  log('the gateway still had queries in flight after 30 s');
}

async function startPhase(
  n: number,
  options: Options,
  idp: TestIdp,
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

  log(`N=${n}: node processes ready`);
  const port = await freePort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const nodes = ids.map((id) => ({ id, url: urls.get(id)! }));
  const config = loadConfig<GatewayConfig>(gatewayConfigSchemaId, {
    publicUrl: gatewayUrl,
    oidc: { issuer: idp.issuer, audience: idp.audience },
    nodes,
    projects: {
      [PROJECT]: {
        nodes: ids,
        queriesPerMinute: 1_000_000_000,
        queriesPerDay: 1_000_000_000,
        repeatsPerWindow: 1_000_000_000,
      },
    },
    log: { level: 'warn' },
  });
  const gateway = await createGatewayService(config, { store, pollIntervalSec: 0 });
  const { server } = await listen(gateway.app, '127.0.0.1', port);
  log(`N=${n}: gateway listening at ${gatewayUrl}`);

  const loadInit: LoadInit = {
    gatewayUrl,
    token: await idp.tokenFor(CLIENT),
    project: PROJECT,
    nodes,
    connectionsPerNode: CONNECTIONS_PER_NODE,
    gatewayConnections: GATEWAY_CONNECTIONS,
    waitSec: WAIT_SEC,
  };
  const load = forkChild<ToLoad, FromLoad>(join(HERE, 'load.ts'), 'load generator', loadInit);
  await load.next((m): m is Extract<FromLoad, { type: 'ready' }> => m.type === 'ready');
  const phase: Phase = {
    n,
    hosts,
    load,
    gateway,
    server,
    gatewayUrl,
    bareCursor: 0,
    stepId: 0,
  };
  // Every variant made so far, to the new processes.
  await shipVariants(phase, {
    from: 0,
    hashes: pool.hashes.slice(0, pool.made),
    nodeQueries: pool.nodeQueries.slice(0, pool.made),
  });
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
      await shipVariants(phase, pool.extend(Math.max(pool.gatewayCursor, pool.made + 2000)));
    }
    variantLimit = Number.MAX_SAFE_INTEGER;
  } else {
    if (pool.made === 0) await shipVariants(phase, pool.extend(2000));
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
    // Under the budget, about rate x p99 requests are outstanding; far beyond it the step has failed.
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
  const step = judge(done.result, (used.user + used.system) / 1000, options.budgetMs);
  if (mode === 'gateway') await gatewayIdle(phase.gatewayUrl);
  await sleep(SETTLE_MS);
  return step;
}

function describeStep(n: number, step: Step): string {
  const head = `N=${n} ${step.mode.padEnd(7)} ${fmtRate(step.rate).padStart(5)}/s`;
  const figures =
    step.raw.ok === 0
      ? ''
      : `e2e p50 ${fmt(step.e2eP50)} p99 ${fmt(step.e2eP99)} ms, added p50 ${fmt(step.addedP50)} p99 ${fmt(step.addedP99)} ms` +
        (step.mode === 'gateway' ? `, gateway CPU ${fmt(step.gatewayCpuPerQuery)} ms/q` : '') +
        `, lag p99 ${fmt(step.lagP99)} ms`;
  return `${head}: ${step.pass ? 'ok  ' : 'FAIL'} ${figures}${step.pass ? '' : ` (${step.why})`}`;
}

interface Search {
  /** Highest arrival rate that passed (its repeats by majority); 0 when none did. */
  readonly sustained: number;
  /** True when the search stopped at --max-rate, not at a failure. */
  readonly capped: boolean;
  readonly steps: readonly Step[];
  /** The steps at the sustained rate. */
  readonly atSustained: readonly Step[];
}

/**
 * The highest arrival rate that passes: doubling (or halving) from `start`,
 * then REFINEMENTS bisections on a log scale, then the answer repeated until
 * `repeats` steps ran at it, a majority of which must pass (else one rung down).
 */
async function findSustained(
  phase: Phase,
  pool: VariantPool,
  options: Options,
  mode: Mode,
  start: number,
): Promise<Search> {
  const steps: Step[] = [];
  const run = async (rate: number): Promise<boolean> => {
    const step = await runStep(phase, pool, options, mode, rate);
    steps.push(step);
    log(describeStep(phase.n, step));
    return step.pass;
  };
  const clamp = (rate: number): number => roundRate(rate, options.maxRate);
  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  let rate = clamp(start);
  if (await run(rate)) {
    lo = rate;
    while (lo < options.maxRate) {
      rate = clamp(lo * 2);
      if (await run(rate)) lo = rate;
      else {
        hi = rate;
        break;
      }
    }
  } else {
    hi = rate;
    while (rate > MIN_RATE) {
      rate = clamp(rate / 2);
      if (await run(rate)) {
        lo = rate;
        break;
      }
      hi = rate;
    }
  }
  for (let i = 0; i < REFINEMENTS && lo > 0 && Number.isFinite(hi); i += 1) {
    const mid = clamp(Math.sqrt(lo * hi));
    if (mid <= lo || mid >= hi) break;
    if (await run(mid)) lo = mid;
    else hi = mid;
  }
  // Confirm by majority over `repeats` steps; a failed confirmation steps down once or twice.
  for (let fallbacks = 0; lo > 0 && fallbacks < 3; fallbacks += 1) {
    const at = (): Step[] => steps.filter((s) => s.rate === lo);
    while (at().length < options.repeats) await run(lo);
    const passed = at().filter((s) => s.pass).length;
    if (passed * 2 > at().length) break;
    hi = lo;
    lo = lo <= MIN_RATE ? 0 : clamp(lo / 2 ** 0.25);
  }
  return {
    sustained: lo,
    capped: lo >= options.maxRate,
    steps,
    atSustained: steps.filter((s) => s.rate === lo),
  };
}

interface PhaseResult {
  readonly n: number;
  readonly nodeHosts: number;
  readonly loadAtStart: number;
  readonly gateway: Search;
  readonly bare: Search;
  readonly halfRate: number;
  readonly half: { readonly gateway: readonly Step[]; readonly bare: readonly Step[] };
  readonly cacheHits: number;
  /** CPU of the gateway's process with no request, ms per second. */
  readonly idleCpuMsPerSec: number;
  readonly profile?: {
    readonly file: string;
    readonly summary: ProfileSummary;
    readonly step: Step;
    /** Gateway calls into its store per query sent, and their wall-clock time. */
    readonly storeCalls: readonly {
      readonly method: string;
      readonly perQuery: number;
      readonly msPerCall: number;
    }[];
  };
}

async function runPhase(
  n: number,
  options: Options,
  idp: TestIdp,
  store: Store,
  counted: CountingStore | undefined,
  pool: VariantPool,
  startRate: { gateway: number },
): Promise<PhaseResult> {
  const loadAtStart = loadavg()[0] ?? 0;
  log(
    `N=${n}: starting ${n} nodes in ${Math.min(n, MAX_NODE_HOSTS)} processes and the gateway (load ${loadAtStart.toFixed(2)})`,
  );
  const phase = await startPhase(n, options, idp, store, pool);
  try {
    // Warm-up: JIT, connections, the IdP's keys; not recorded.
    const warm = roundRate(Math.min(5, startRate.gateway), options.maxRate);
    await runStep(phase, pool, options, 'gateway', warm, WARM_UP_SEC);
    await runStep(phase, pool, options, 'bare', warm, WARM_UP_SEC);
    const idleFrom = process.cpuUsage();
    await sleep(IDLE_SEC * 1000);
    const idleUsed = process.cpuUsage(idleFrom);
    const idleCpuMsPerSec = (idleUsed.user + idleUsed.system) / 1000 / IDLE_SEC;
    log(`N=${n}: gateway process CPU while idle ${fmt(idleCpuMsPerSec)} ms/s`);

    const gateway = await findSustained(phase, pool, options, 'gateway', startRate.gateway);
    // The floor at the same rates: from the gateway's sustained rate upwards.
    const bare = await findSustained(
      phase,
      pool,
      options,
      'bare',
      Math.max(gateway.sustained, startRate.gateway),
    );

    // With no rate sustained, the latencies and CPU are taken at the lowest rate instead.
    const halfRate =
      gateway.sustained === 0 ? MIN_RATE : roundRate(gateway.sustained / 2, options.maxRate);
    const half = { gateway: [] as Step[], bare: [] as Step[] };
    for (let r = 0; r < options.repeats; r += 1) {
      for (const mode of ['gateway', 'bare'] as const) {
        const step = await runStep(phase, pool, options, mode, halfRate);
        log(`${describeStep(n, step)} [${gateway.sustained === 0 ? 'lowest' : 'half'} rate]`);
        half[mode].push(step);
      }
    }

    let profile: PhaseResult['profile'];
    if (counted !== undefined) {
      await mkdir(PROFILE_DIR, { recursive: true });
      const file = join(PROFILE_DIR, `gateway-${n}-nodes.cpuprofile`);
      counted.reset();
      const { value: step, profile: taken } = await profileDuring(file, () =>
        runStep(
          phase,
          pool,
          options,
          'gateway',
          gateway.sustained === 0 ? MIN_RATE : gateway.sustained,
        ),
      );
      log(`${describeStep(n, step)} [profiled, ${file}]`);
      const queries = step.raw.sent;
      const storeCalls = [...counted.snapshot()]
        .map(([method, c]) => ({
          method,
          perQuery: c.calls / queries,
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
      gateway,
      bare,
      halfRate,
      half,
      cacheHits,
      idleCpuMsPerSec,
      ...(profile ? { profile } : {}),
    };
  } finally {
    await stopPhase(phase);
  }
}

// --- report ------------------------------------------------------------------------

function sustainedText(search: Search): string {
  if (search.sustained === 0) return `< ${fmtRate(MIN_RATE)}`;
  return `${search.capped ? '>= ' : ''}${fmtRate(search.sustained)}`;
}

function fraction(result: PhaseResult): { value: number; text: string } {
  const g = result.gateway.sustained;
  const b = result.bare.sustained;
  if (b === 0) return { value: Number.NaN, text: 'n/a' };
  if (g === 0) return { value: 0, text: `< ${(MIN_RATE / b).toFixed(3)}` };
  const value = g / b;
  const bound = result.bare.capped && !result.gateway.capped ? '<= ' : '';
  return { value, text: `${bound}${value.toFixed(2)}` };
}

function medianOf(steps: readonly Step[], pick: (s: Step) => number): number {
  return median(steps.map(pick));
}

function resultsTable(results: readonly PhaseResult[]): string {
  const headers = [
    'nodes',
    'gateway sustained (q/s)',
    'bare fan-out sustained (q/s)',
    'gateway / bare',
    'half rate (q/s)',
    'added p50 / p99 (ms)',
    'bare added p50 / p99 (ms)',
    'e2e p50 / p99 (ms)',
    'gateway CPU / query',
    'one core / gateway CPU (q/s)',
    'bare CPU / query',
    'gateway p99 at sustained',
  ];
  const rows = results.map((r) => {
    const g = r.half.gateway;
    const b = r.half.bare;
    return [
      String(r.n),
      sustainedText(r.gateway),
      sustainedText(r.bare),
      fraction(r).text,
      r.gateway.sustained === 0 ? `${fmtRate(r.halfRate)} *` : fmtRate(r.halfRate),
      `${fmt(medianOf(g, (s) => s.addedP50))} / ${fmt(medianOf(g, (s) => s.addedP99))}`,
      `${fmt(medianOf(b, (s) => s.addedP50))} / ${fmt(medianOf(b, (s) => s.addedP99))}`,
      `${fmt(medianOf(g, (s) => s.e2eP50))} / ${fmt(medianOf(g, (s) => s.e2eP99))}`,
      fmtMs(medianOf(g, (s) => s.gatewayCpuPerQuery)),
      fmt(1000 / medianOf(g, (s) => s.gatewayCpuPerQuery)),
      fmtMs(medianOf(b, (s) => s.loadCpuPerQuery)),
      fmtMs(medianOf(r.gateway.atSustained, (s) => s.e2eP99)),
    ];
  });
  return markdownTable(headers, rows, [
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
  ]);
}

function targetsTable(results: readonly PhaseResult[]): string {
  const rows: string[][] = [];
  const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const at3 = results.find((r) => r.n === 3);
  if (at3 === undefined) {
    rows.push(['3-node targets', '', 'not run (no --nodes 3)', '']);
  } else {
    const p50 = medianOf(at3.half.gateway, (s) => s.addedP50);
    const p99 = medianOf(at3.half.gateway, (s) => s.addedP99);
    rows.push([
      'added latency p50, 3 nodes, half the sustained rate',
      `< ${TARGETS.addedP50Ms} ms`,
      `${fmt(p50)} ms at ${fmtRate(at3.halfRate)} q/s${at3.gateway.sustained === 0 ? ' *' : ''}`,
      verdict(p50 < TARGETS.addedP50Ms),
    ]);
    rows.push([
      'added latency p99, 3 nodes, half the sustained rate',
      `< ${TARGETS.addedP99Ms} ms`,
      `${fmt(p99)} ms at ${fmtRate(at3.halfRate)} q/s${at3.gateway.sustained === 0 ? ' *' : ''}`,
      verdict(p99 < TARGETS.addedP99Ms),
    ]);
    rows.push([
      'sustained query rate, 3 nodes',
      `>= ${fmtRate(TARGETS.sustainedAt3)} q/s`,
      `${sustainedText(at3.gateway)} q/s`,
      verdict(at3.gateway.sustained >= TARGETS.sustainedAt3),
    ]);
  }
  for (const r of results) {
    const f = fraction(r);
    rows.push([
      `gateway / bare fan-out throughput, ${r.n} nodes`,
      `>= ${TARGETS.fractionOfBare}`,
      `${f.text} (${sustainedText(r.gateway)} / ${sustainedText(r.bare)} q/s)`,
      Number.isNaN(f.value) ? 'n/a' : verdict(f.value >= TARGETS.fractionOfBare),
    ]);
  }
  return markdownTable(['target', 'goal', 'measured', ''], rows);
}

function stepsLine(search: Search): string {
  return search.steps.map((s) => `${fmtRate(s.rate)} ${s.pass ? 'ok' : 'fail'}`).join(', ');
}

/** Why steps failed, by kind, with how many steps failed that way. */
function failures(search: Search): string {
  const kinds = new Map<string, number>();
  const add = (kind: string): void => {
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  };
  for (const s of search.steps) {
    if (s.pass) continue;
    if (s.raw.overloaded) add('stopped sending: too many requests outstanding');
    if (s.raw.unfinished > 0) add('requests unanswered at the end');
    for (const reason of Object.keys(s.raw.errors)) add(reason);
    if (s.raw.ok > 0 && s.e2eP99 > s.budgetMs) add(`p99 over ${fmt(s.budgetMs)} ms`);
  }
  return [...kinds].map(([kind, steps]) => `${kind} (${steps})`).join('; ');
}

function storeCallsTable(calls: NonNullable<PhaseResult['profile']>['storeCalls']): string {
  const total = calls.reduce((sum, c) => sum + c.perQuery, 0);
  const totalMs = calls.reduce((sum, c) => sum + c.perQuery * c.msPerCall, 0);
  return markdownTable(
    ['store method', 'calls / query', 'ms / call', 'ms / query'],
    [
      ...calls.map((c) => [
        `\`${c.method}\``,
        fmt(c.perQuery),
        fmt(c.msPerCall),
        fmt(c.perQuery * c.msPerCall),
      ]),
      ['all', fmt(total), '', fmt(totalMs)],
    ],
    ['left', 'right', 'right', 'right'],
  );
}

function profileText(results: readonly PhaseResult[]): string {
  const parts: string[] = [];
  for (const r of results) {
    if (!r.profile) continue;
    const { summary, step, file, storeCalls } = r.profile;
    const rel = file.startsWith(REPO_ROOT) ? file.slice(REPO_ROOT.length) : file;
    parts.push(
      `#### ${r.n} nodes, at ${fmtRate(step.rate)} q/s (${step.pass ? 'passed' : `failed: ${step.why}`}; ${fmt(step.gatewayCpuPerQuery)} ms CPU per query while profiled)

Profile: \`${rel}\`; ${fmt(summary.busyMs)} ms of busy samples. Self time by area:

${markdownTable(
  ['area', 'self time', 'share'],
  summary.byArea.map((l) => [l.name, `${fmt(l.ms)} ms`, pct(l.share)]),
  ['left', 'right', 'right'],
)}

Self time by function:

${markdownTable(
  ['function', 'self time', 'share'],
  summary.selfByFunction.map((l) => [`\`${l.name}\``, `${fmt(l.ms)} ms`, pct(l.share)]),
  ['left', 'right', 'right'],
)}

Project functions, inclusive of what they call synchronously (time in PGlite's WebAssembly is not inside the caller: the store's queries run when PGlite gets to them):

${markdownTable(
  ['function', 'inclusive', 'share'],
  summary.inclusiveProject.map((l) => [`\`${l.name}\``, `${fmt(l.ms)} ms`, pct(l.share)]),
  ['left', 'right', 'right'],
)}

Gateway calls into its store per query in the same step (wall-clock per call, waiting for PGlite included):

${storeCallsTable(storeCalls)}`,
    );
  }
  return parts.join('\n\n');
}

function docBody(
  results: readonly PhaseResult[],
  options: Options,
  machine: Machine,
  command: string,
  startedAt: Date,
): string {
  const when = `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const loads = results.map((r) => `${r.n} nodes: ${r.loadAtStart.toFixed(2)}`).join(', ');
  const lag = results
    .map((r) => {
      const steps = [...r.half.gateway, ...r.half.bare];
      return `${r.n} nodes: ${fmt(median(steps.map((s) => s.lagP99)))} ms`;
    })
    .join(', ');
  const searches = results
    .map(
      (r) =>
        `  - ${r.n} nodes (${r.nodeHosts} node processes). Gateway: ${stepsLine(r.gateway)}. Bare fan-out: ${stepsLine(r.bare)}.` +
        (failures(r.gateway) === '' ? '' : ` Gateway failures: ${failures(r.gateway)}.`) +
        (failures(r.bare) === '' ? '' : ` Bare failures: ${failures(r.bare)}.`) +
        (r.cacheHits > 0 ? ` **${r.cacheHits} gateway answers came from the result cache.**` : ''),
    )
    .join('\n');
  const profiles = profileText(results);
  const idle = results.map((r) => `${r.n} nodes: ${fmt(r.idleCpuMsPerSec)} ms/s`).join(', ');
  const footnote = results.some((r) => r.gateway.sustained === 0)
    ? `\\* No rate was sustained: latencies and CPU taken at ${fmtRate(MIN_RATE)} q/s instead. `
    : '';
  const note = options.note === undefined ? '' : `\n- ${options.note}`;
  return `Command: \`${command}\`, run ${when} on ${machineLine(machine)}; 1-minute load average at the start ${machine.load.toFixed(2)} (at the start of each node count: ${loads}).

Setup: N simulated nodes, each its own \`node:http\` server on loopback, spread over at most ${MAX_NODE_HOSTS} child processes (one per node up to ${MAX_NODE_HOSTS} nodes), answering \`POST /v1/evaluate\` with a fixed, schema-valid NodeResult (5 age-band strata, 2 of them suppressed) after ${options.delayMs} ms, their own time in \`Server-Timing: app;dur=\` and in the result's \`elapsedMs\`; tokens are not checked. The gateway from \`createGatewayService\` in the benchmark's process: PGlite in a temporary directory, researcher tokens from the test OpenID provider (\`startTestIdp\`), an ES256 node token signed per node request, the project's rate limits set to 10^9, defaults otherwise (${CONNECTIONS_PER_NODE} connections per node, 256 concurrent queries, log level warn). Load from a child process of its own, open loop (request k leaves at k / rate, whatever became of the others): \`POST /v1/queries\` with \`Prefer: wait=${WAIT_SEC}\`, each request a different query variant (age bounds and \`asOf\` vary; hashes computed with \`queryHash\` before the step), so the result cache never answers. Bare fan-out: the same load generator sending the same \`/v1/evaluate\` bodies straight to every node with undici pools of the same size, no token, validation, state or merge. Source: \`tests/bench/gateway.ts\`, \`tests/bench/gateway/\`.

Method: ${options.durationSec} s per rate step. A rate is sustained when every request got a complete answer (gateway: a finished job, complete, right query hash, every node ok; bare: 200 from every node) and the end-to-end p99 is under ${options.budgetMs} ms. Rates double from ${options.startRate}/s (gateway at 3 nodes; later node counts start from the previous result scaled by the node count) until a step fails, then ${REFINEMENTS} bisections on a log scale; the answer is repeated to ${options.repeats} steps and must pass in a majority. The bare fan-out runs the same search starting at the gateway's sustained rate. Latencies run from the moment a request left the load generator to its complete answer; **added** latency is that minus the slowest node's own time (for the gateway from the node results inside the merged answer, for the bare fan-out from Server-Timing), so it contains loopback networking and the gateway's work. Latency and CPU columns are medians over ${options.repeats} steps at half the gateway's sustained rate, each step's p50 and p99 taken over its requests; gateway and bare steps interleaved. Gateway CPU: \`process.cpuUsage()\` of the gateway's process over the step (that process runs nothing else during a step) / answered queries; bare CPU: the load generator's CPU in bare mode / queries.

${resultsTable(results)}

${footnote}"one core / gateway CPU": 1000 ms over the gateway's CPU per query, the rate at which the gateway's thread (Express, the query pipeline and PGlite share it) would be busy all the time.

### Targets

${targetsTable(results)}

### Notes

- Rate steps (q/s, in order):
${searches}
- Gateway process CPU while idle (no request for ${IDLE_SEC} s, before the first step): ${idle}; it is part of every step's CPU, so at low rates it inflates the CPU per query.
- p99 lateness of the load generator's sends against their schedule (timer resolution, a busy machine), median over the half-rate steps: ${lag}.
- "gateway / bare" is the ratio of sustained rates; when the bare fan-out reached --max-rate (${options.maxRate}/s) it is an upper bound.${note}${profiles === '' ? '' : `\n\n### Profile\n\n${profiles}`}`;
}

function printSummary(results: readonly PhaseResult[]): void {
  process.stdout.write(`\n${resultsTable(results)}\n\n${targetsTable(results)}\n`);
  for (const r of results) {
    if (!r.profile) continue;
    const s = r.profile.summary;
    process.stdout.write(`\nprofile at ${r.n} nodes (${r.profile.file}):\n`);
    for (const l of s.byArea.slice(0, 8))
      process.stdout.write(`  ${pct(l.share).padStart(7)}  ${l.name}\n`);
    process.stdout.write('  inclusive, project functions:\n');
    for (const l of s.inclusiveProject.slice(0, 8)) {
      process.stdout.write(`  ${pct(l.share).padStart(7)}  ${l.name}\n`);
    }
    process.stdout.write(`${storeCallsTable(r.profile.storeCalls)}\n`);
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  const machine = describeMachine();
  const startedAt = new Date();
  const command = ['npm run bench -- gateway', ...argv].join(' ');
  log(
    `${machineLine(machine)}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const idp = await startTestIdp({
    clients: [CLIENT],
    projectsByClient: { [CLIENT]: [PROJECT] },
    accessTokenTtlSec: 3600,
  });
  const pool = new VariantPool();
  pool.extend(2000);
  // One gateway state store for the run (opening PGlite is slow); each node count gets
  // its own gateway on it. Node ids differ between node counts and every query variant
  // is sent once, so nothing cached by one node count can answer another.
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-gateway-'));
  const opened = performance.now();
  const openedStore = await openStore({ dataDir: join(dataDir, 'state') });
  // With --profile the gateway's store calls are counted (a Proxy; microseconds per call).
  const counted = options.profile ? countingStore(openedStore) : undefined;
  const store = counted?.store ?? openedStore;
  log(`gateway store (PGlite) opened in ${fmt((performance.now() - opened) / 1000)} s`);
  const results: PhaseResult[] = [];
  try {
    let previous: PhaseResult | undefined;
    for (const n of [...options.nodes].sort((a, b) => a - b)) {
      // A later node count starts near where the previous one ended, scaled by the fan-out width.
      const start =
        previous === undefined
          ? options.startRate
          : roundRate(
              Math.min(1, (2 * previous.n) / n) * previous.gateway.sustained,
              options.maxRate,
            );
      previous = await runPhase(n, options, idp, store, counted, pool, {
        gateway: start,
      });
      results.push(previous);
    }
  } finally {
    await openedStore.close();
    await rm(dataDir, { recursive: true, force: true });
    await idp.close();
  }

  printSummary(results);
  if (options.doc) {
    await writeDocSection(
      'Gateway',
      docBody(results, options, machine, command, startedAt),
      machine,
    );
    log('wrote the "## Gateway" section of docs/benchmarks.md');
  }
}
