// The node adapter benchmark: `npm run bench -- node [flags]`.
//
// Per population size, each phase in a forked process: generation time,
// ingest rate and store size (node-prepare.ts; data and stores cached under
// .data/bench/node/, keyed by region, size and seed, so reruns skip both),
// then the query phase (node-queries.ts): latencies of the engine, of the compiled statement alone,
// of hand-written DuckDB SQL and of the brute-force oracle, and the resident
// memory of a process serving queries from the store. Prints the tables and
// rewrites the "## Node adapter" section of docs/benchmarks.md.
//
// Flags: --sizes 10000,100000,1000000  --runs 20  --seed 1  --region sachsen
//        --fresh (regenerate and re-ingest)  --no-oracle  --no-doc
//        --explain <query id,...> (EXPLAIN ANALYZE plans into .data/bench/node/explain/)
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isRegionId } from '@tessera/node-adapter';
import type { RegionId } from '@tessera/node-adapter';
import { AS_OF, QUERIES, WARM_UP_RUNS } from './node-queries.ts';
import type { QueryPhaseInput, QueryPhaseResult, QueryTiming } from './node-queries.ts';
import type { PrepareInput, Prepared } from './node-prepare.ts';
import {
  describeMachine,
  machineLine,
  markdownTable,
  REPO_ROOT,
  writeDocSection,
} from './report.ts';
import type { Machine } from './report.ts';
import type { Stats } from './stats.ts';

const DEFAULT_SIZES = [10_000, 100_000, 1_000_000];
const DEFAULT_RUNS = 20;
const DATA_ROOT = join(REPO_ROOT, '.data', 'bench', 'node');
/** The oracle's parsed data may take this much heap; larger populations skip the oracle. */
const ORACLE_MEMORY_LIMIT = 8e9;
/** Heap bytes per resource of the oracle's data until a run has measured it (10k patients, sachsen). */
const ORACLE_BYTES_PER_RESOURCE = 600;
const QUERY_PHASE_HEAP_MB = 12_288;

/** The node adapter's performance targets at 1M patients on a 2-core machine. */
export const TARGETS = {
  singleCodeMs: 50,
  stratifiedMs: 200,
  sqlRatio: 1.5,
  ingestPerSecond: 150_000,
  rssBytes: 4e9,
  /** The default disclosure policy's release path against the former default's, per query. */
  policyRatio: 1.1,
} as const;

interface Options {
  readonly sizes: readonly number[];
  readonly runs: number;
  readonly seed: number;
  readonly region: RegionId;
  readonly fresh: boolean;
  readonly oracle: boolean;
  readonly doc: boolean;
  readonly explain: readonly string[];
}

function positiveInteger(text: string, flag: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`${flag}: not a positive integer: ${text}`);
  return n;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      sizes: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      region: { type: 'string' },
      fresh: { type: 'boolean' },
      'no-oracle': { type: 'boolean' },
      'no-doc': { type: 'boolean' },
      explain: { type: 'string' },
    },
  });
  const region = values.region ?? 'sachsen';
  if (!isRegionId(region)) throw new RangeError(`--region: unknown region ${region}`);
  const explain = (values.explain ?? '').split(',').filter((s) => s !== '');
  for (const id of explain) {
    if (!QUERIES.some((q) => q.id === id)) {
      throw new RangeError(
        `--explain: unknown query ${id} (${QUERIES.map((q) => q.id).join(', ')})`,
      );
    }
  }
  return {
    sizes:
      values.sizes === undefined
        ? DEFAULT_SIZES
        : values.sizes.split(',').map((s) => positiveInteger(s.trim(), '--sizes')),
    runs: values.runs === undefined ? DEFAULT_RUNS : positiveInteger(values.runs, '--runs'),
    seed: values.seed === undefined ? 1 : Number(values.seed),
    region,
    fresh: values.fresh === true,
    oracle: values['no-oracle'] !== true,
    doc: values['no-doc'] !== true,
    explain,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench node ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// --- phases, each in a forked process -----------------------------------------

/** Runs `file` (a phase module of this folder) in a child process with `input`; resolves with what it sends back. */
function forkPhase<I, O>(file: string, input: I, execArgv: readonly string[] = []): Promise<O> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [JSON.stringify(input)], {
    execArgv: [...process.execArgv, ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let result: O | undefined;
    child.on('message', (message) => {
      result = message as O;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`${file} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

// --- report ------------------------------------------------------------------

interface SizeResult {
  readonly patients: number;
  readonly prepared: Prepared;
  readonly phase: QueryPhaseResult;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const bytes = (n: number): string =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms >= 100_000 ? 0 : 1)} s`;
const ms = (n: number): string =>
  n >= 1000 ? int(n) : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const latency = (s: Stats): string => `${ms(s.median)} / ${ms(s.p95)}`;
const ratio = (a: Stats, b: Stats): string => `${(a.median / b.median).toFixed(2)}x`;

function ingestRate(p: Prepared): number {
  return p.ingest.resources / (p.ingest.elapsedMs / 1000);
}

function dataTable(results: readonly SizeResult[]): string {
  const rows = results.map(({ patients, prepared: p, phase }) => [
    int(patients),
    int(p.generate.resources),
    bytes(p.generate.bytes),
    `${seconds(p.generate.elapsedMs)}${p.generate.cached ? ' *' : ''}`,
    `${seconds(p.ingest.elapsedMs)}${p.ingest.cached ? ' *' : ''}`,
    `${int(ingestRate(p))}/s`,
    bytes(p.storeBytes),
    bytes(phase.rssBytes),
    bytes(phase.peakRssBytes),
  ]);
  return markdownTable(
    [
      'patients',
      'resources',
      'NDJSON',
      'generation',
      'ingest',
      'ingest rate',
      'store on disk',
      'RSS serving',
      'peak RSS',
    ],
    rows,
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

function targetText(t: QueryTiming): string {
  if (t.target === 'single-code') return `< ${TARGETS.singleCodeMs} ms`;
  if (t.target === 'stratified') return `< ${TARGETS.stratifiedMs} ms`;
  return '';
}

function oracleCell(t: QueryTiming, phase: QueryPhaseResult): string {
  if (t.oracle !== undefined) return latency(t.oracle);
  return phase.oracle.status === 'skipped' ? 'skipped (see note)' : '';
}

function latencyTable(results: readonly SizeResult[]): string {
  const rows = results.flatMap(({ patients, phase }) =>
    phase.queries.map((t) => [
      int(patients),
      t.title,
      `${int(t.count)} (${((100 * t.count) / phase.patientsInStore).toFixed(1)} %)`,
      latency(t.engine),
      latency(t.compiledSql),
      latency(t.handSql),
      ratio(t.engine, t.handSql),
      ratio(t.compiledSql, t.handSql),
      [t.cpu.engine, t.cpu.compiledSql, t.cpu.handSql].map((c) => ms(c.median)).join(' / '),
      oracleCell(t, phase),
      targetText(t),
    ]),
  );
  return markdownTable(
    [
      'patients',
      'query',
      'cohort',
      'engine',
      'compiled SQL',
      'hand SQL',
      'engine / hand',
      'SQL / hand',
      'CPU: engine / SQL / hand',
      'oracle',
      'target (1M)',
    ],
    rows,
    [
      'right',
      'left',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'left',
    ],
  );
}

function releaseTable(results: readonly SizeResult[]): string {
  const rows = results.flatMap(({ patients, phase }) =>
    phase.queries.map((t) => [
      int(patients),
      t.title,
      latency(t.engine),
      latency(t.release.cellKey),
      latency(t.release.laplace),
      ratio(t.release.laplace, t.release.cellKey),
    ]),
  );
  return markdownTable(
    [
      'patients',
      'query',
      'engine',
      'former default (cell-key)',
      'default (laplace)',
      'default / former',
    ],
    rows,
    ['right', 'left', 'right', 'right', 'right', 'right'],
  );
}

function targetsTable(result: SizeResult): string {
  const { phase, prepared } = result;
  const rows: string[][] = [];
  const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
  for (const t of phase.queries) {
    if (t.target === undefined) continue;
    const goal = t.target === 'single-code' ? TARGETS.singleCodeMs : TARGETS.stratifiedMs;
    rows.push([
      `median latency: ${t.title}`,
      `< ${goal} ms`,
      `${ms(t.engine.median)} ms (CPU ${ms(t.cpu.engine.median)} ms)`,
      verdict(t.engine.median < goal),
    ]);
  }
  const worst = (pick: (t: QueryTiming) => Stats): [QueryTiming, number] =>
    phase.queries
      .map((t): [QueryTiming, number] => [t, pick(t).median / t.handSql.median])
      .reduce((a, b) => (b[1] > a[1] ? b : a));
  const [sqlWorst, sqlRatio] = worst((t) => t.compiledSql);
  const cpuRatio = sqlWorst.cpu.compiledSql.median / sqlWorst.cpu.handSql.median;
  rows.push([
    'compiled SQL / hand-written SQL, worst query',
    `<= ${TARGETS.sqlRatio}x`,
    `${sqlRatio.toFixed(2)}x (${sqlWorst.id}; CPU ${cpuRatio.toFixed(2)}x)`,
    verdict(sqlRatio <= TARGETS.sqlRatio),
  ]);
  const [engineWorst, engineRatio] = worst((t) => t.engine);
  const engineCpu = engineWorst.cpu.engine.median / engineWorst.cpu.handSql.median;
  rows.push([
    'engine.evaluate / hand-written SQL, worst query',
    `<= ${TARGETS.sqlRatio}x`,
    `${engineRatio.toFixed(2)}x (${engineWorst.id}; CPU ${engineCpu.toFixed(2)}x)`,
    verdict(engineRatio <= TARGETS.sqlRatio),
  ]);
  const [policyWorst, policyRatio] = phase.queries
    .map((t): [QueryTiming, number] => [t, t.release.laplace.median / t.release.cellKey.median])
    .reduce((a, b) => (b[1] > a[1] ? b : a));
  rows.push([
    'default policy / former default (cell-key), release path, worst query',
    `<= ${TARGETS.policyRatio}x`,
    `${policyRatio.toFixed(2)}x (${policyWorst.id})`,
    verdict(policyRatio <= TARGETS.policyRatio),
  ]);
  const rate = ingestRate(prepared);
  rows.push([
    'ingest rate',
    `>= ${int(TARGETS.ingestPerSecond)} resources/s`,
    `${int(rate)} resources/s`,
    verdict(rate >= TARGETS.ingestPerSecond),
  ]);
  rows.push([
    'RSS of the process serving queries',
    `< ${bytes(TARGETS.rssBytes)}`,
    `${bytes(phase.rssBytes)} (peak ${bytes(phase.peakRssBytes)})`,
    verdict(phase.rssBytes < TARGETS.rssBytes),
  ]);
  return markdownTable(['target', 'goal', `measured at ${int(result.patients)}`, ''], rows);
}

function notes(results: readonly SizeResult[], options: Options, machine: Machine): string[] {
  const out: string[] = [];
  const cached = results.filter((r) => r.prepared.generate.cached || r.prepared.ingest.cached);
  if (cached.length > 0) {
    const when = cached.map((r) => {
      const { generate, ingest } = r.prepared;
      const parts = [
        ...(generate.cached ? [`generated ${generate.at.slice(0, 16)}`] : []),
        ...(ingest.cached ? [`ingested ${ingest.at.slice(0, 16)}`] : []),
      ];
      return `${int(r.patients)}: ${parts.join(', ')}`;
    });
    out.push(
      `\\* Built by an earlier run and cached (\`.data/bench/node/\`); the times marked are from when it was built (${when.join('; ')}, UTC). Everything else was built in this run.`,
    );
  }
  for (const r of results) {
    const o = r.phase.oracle;
    if (o.status === 'skipped') {
      out.push(`Oracle at ${int(r.patients)} patients skipped: ${o.reason}.`);
    } else {
      out.push(
        `Oracle at ${int(r.patients)} patients: NDJSON parsed into memory once in ${seconds(o.loadMs)} ` +
          `(${bytes(o.heapBytes)} heap, ${int(o.bytesPerResource)} bytes per resource), then only evaluation timed; ` +
          (o.mismatches.length === 0
            ? 'its counts equal the engine\u2019s for every query.'
            : `**it disagrees with the engine**: ${o.mismatches.join(' | ')}.`),
      );
    }
  }
  if (!options.oracle) out.push('The oracle was not run (`--no-oracle`).');
  const split = results.flatMap(({ patients, prepared: p }) =>
    p.ingest.readMs === undefined
      ? []
      : [
          `${int(patients)}: ${seconds(p.ingest.readMs)} reading, parsing and flattening, ` +
            `${seconds(p.ingest.elapsedMs - p.ingest.readMs)} loading into DuckDB and publishing`,
        ],
  );
  if (split.length > 0) out.push(`Ingest time split: ${split.join('; ')}.`);
  const hashes = results.map(
    ({ patients, prepared: p }) =>
      `${int(patients)}: ${p.generate.sourceHash}${p.generate.changedDuring === true ? ' (changed during generation)' : ''} / ` +
      `${p.ingest.sourceHash}${p.ingest.changedDuring === true ? ' (changed during ingest)' : ''}`,
  );
  out.push(
    'Source fingerprints (SHA-256 prefix of `node-adapter/src/generate` / of ingest and the store layout) ' +
      `the data was built with: ${hashes.join('; ')}.`,
  );
  const load = results.map(
    ({ patients, phase }) => `${int(patients)}: ${phase.load.map((l) => l.toFixed(1)).join(' / ')}`,
  );
  out.push(
    `1-minute load average at the start of each query phase / after the SQL runs / at its end ` +
      `(${machine.cores} cores; other work on the machine inflates latencies): ${load.join('; ')}.`,
  );
  return out;
}

function renderSection(
  results: readonly SizeResult[],
  options: Options,
  argv: readonly string[],
  machine: Machine,
  started: Date,
): string {
  const last = results[results.length - 1];
  const duckdb = last?.phase.duckdb;
  const command = ['npm run bench -- node', ...argv].join(' ');
  const parts: string[] = [
    `Command: \`${command}\`, run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ` +
      `${machineLine(machine, duckdb)}; DuckDB threads ${last?.phase.threads ?? '?'}, memory_limit ` +
      `${last?.phase.memoryLimit ?? '?'}; 1-minute load average at the start ${machine.load}.`,
    `Data: synthetic region \`${options.region}\` (\`generateRegion\`, seed ${options.seed}), loaded by ` +
      `\`ingest\` into a DuckDB store; queries evaluated with asOf ${AS_OF}. Source: ` +
      '`tests/bench/node.ts`, queries and hand-written SQL in `tests/bench/node-queries.ts`.',
    '### Data, ingest and memory',
    dataTable(results),
    'Ingest rate: resources read / ingest elapsed time (from the ingest report). RSS serving: ' +
      '`process.memoryUsage().rss` of a process that opened the store read-only and ran every ' +
      'query below with all three SQL variants (before the oracle loads anything); peak RSS up to that point.',
    '### Query latency',
    `Milliseconds, median / p95 of ${options.runs} runs after ${WARM_UP_RUNS} warm-up runs, the variants ` +
      'interleaved. **engine**: `engine.evaluate` as the node serves a read-only store (the units ' +
      'stored for a quantity code set probed on its first use and remembered, so timed runs only ' +
      'compile, run the statement and decode); **compiled SQL**: the compiled statement alone; **hand SQL**: ' +
      'a hand-written DuckDB statement answering the same question over the same tables (counts and ' +
      'cell keys checked equal to the engine\u2019s before timing); **oracle**: the brute-force oracle ' +
      '(`node-adapter/test/oracle`) over the parsed NDJSON, evaluation only. Cohort: patients in the ' +
      'cohort and their share of the population. CPU: median process CPU milliseconds (all threads, ' +
      'user + system) of the same runs, a figure the load of other work on the machine inflates far less.',
    latencyTable(results),
    '### Disclosure control',
    'The release path, engine included, medians / p95 of the same interleaved runs. **former ' +
      'default**: cell-key protection as the node applied it by default before the laplace ' +
      'mechanism, then its fsync\u2019d audit entry; **default**: keyed discrete Laplace noise on ' +
      'every cell, then the release (its cells and cost) appended to the release ledger and both ' +
      'files fsync\u2019d at once, as the node does before an answer leaves (state in a temporary ' +
      'directory).',
    releaseTable(results),
  ];
  if (last !== undefined) {
    parts.push(
      `### Targets`,
      last.patients === 1_000_000
        ? 'At 1M patients (the size the targets are set for):'
        : `The targets are set for 1M patients; this run's largest size was ${int(last.patients)}:`,
      targetsTable(last),
    );
  }
  const n = notes(results, options, machine);
  if (n.length > 0) parts.push('### Notes', n.map((line) => `- ${line}`).join('\n'));
  return parts.join('\n\n');
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  const machine = describeMachine();
  const started = new Date();
  log(
    `sizes ${options.sizes.join(', ')}, ${options.runs} runs; ${machineLine(machine)}, load ${machine.load}`,
  );
  const results: SizeResult[] = [];
  let oracleBytesPerResource = ORACLE_BYTES_PER_RESOURCE;
  for (const patients of options.sizes) {
    const prepared = await forkPhase<PrepareInput, Prepared>('./node-prepare.ts', {
      dataRoot: DATA_ROOT,
      region: options.region,
      patients,
      seed: options.seed,
      fresh: options.fresh,
    });
    log(`${patients} patients: query phase (${options.runs} runs per query and variant)`);
    const phase = await forkPhase<QueryPhaseInput, QueryPhaseResult>(
      './node-queries.ts',
      {
        dbPath: prepared.dbPath,
        ndjsonDir: prepared.ndjsonDir,
        patients,
        resources: prepared.generate.resources,
        runs: options.runs,
        oracle: options.oracle,
        oracleBytesPerResource,
        oracleMemoryLimitBytes: ORACLE_MEMORY_LIMIT,
        explain: options.explain,
        explainDir: join(DATA_ROOT, 'explain'),
      },
      [`--max-old-space-size=${QUERY_PHASE_HEAP_MB}`, '--expose-gc'],
    );
    if (phase.oracle.status === 'ran') {
      oracleBytesPerResource = Math.max(oracleBytesPerResource, phase.oracle.bytesPerResource);
    }
    results.push({ patients, prepared, phase });
    const section = renderSection(results, options, argv, machine, started);
    if (options.doc) await writeDocSection('Node adapter', section, machine);
    if (patients === options.sizes[options.sizes.length - 1]) {
      process.stdout.write(`\n## Node adapter\n\n${section}\n`);
    }
  }
  const mismatched = results.some(
    (r) => r.phase.oracle.status === 'ran' && r.phase.oracle.mismatches.length > 0,
  );
  if (mismatched) {
    log('the oracle disagreed with the engine (see the notes above)');
    process.exitCode = 1;
  }
}
