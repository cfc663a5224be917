// The gateway benchmark's tables and its section of docs/benchmarks.md.
import { machineLine, markdownTable, REPO_ROOT } from '../report.ts';
import type { Machine } from '../report.ts';
import type { ProfileSummary } from './profile.ts';
import type { StoreKind } from './protocol.ts';
import { failureKinds, median, passes } from './search.ts';
import type { Search, Step } from './search.ts';

/** The gateway's targets on a 2-core machine, for each store. */
export const TARGETS = {
  /** Added latency at 3 nodes, at half the sustained rate. */
  addedP50Ms: 2,
  addedP99Ms: 10,
  /** Sustained queries per second at 3 nodes. */
  sustainedAt3: 1000,
  /** Gateway sustained rate / bare fan-out sustained rate, at every N. */
  fractionOfBare: 0.5,
  /** Resident memory of the gateway's process with no request, at every N (MB, 10^6 bytes). */
  rssIdleMb: 200,
  /** Peak resident memory of the gateway's process at the highest rate it carried, at every N. */
  rssUnderLoadMb: 400,
} as const;

export interface RunSettings {
  readonly durationSec: number;
  readonly repeats: number;
  readonly delayMs: number;
  readonly budgetMs: number;
  /** 0: no capacity search. */
  readonly capacityBudgetMs: number;
  readonly startRate: number;
  readonly minRate: number;
  readonly maxRate: number;
  readonly refinements: number;
  readonly maxNodeHosts: number;
  readonly connectionsPerNode: number;
  readonly waitSec: number;
  readonly idleSec: number;
  readonly rssSampleMs: number;
  readonly loopResolutionMs: number;
  readonly note: string | undefined;
  readonly stores: readonly StoreKind[];
}

export interface StoreCalls {
  readonly method: string;
  readonly perQuery: number;
  readonly msPerCall: number;
}

/** One store's gateway at one node count. */
export interface StoreResult {
  readonly store: StoreKind;
  readonly loadAtStart: number;
  /** CPU of the gateway's process with no request, after the warm-up, ms per second. */
  readonly idleCpuMsPerSec: number;
  /** Resident memory of the gateway's process after start-up and idleSec with no request. */
  readonly idleRssBytes: number;
  readonly gateway: { readonly latency: Search; readonly capacity: Search | undefined };
  /** Steps at half the gateway's sustained rate (or the fallback `basis`), bare steps interleaved. */
  readonly half: {
    readonly rate: number;
    readonly basis: 'sustained' | 'capacity' | 'lowest';
    readonly gateway: readonly Step[];
    readonly bare: readonly Step[];
  };
  readonly cacheHits: number;
  readonly profile?: {
    readonly file: string;
    readonly summary: ProfileSummary;
    readonly step: Step;
    readonly storeCalls: readonly StoreCalls[];
  };
}

/** One node count: the bare fan-out once, and each store's gateway. */
export interface PhaseResult {
  readonly n: number;
  readonly nodeHosts: number;
  readonly loadAtStart: number;
  readonly bare: { readonly latency: Search; readonly capacity: Search | undefined };
  readonly stores: readonly StoreResult[];
}

interface Row {
  readonly r: PhaseResult;
  readonly s: StoreResult;
}

function rowsOf(results: readonly PhaseResult[]): Row[] {
  return results.flatMap((r) => r.stores.map((s) => ({ r, s })));
}

// --- formatting --------------------------------------------------------------------

/** Three significant digits, thousands separated. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** Milliseconds with the unit, or n/a. */
export function fmtMs(value: number): string {
  return Number.isFinite(value) ? `${fmt(value)} ms` : 'n/a';
}

/** Bytes in MB (10^6 bytes), or n/a. */
export function fmtMb(bytes: number): string {
  return Number.isFinite(bytes) ? `${fmt(bytes / 1e6)} MB` : 'n/a';
}

export function fmtRate(rate: number): string {
  return rate < 10
    ? String(Math.round(rate * 100) / 100)
    : Math.round(rate).toLocaleString('en-US');
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

function pair(a: number, b: number): string {
  return `${fmt(a)} / ${fmt(b)}`;
}

function medianOf(steps: readonly Step[], pick: (s: Step) => number): number {
  return median(steps.map(pick));
}

function budgetText(ms: number): string {
  return ms >= 1000 ? `${fmt(ms / 1000)} s` : `${fmt(ms)} ms`;
}

/** A step in the log: `label` names the node count (and the store). */
export function describeStep(label: string, step: Step, budgetMs: number, tag = ''): string {
  const head = `${label} ${step.mode.padEnd(7)} ${fmtRate(step.rate).padStart(5)}/s`;
  const g = step.gateway;
  const figures =
    step.raw.ok === 0
      ? ''
      : `e2e p50 ${fmt(step.e2eP50)} p99 ${fmt(step.e2eP99)} ms, added p50 ${fmt(step.addedP50)} p99 ${fmt(step.addedP99)} ms` +
        (g === undefined
          ? ''
          : `, gateway CPU ${fmt(step.gatewayCpuPerQuery)} ms/q, loop delay p99 ${fmt(g.loopDelay.p99Ms)} ms, RSS peak ${fmtMb(g.peakRssBytes)}`) +
        `, lag p99 ${fmt(step.lagP99)} ms`;
  const kinds = failureKinds(step, budgetMs);
  const verdict = kinds.length === 0 ? 'ok  ' : 'FAIL';
  const why = kinds.length === 0 ? '' : ` (${kinds.join('; ')})`;
  return `${head}: ${verdict} ${figures}${why}${tag === '' ? '' : ` [${tag}]`}`;
}

function sustainedText(search: Search | undefined, minRate: number): string {
  if (search === undefined) return 'not run';
  if (search.sustained === 0) return `< ${fmtRate(minRate)}`;
  return `${search.capped ? '>= ' : ''}${fmtRate(search.sustained)}`;
}

export function fraction(
  gateway: Search | undefined,
  bare: Search | undefined,
  minRate: number,
): { value: number; text: string } {
  if (gateway === undefined || bare === undefined || bare.sustained === 0) {
    return { value: Number.NaN, text: 'n/a' };
  }
  if (gateway.sustained === 0) {
    return { value: 0, text: `< ${(minRate / bare.sustained).toFixed(3)}` };
  }
  const value = gateway.sustained / bare.sustained;
  const bound = bare.capped && !gateway.capped ? '<= ' : '';
  return { value, text: `${bound}${value.toFixed(2)}` };
}

// --- tables ------------------------------------------------------------------------

/**
 * The highest rate the gateway carried (capacity if measured, else the
 * latency budget's) and its steps, where fixed costs weigh least; with none
 * carried, the latency-table steps.
 */
export function carried(s: StoreResult): { rate: number; steps: readonly Step[] } {
  const top = s.gateway.capacity ?? s.gateway.latency;
  return top.sustained > 0
    ? { rate: top.sustained, steps: top.atSustained }
    : { rate: s.half.rate, steps: s.half.gateway };
}

/** Peak resident memory over the steps at the highest rate the gateway carried. */
export function rssUnderLoad(s: StoreResult): number {
  const peaks = carried(s).steps.map((x) => x.gateway?.peakRssBytes ?? Number.NaN);
  const finite = peaks.filter((p) => Number.isFinite(p));
  return finite.length === 0 ? Number.NaN : Math.max(...finite);
}

/** Peak resident memory over every step the gateway ran (failed ones included). */
function rssPeak(s: StoreResult): number {
  const steps = [
    ...s.gateway.latency.steps,
    ...(s.gateway.capacity?.steps ?? []),
    ...s.half.gateway,
    ...(s.profile ? [s.profile.step] : []),
  ];
  return Math.max(s.idleRssBytes, ...steps.map((x) => x.gateway?.peakRssBytes ?? 0));
}

export function throughputTable(results: readonly PhaseResult[], s: RunSettings): string {
  const lat = budgetText(s.budgetMs);
  const cap = budgetText(s.capacityBudgetMs);
  const capacity = s.capacityBudgetMs > 0;
  const headers = [
    'nodes',
    'store',
    `gateway, p99 < ${lat} (q/s)`,
    `bare, p99 < ${lat} (q/s)`,
    'gateway / bare',
    ...(capacity
      ? [`gateway, p99 < ${cap} (q/s)`, `bare, p99 < ${cap} (q/s)`, 'gateway / bare']
      : []),
    'gateway CPU / query',
    'one core / gateway CPU (q/s)',
    'bare CPU / query',
  ];
  const rows = rowsOf(results).map(({ r, s: store }) => {
    const bareTop = r.bare.capacity ?? r.bare.latency;
    const bareSteps = bareTop.sustained > 0 ? bareTop.atSustained : store.half.bare;
    const cpu = medianOf(carried(store).steps, (x) => x.gatewayCpuPerQuery);
    return [
      String(r.n),
      store.store,
      sustainedText(store.gateway.latency, s.minRate),
      sustainedText(r.bare.latency, s.minRate),
      fraction(store.gateway.latency, r.bare.latency, s.minRate).text,
      ...(capacity
        ? [
            sustainedText(store.gateway.capacity, s.minRate),
            sustainedText(r.bare.capacity, s.minRate),
            fraction(store.gateway.capacity, r.bare.capacity, s.minRate).text,
          ]
        : []),
      fmtMs(cpu),
      fmt(1000 / cpu),
      fmtMs(medianOf(bareSteps, (x) => x.loadCpuPerQuery)),
    ];
  });
  return markdownTable(
    headers,
    rows,
    headers.map((h) => (h === 'store' ? 'left' : 'right')),
  );
}

export function memoryTable(results: readonly PhaseResult[]): string {
  const headers = [
    'nodes',
    'store',
    'RSS idle',
    'RSS under load',
    'at (q/s)',
    'RSS peak, every step',
  ];
  const rows = rowsOf(results).map(({ r, s }) => [
    String(r.n),
    s.store,
    fmtMb(s.idleRssBytes),
    fmtMb(rssUnderLoad(s)),
    fmtRate(carried(s).rate),
    fmtMb(rssPeak(s)),
  ]);
  return markdownTable(
    headers,
    rows,
    headers.map((h) => (h === 'store' ? 'left' : 'right')),
  );
}

const BASIS_MARK = { sustained: '', capacity: ' †', lowest: ' *' } as const;

export function latencyTable(results: readonly PhaseResult[]): string {
  const headers = [
    'nodes',
    'store',
    'rate (q/s)',
    'gateway added p50 / p99 (ms)',
    'bare added p50 / p99 (ms)',
    'gateway e2e p50 / p99 (ms)',
    'bare e2e p50 / p99 (ms)',
    'slowest node p50 (ms)',
    'gateway CPU / query',
    'gateway event-loop delay p50 / p99 (ms)',
  ];
  const rows = rowsOf(results).map(({ r, s }) => {
    const g = s.half.gateway;
    const b = s.half.bare;
    return [
      String(r.n),
      s.store,
      `${fmtRate(s.half.rate)}${BASIS_MARK[s.half.basis]}`,
      pair(
        medianOf(g, (x) => x.addedP50),
        medianOf(g, (x) => x.addedP99),
      ),
      pair(
        medianOf(b, (x) => x.addedP50),
        medianOf(b, (x) => x.addedP99),
      ),
      pair(
        medianOf(g, (x) => x.e2eP50),
        medianOf(g, (x) => x.e2eP99),
      ),
      pair(
        medianOf(b, (x) => x.e2eP50),
        medianOf(b, (x) => x.e2eP99),
      ),
      fmt(medianOf(g, (x) => x.nodeP50)),
      fmtMs(medianOf(g, (x) => x.gatewayCpuPerQuery)),
      pair(
        medianOf(g, (x) => x.gateway?.loopDelay.p50Ms ?? Number.NaN),
        medianOf(g, (x) => x.gateway?.loopDelay.p99Ms ?? Number.NaN),
      ),
    ];
  });
  return markdownTable(
    headers,
    rows,
    headers.map((h) => (h === 'store' ? 'left' : 'right')),
  );
}

export function targetsTable(results: readonly PhaseResult[], s: RunSettings): string {
  const rows: string[][] = [];
  const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const maybe = (value: number, ok: boolean): string =>
    Number.isFinite(value) ? verdict(ok) : 'n/a';
  const at3 = results.find((r) => r.n === 3);
  for (const store of s.stores) {
    const mine = results.flatMap((r) =>
      r.stores.filter((x) => x.store === store).map((x) => ({ r, x })),
    );
    const three = at3?.stores.find((x) => x.store === store);
    if (at3 === undefined || three === undefined) {
      rows.push(['targets at 3 nodes', store, '', 'not run (no 3 in --nodes)', '']);
    } else {
      const mark = BASIS_MARK[three.half.basis];
      const p50 = medianOf(three.half.gateway, (x) => x.addedP50);
      const p99 = medianOf(three.half.gateway, (x) => x.addedP99);
      rows.push([
        'added latency p50, 3 nodes, half the sustained rate',
        store,
        `< ${TARGETS.addedP50Ms} ms`,
        `${fmtMs(p50)} at ${fmtRate(three.half.rate)} q/s${mark}`,
        maybe(p50, p50 < TARGETS.addedP50Ms),
      ]);
      rows.push([
        'added latency p99, 3 nodes, half the sustained rate',
        store,
        `< ${TARGETS.addedP99Ms} ms`,
        `${fmtMs(p99)} at ${fmtRate(three.half.rate)} q/s${mark}`,
        maybe(p99, p99 < TARGETS.addedP99Ms),
      ]);
      rows.push([
        `sustained query rate (p99 < ${budgetText(s.budgetMs)}), 3 nodes`,
        store,
        `>= ${fmtRate(TARGETS.sustainedAt3)} q/s`,
        `${sustainedText(three.gateway.latency, s.minRate)} q/s`,
        verdict(three.gateway.latency.sustained >= TARGETS.sustainedAt3),
      ]);
    }
    for (const { r, x } of mine) {
      for (const [gateway, bare, budget] of [
        [x.gateway.latency, r.bare.latency, s.budgetMs],
        [x.gateway.capacity, r.bare.capacity, s.capacityBudgetMs],
      ] as const) {
        if (gateway === undefined || bare === undefined) continue;
        const f = fraction(gateway, bare, s.minRate);
        rows.push([
          `gateway / bare fan-out throughput (p99 < ${budgetText(budget)}), ${r.n} nodes`,
          store,
          `>= ${TARGETS.fractionOfBare}`,
          `${f.text} (${sustainedText(gateway, s.minRate)} / ${sustainedText(bare, s.minRate)} q/s)`,
          maybe(f.value, f.value >= TARGETS.fractionOfBare),
        ]);
      }
    }
    for (const { r, x } of mine) {
      const idle = x.idleRssBytes / 1e6;
      rows.push([
        `gateway resident memory, idle, ${r.n} nodes`,
        store,
        `< ${TARGETS.rssIdleMb} MB`,
        fmtMb(x.idleRssBytes),
        maybe(idle, idle < TARGETS.rssIdleMb),
      ]);
      const load = rssUnderLoad(x) / 1e6;
      rows.push([
        `gateway resident memory under load, ${r.n} nodes`,
        store,
        `< ${TARGETS.rssUnderLoadMb} MB`,
        `${fmtMb(rssUnderLoad(x))} at ${fmtRate(carried(x).rate)} q/s`,
        maybe(load, load < TARGETS.rssUnderLoadMb),
      ]);
    }
  }
  return markdownTable(['target', 'store', 'goal', 'measured', ''], rows);
}

// --- notes and profiles -----------------------------------------------------------

function stepsLine(search: Search): string {
  return search.steps
    .map((x) => `${fmtRate(x.rate)} ${passes(x, search.budgetMs) ? 'ok' : 'fail'}`)
    .join(', ');
}

/** Why the steps of a search failed, by kind, with how many steps failed that way. */
function failures(search: Search): string {
  const kinds = new Map<string, number>();
  for (const step of search.steps) {
    for (const kind of failureKinds(step, search.budgetMs)) {
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
  }
  return [...kinds].map(([kind, steps]) => `${kind} (${steps})`).join('; ');
}

function searchLines(r: PhaseResult): string {
  const lines: string[] = [];
  const add = (label: string, search: Search | undefined): void => {
    if (search === undefined) return;
    const why = failures(search);
    lines.push(
      `    - ${label}, p99 < ${budgetText(search.budgetMs)}: ${stepsLine(search)}${why === '' ? '' : `. Failures: ${why}`}.`,
    );
  };
  add('bare fan-out', r.bare.latency);
  add('bare fan-out', r.bare.capacity);
  const cached: string[] = [];
  for (const s of r.stores) {
    add(`gateway on ${s.store}`, s.gateway.latency);
    add(`gateway on ${s.store}`, s.gateway.capacity);
    if (s.cacheHits > 0) cached.push(`${s.cacheHits} on ${s.store}`);
  }
  const cache =
    cached.length > 0 ? ` **Gateway answers from the result cache: ${cached.join(', ')}.**` : '';
  return `  - ${r.n} nodes (${r.nodeHosts} node processes):${cache}\n${lines.join('\n')}`;
}

export function storeCallsTable(calls: readonly StoreCalls[]): string {
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

function profileText(results: readonly PhaseResult[], budgetMs: number): string {
  const parts: string[] = [];
  for (const { r, s } of rowsOf(results)) {
    if (!s.profile) continue;
    const { summary, step, file, storeCalls } = s.profile;
    const rel = file.startsWith(REPO_ROOT) ? file.slice(REPO_ROOT.length) : file;
    const kinds = failureKinds(step, budgetMs);
    const outcome = kinds.length === 0 ? 'passed' : `failed: ${kinds.join('; ')}`;
    parts.push(`#### ${r.n} nodes, ${s.store}, at ${fmtRate(step.rate)} q/s

${outcome}; ${fmtMs(step.gatewayCpuPerQuery)} of gateway process CPU per query while profiled (the profiler costs some). Profile: \`${rel}\`, ${fmt(summary.busyMs)} ms of busy samples on the gateway's main thread.

Self time by area (Node core and native code counted to the package or project code that called it):

${markdownTable(
  ['area', 'self time', 'share'],
  summary.byArea.map((l) => [l.name, fmtMs(l.ms), pct(l.share)]),
  ['left', 'right', 'right'],
)}

Self time by function:

${markdownTable(
  ['function', 'self time', 'share'],
  summary.selfByFunction.map((l) => [`\`${l.name}\``, fmtMs(l.ms), pct(l.share)]),
  ['left', 'right', 'right'],
)}

Project functions, including what they call synchronously (a store statement runs when the database gets to it, so its time is not inside the caller):

${markdownTable(
  ['function', 'inclusive', 'share'],
  summary.inclusiveProject.map((l) => [`\`${l.name}\``, fmtMs(l.ms), pct(l.share)]),
  ['left', 'right', 'right'],
)}

The gateway's calls into its store per query in the same step (wall-clock per call, waiting for the database included):

${storeCallsTable(storeCalls)}`);
  }
  return parts.join('\n\n');
}

export interface DocInput {
  readonly results: readonly PhaseResult[];
  readonly settings: RunSettings;
  readonly machine: Machine;
  readonly command: string;
  readonly startedAt: Date;
}

const STORE_TEXT: Readonly<Record<StoreKind, string>> = {
  pglite: 'PGlite in a temporary directory (the same directory for every node count)',
  postgres:
    'the PostgreSQL server of the machine (`DATABASE_URL`, in a schema of its own, dropped afterwards)',
};

export function docBody({ results, settings: s, machine, command, startedAt }: DocInput): string {
  const when = `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const rows = rowsOf(results);
  const perRow = (text: (x: StoreResult) => string): string =>
    rows.map(({ r, s: x }) => `${r.n} nodes ${x.store}: ${text(x)}`).join(', ');
  const loads = perRow((x) => x.loadAtStart.toFixed(2));
  const idle = perRow((x) => `${fmt(x.idleCpuMsPerSec)} ms/s`);
  const lag = perRow((x) =>
    fmtMs(median([...x.half.gateway, ...x.half.bare].map((y) => y.lagP99))),
  );
  const marks = [
    rows.some(({ s: x }) => x.half.basis === 'capacity')
      ? `† No rate was sustained under ${budgetText(s.budgetMs)}: the steps ran at half the rate sustained under ${budgetText(s.capacityBudgetMs)}.`
      : '',
    rows.some(({ s: x }) => x.half.basis === 'lowest')
      ? `\\* No rate was sustained: the steps ran at the lowest rate, ${fmtRate(s.minRate)} q/s.`
      : '',
  ]
    .filter((m) => m !== '')
    .join(' ');
  const capacity =
    s.capacityBudgetMs > 0
      ? ` The same search with a p99 budget of ${budgetText(s.capacityBudgetMs)} gives the rate each one carries when latency matters less (its capacity); it reuses the steps already run.`
      : '';
  const stores = s.stores.map((k) => `on ${STORE_TEXT[k]}`).join('; then ');
  const profiles = profileText(results, s.capacityBudgetMs > 0 ? s.capacityBudgetMs : s.budgetMs);
  const note = s.note === undefined ? '' : `\n- ${s.note}`;
  return `Command: \`${command}\`, run ${when} on ${machineLine(machine)}; 1-minute load average at the start ${machine.load.toFixed(2)} (at the start of each store's gateway: ${loads}).

Setup: N simulated nodes, each its own \`node:http\` server on loopback, spread over at most ${s.maxNodeHosts} child processes (one per node up to ${s.maxNodeHosts} nodes), answering \`POST /v1/evaluate\` with a fixed, schema-valid NodeResult (5 age-band strata, 2 of them suppressed) after ${s.delayMs} ms, with their own time in \`Server-Timing: app;dur=\` and in the result's \`elapsedMs\`; tokens are not checked. The gateway from \`createGatewayService\` in a child process of its own, listening on loopback, a fresh process for each store and node count, ${stores}. Researcher tokens from the test OpenID provider (\`startTestIdp\`, in a child process), an ES256 node token signed per node request, the project's rate limits set to 10^9 and the researcher's share of the replica to all of it (the load is one researcher standing for many), defaults otherwise (${s.connectionsPerNode} connections per node, 256 concurrent queries, log level warn). Load from a child process of its own, open loop (request k leaves at k / rate, whatever became of the others): \`POST /v1/queries\` with \`Prefer: wait=${s.waitSec}\`, each request a different query variant (age bounds and \`asOf\` vary; hashes computed with \`queryHash\` before the step), so the result cache never answers. Bare fan-out: the same load generator sending the same \`/v1/evaluate\` bodies straight to every node with undici pools of the same size, with no token, validation, state or merge. The benchmark's own process only starts the others and collects their figures. Source: \`tests/bench/gateway.ts\`, \`tests/bench/gateway/\`.

Method: ${s.durationSec} s per rate step (longer at slow rates, so that a step holds at least 5 requests). A rate is sustained when every request got a complete answer (gateway: a finished job, complete, with the right query hash and every node ok; bare: 200 from every node) and the end-to-end p99 is under ${budgetText(s.budgetMs)}. Rates double from ${fmtRate(s.startRate)}/s at the first node count (later node counts start from the previous result scaled by the node count) until a step fails, then ${s.refinements} bisections on a log scale; the answer is repeated to ${s.repeats} steps, a majority of which must pass. At each node count the bare fan-out's search runs once, before any gateway process is started, and each store's gateway is compared with it; then each store's gateway runs the same search in turn.${capacity} Latencies run from the moment a request left the load generator to its complete answer; **added** latency is that minus the slowest node's own time (for the gateway from the node results kept in the merged answer, for the bare fan-out from Server-Timing), so it holds the loopback round trips and everything the gateway does. The latency table gives medians over ${s.repeats} steps at half the gateway's sustained rate (each step's p50 and p99 taken over its requests), gateway and bare steps interleaved (the bare steps run again for each store, at its rate). The gateway's process answers for itself, over each step (from just before its first request until the gateway runs no query): **CPU** is its \`process.cpuUsage()\` (every thread of the process, a PGlite worker thread included; not the PostgreSQL server's, which is another process) / answered queries, in the throughput table at the highest rate carried, where fixed costs weigh least; bare CPU is the load generator's CPU in bare mode / queries. **Resident memory** is its RSS (\`process.memoryUsage.rss()\`, sampled every ${s.rssSampleMs} ms): idle after start-up and ${s.idleSec} s with no request, before the warm-up steps; under load the peak sampled during the steps at the highest rate carried (the rate of the CPU column). **Event-loop delay** comes from \`monitorEventLoopDelay\` (resolution ${s.loopResolutionMs} ms) in the gateway's process, reset at the start of each step, less the ${s.loopResolutionMs} ms sampling interval (the gateway's own \`tessera_gateway_nodejs_eventloop_lag_*\` metrics include it); the latency table gives the medians over its steps of each step's p50 and p99. With \`--profile\`, the gateway's store calls are counted in its process (a proxy around the store) and a CPU profile of its main thread is taken there, in one more step at the highest rate carried; its store calls per query include the writes the gateway leaves to the background after its last answers.

### Throughput

${throughputTable(results, s)}

"one core / gateway CPU": 1000 ms over the gateway's CPU per query, the rate at which the gateway's process would keep one core busy all the time.

### Resident memory

${memoryTable(results)}

RSS of the gateway's process in MB (10^6 bytes). "Under load": the peak over the steps at the rate given; "every step": the peak over every step the gateway ran, failed and overloaded ones included.

### Latency

${latencyTable(results)}
${marks === '' ? '' : `\n${marks}\n`}
### Targets

${targetsTable(results, s)}

### Notes

- Rate steps (q/s, in the order run):
${results.map(searchLines).join('\n')}
- Gateway process CPU with no request for ${s.idleSec} s after the warm-up steps, before the first search step: ${idle}; it is in every step's CPU, so at slow rates it raises the CPU per query.
- p99 lateness of the load generator's sends against their schedule (timer resolution, a busy machine), median over the latency-table steps: ${lag}.
- "gateway / bare" is the ratio of sustained rates; when the bare fan-out reached --max-rate (${fmtRate(s.maxRate)}/s) it is an upper bound.${note}${profiles === '' ? '' : `\n\n### Profile\n\nThe profile samples the gateway's main thread only: statements the store runs in a thread or process of its own (PostgreSQL; PGlite in a worker thread) show there only as the time spent sending them and reading their rows.\n\n${profiles}`}`;
}

export function printSummary(results: readonly PhaseResult[], s: RunSettings): void {
  const out: string[] = [
    '',
    throughputTable(results, s),
    '',
    memoryTable(results),
    '',
    latencyTable(results),
    '',
    targetsTable(results, s),
  ];
  for (const { r, s: x } of rowsOf(results)) {
    if (!x.profile) continue;
    const p = x.profile.summary;
    out.push('', `profile at ${r.n} nodes on ${x.store} (${x.profile.file}):`);
    for (const l of p.byArea.slice(0, 8)) out.push(`  ${pct(l.share).padStart(7)}  ${l.name}`);
    out.push('  inclusive, project functions:');
    for (const l of p.inclusiveProject.slice(0, 8))
      out.push(`  ${pct(l.share).padStart(7)}  ${l.name}`);
    out.push(`store calls per query at ${r.n} nodes on ${x.store}:`);
    out.push(storeCallsTable(x.profile.storeCalls));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
