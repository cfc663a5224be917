// The gateway benchmark's tables and its section of docs/benchmarks.md.
import { machineLine, markdownTable, REPO_ROOT } from '../report.ts';
import type { Machine } from '../report.ts';
import type { ProfileSummary } from './profile.ts';
import { failureKinds, median, passes } from './search.ts';
import type { Search, Step } from './search.ts';

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
  readonly note: string | undefined;
  readonly store: 'pglite' | 'postgres';
}

export interface StoreCalls {
  readonly method: string;
  readonly perQuery: number;
  readonly msPerCall: number;
}

export interface PhaseResult {
  readonly n: number;
  readonly nodeHosts: number;
  readonly loadAtStart: number;
  /** CPU of the gateway's process with no request, ms per second. */
  readonly idleCpuMsPerSec: number;
  readonly gateway: { readonly latency: Search; readonly capacity: Search | undefined };
  readonly bare: { readonly latency: Search; readonly capacity: Search | undefined };
  /** Steps at half the gateway's sustained rate (or the fallback `basis`). */
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

export function describeStep(n: number, step: Step, budgetMs: number, tag = ''): string {
  const head = `N=${n} ${step.mode.padEnd(7)} ${fmtRate(step.rate).padStart(5)}/s`;
  const figures =
    step.raw.ok === 0
      ? ''
      : `e2e p50 ${fmt(step.e2eP50)} p99 ${fmt(step.e2eP99)} ms, added p50 ${fmt(step.addedP50)} p99 ${fmt(step.addedP99)} ms` +
        (step.mode === 'gateway' ? `, gateway CPU ${fmt(step.gatewayCpuPerQuery)} ms/q` : '') +
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

export function throughputTable(results: readonly PhaseResult[], s: RunSettings): string {
  const lat = budgetText(s.budgetMs);
  const cap = budgetText(s.capacityBudgetMs);
  const capacity = s.capacityBudgetMs > 0;
  const headers = [
    'nodes',
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
  const rows = results.map((r) => {
    // CPU at the highest rate the gateway carried (capacity if measured), where fixed costs weigh least.
    const top = r.gateway.capacity ?? r.gateway.latency;
    const cpuSteps = top.sustained > 0 ? top.atSustained : r.half.gateway;
    const bareTop = r.bare.capacity ?? r.bare.latency;
    const bareSteps = bareTop.sustained > 0 ? bareTop.atSustained : r.half.bare;
    const cpu = medianOf(cpuSteps, (x) => x.gatewayCpuPerQuery);
    return [
      String(r.n),
      sustainedText(r.gateway.latency, s.minRate),
      sustainedText(r.bare.latency, s.minRate),
      fraction(r.gateway.latency, r.bare.latency, s.minRate).text,
      ...(capacity
        ? [
            sustainedText(r.gateway.capacity, s.minRate),
            sustainedText(r.bare.capacity, s.minRate),
            fraction(r.gateway.capacity, r.bare.capacity, s.minRate).text,
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
    headers.map(() => 'right'),
  );
}

const BASIS_MARK = { sustained: '', capacity: ' †', lowest: ' *' } as const;

export function latencyTable(results: readonly PhaseResult[]): string {
  const headers = [
    'nodes',
    'rate (q/s)',
    'gateway added p50 / p99 (ms)',
    'bare added p50 / p99 (ms)',
    'gateway e2e p50 / p99 (ms)',
    'bare e2e p50 / p99 (ms)',
    'slowest node p50 (ms)',
    'gateway CPU / query',
  ];
  const rows = results.map((r) => {
    const g = r.half.gateway;
    const b = r.half.bare;
    return [
      String(r.n),
      `${fmtRate(r.half.rate)}${BASIS_MARK[r.half.basis]}`,
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
    ];
  });
  return markdownTable(
    headers,
    rows,
    headers.map(() => 'right'),
  );
}

export function targetsTable(results: readonly PhaseResult[], s: RunSettings): string {
  const rows: string[][] = [];
  const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const at3 = results.find((r) => r.n === 3);
  if (at3 === undefined) {
    rows.push(['targets at 3 nodes', '', 'not run (no 3 in --nodes)', '']);
  } else {
    const mark = BASIS_MARK[at3.half.basis];
    const p50 = medianOf(at3.half.gateway, (x) => x.addedP50);
    const p99 = medianOf(at3.half.gateway, (x) => x.addedP99);
    rows.push([
      'added latency p50, 3 nodes, half the sustained rate',
      `< ${TARGETS.addedP50Ms} ms`,
      `${fmtMs(p50)} at ${fmtRate(at3.half.rate)} q/s${mark}`,
      verdict(p50 < TARGETS.addedP50Ms),
    ]);
    rows.push([
      'added latency p99, 3 nodes, half the sustained rate',
      `< ${TARGETS.addedP99Ms} ms`,
      `${fmtMs(p99)} at ${fmtRate(at3.half.rate)} q/s${mark}`,
      verdict(p99 < TARGETS.addedP99Ms),
    ]);
    const sustained = at3.gateway.latency.sustained;
    rows.push([
      `sustained query rate (p99 < ${budgetText(s.budgetMs)}), 3 nodes`,
      `>= ${fmtRate(TARGETS.sustainedAt3)} q/s`,
      `${sustainedText(at3.gateway.latency, s.minRate)} q/s`,
      verdict(sustained >= TARGETS.sustainedAt3),
    ]);
  }
  for (const r of results) {
    for (const [gateway, bare, budget] of [
      [r.gateway.latency, r.bare.latency, s.budgetMs],
      [r.gateway.capacity, r.bare.capacity, s.capacityBudgetMs],
    ] as const) {
      if (gateway === undefined || bare === undefined) continue;
      const f = fraction(gateway, bare, s.minRate);
      rows.push([
        `gateway / bare fan-out throughput (p99 < ${budgetText(budget)}), ${r.n} nodes`,
        `>= ${TARGETS.fractionOfBare}`,
        `${f.text} (${sustainedText(gateway, s.minRate)} / ${sustainedText(bare, s.minRate)} q/s)`,
        Number.isNaN(f.value) ? 'n/a' : verdict(f.value >= TARGETS.fractionOfBare),
      ]);
    }
  }
  return markdownTable(['target', 'goal', 'measured', ''], rows);
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
  add('gateway', r.gateway.latency);
  add('gateway', r.gateway.capacity);
  add('bare fan-out', r.bare.latency);
  add('bare fan-out', r.bare.capacity);
  const cache =
    r.cacheHits > 0 ? ` **${r.cacheHits} gateway answers came from the result cache.**` : '';
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
  for (const r of results) {
    if (!r.profile) continue;
    const { summary, step, file, storeCalls } = r.profile;
    const rel = file.startsWith(REPO_ROOT) ? file.slice(REPO_ROOT.length) : file;
    const kinds = failureKinds(step, budgetMs);
    const outcome = kinds.length === 0 ? 'passed' : `failed: ${kinds.join('; ')}`;
    parts.push(`#### ${r.n} nodes, at ${fmtRate(step.rate)} q/s

${outcome}; ${fmtMs(step.gatewayCpuPerQuery)} of gateway CPU per query while profiled (the profiler costs some). Profile: \`${rel}\`, ${fmt(summary.busyMs)} ms of busy samples.

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

Project functions, including what they call synchronously (PGlite runs a statement when it gets to it, so its time is not inside the caller):

${markdownTable(
  ['function', 'inclusive', 'share'],
  summary.inclusiveProject.map((l) => [`\`${l.name}\``, fmtMs(l.ms), pct(l.share)]),
  ['left', 'right', 'right'],
)}

The gateway's calls into its store per query in the same step (wall-clock per call, waiting for PGlite included):

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

export function docBody({ results, settings: s, machine, command, startedAt }: DocInput): string {
  const when = `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const loads = results.map((r) => `${r.n} nodes: ${r.loadAtStart.toFixed(2)}`).join(', ');
  const idle = results.map((r) => `${r.n} nodes: ${fmt(r.idleCpuMsPerSec)} ms/s`).join(', ');
  const lag = results
    .map(
      (r) =>
        `${r.n} nodes: ${fmtMs(median([...r.half.gateway, ...r.half.bare].map((x) => x.lagP99)))}`,
    )
    .join(', ');
  const marks = [
    results.some((r) => r.half.basis === 'capacity')
      ? `† No rate was sustained under ${budgetText(s.budgetMs)}: the steps ran at half the rate sustained under ${budgetText(s.capacityBudgetMs)}.`
      : '',
    results.some((r) => r.half.basis === 'lowest')
      ? `\\* No rate was sustained: the steps ran at the lowest rate, ${fmtRate(s.minRate)} q/s.`
      : '',
  ]
    .filter((m) => m !== '')
    .join(' ');
  const capacity =
    s.capacityBudgetMs > 0
      ? ` The same search with a p99 budget of ${budgetText(s.capacityBudgetMs)} gives the rate each one carries when latency matters less (its capacity); it reuses the steps already run.`
      : '';
  const profiles = profileText(results, s.capacityBudgetMs > 0 ? s.capacityBudgetMs : s.budgetMs);
  const note = s.note === undefined ? '' : `\n- ${s.note}`;
  return `Command: \`${command}\`, run ${when} on ${machineLine(machine)}; 1-minute load average at the start ${machine.load.toFixed(2)} (at the start of each node count: ${loads}).

Setup: N simulated nodes, each its own \`node:http\` server on loopback, spread over at most ${s.maxNodeHosts} child processes (one per node up to ${s.maxNodeHosts} nodes), answering \`POST /v1/evaluate\` with a fixed, schema-valid NodeResult (5 age-band strata, 2 of them suppressed) after ${s.delayMs} ms, with their own time in \`Server-Timing: app;dur=\` and in the result's \`elapsedMs\`; tokens are not checked. The gateway from \`createGatewayService\` in the benchmark's process, ${s.store === 'pglite' ? 'on PGlite in a temporary directory' : 'on the PostgreSQL server of the machine (a schema of its own)'}; researcher tokens from the test OpenID provider (\`startTestIdp\`, in a child process), an ES256 node token signed per node request, the project's rate limits set to 10^9 and the researcher's share of the replica to all of it (the load is one researcher standing for many), defaults otherwise (${s.connectionsPerNode} connections per node, 256 concurrent queries, log level warn). Load from a child process of its own, open loop (request k leaves at k / rate, whatever became of the others): \`POST /v1/queries\` with \`Prefer: wait=${s.waitSec}\`, each request a different query variant (age bounds and \`asOf\` vary; hashes computed with \`queryHash\` before the step), so the result cache never answers. Bare fan-out: the same load generator sending the same \`/v1/evaluate\` bodies straight to every node with undici pools of the same size, with no token, validation, state or merge. Source: \`tests/bench/gateway.ts\`, \`tests/bench/gateway/\`.

Method: ${s.durationSec} s per rate step (longer at slow rates, so that a step holds at least 5 requests). A rate is sustained when every request got a complete answer (gateway: a finished job, complete, with the right query hash and every node ok; bare: 200 from every node) and the end-to-end p99 is under ${budgetText(s.budgetMs)}. Rates double from ${fmtRate(s.startRate)}/s at 3 nodes (later node counts start from the previous result scaled by the node count) until a step fails, then ${s.refinements} bisections on a log scale; the answer is repeated to ${s.repeats} steps, a majority of which must pass. The bare fan-out runs the same search.${capacity} Latencies run from the moment a request left the load generator to its complete answer; **added** latency is that minus the slowest node's own time (for the gateway from the node results kept in the merged answer, for the bare fan-out from Server-Timing), so it holds the loopback round trips and everything the gateway does. The latency table gives medians over ${s.repeats} steps at half the gateway's sustained rate (each step's p50 and p99 taken over its requests), gateway and bare steps interleaved. Gateway CPU: \`process.cpuUsage()\` of the gateway's process over a step (it runs nothing else then) / answered queries, in the throughput table at the highest rate carried, where fixed costs weigh least; bare CPU: the load generator's CPU in bare mode / queries.

### Throughput

${throughputTable(results, s)}

"one core / gateway CPU": 1000 ms over the gateway's CPU per query, the rate at which the gateway's one thread (Express, the query pipeline and PGlite all run on it) would be busy all the time.

### Latency

${latencyTable(results)}
${marks === '' ? '' : `\n${marks}\n`}
### Targets

${targetsTable(results, s)}

### Notes

- Rate steps (q/s, in the order run):
${results.map(searchLines).join('\n')}
- Gateway process CPU with no request for ${s.idleSec} s before the first step: ${idle}; it is in every step's CPU, so at slow rates it raises the CPU per query.
- p99 lateness of the load generator's sends against their schedule (timer resolution, a busy machine), median over the latency-table steps: ${lag}.
- "gateway / bare" is the ratio of sustained rates; when the bare fan-out reached --max-rate (${fmtRate(s.maxRate)}/s) it is an upper bound.${note}${profiles === '' ? '' : `\n\n### Profile\n\n${profiles}`}`;
}

export function printSummary(results: readonly PhaseResult[], s: RunSettings): void {
  const out: string[] = [
    '',
    throughputTable(results, s),
    '',
    latencyTable(results),
    '',
    targetsTable(results, s),
  ];
  for (const r of results) {
    if (!r.profile) continue;
    const p = r.profile.summary;
    out.push('', `profile at ${r.n} nodes (${r.profile.file}):`);
    for (const l of p.byArea.slice(0, 8)) out.push(`  ${pct(l.share).padStart(7)}  ${l.name}`);
    out.push('  inclusive, project functions:');
    for (const l of p.inclusiveProject.slice(0, 8))
      out.push(`  ${pct(l.share).padStart(7)}  ${l.name}`);
    out.push(storeCallsTable(r.profile.storeCalls));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
