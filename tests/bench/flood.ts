// The flood benchmark: `npm run bench -- flood [flags]`.
//
// How fast the gateway turns away what it cannot take. Simulated nodes (as in
// the gateway benchmark) that take `--delay` ms per query keep the admitted
// queries running; a client in a child process of its own sends `--count`
// queries at the same moment from one researcher, `--rounds` times (after a
// warm-up round), waiting between rounds until the gateway runs nothing. Two
// cases: the researcher's share of the replica is what runs out (429
// ERR_TOO_MANY_RUNNING, defaults otherwise), and the replica's capacity is
// (503 ERR_OVERLOADED, the share raised above it). Every request's latency runs
// from the moment the burst left to the moment its answer was read; refusals
// are compared with the 202 answers of the admitted queries in the same bursts.
// Prints the table and rewrites the "## Gateway admission under a flood"
// section of docs/benchmarks.md.
//
// Flags: --count 200  --rounds 5  --delay 2000 (node time, ms)  --no-doc
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listen } from '@tessera/http-kit';
import { canonicalQuery, loadConfig, queryHash } from '@tessera/schemas';
import { configDefaults } from '@tessera/schemas/testing';
import { createGatewayService, openStore } from '@tessera/gateway';
import { freePort } from '../support/processes.ts';
import type {
  FloodAnswer,
  FloodInit,
  FromFloodClient,
  ToFloodClient,
} from './gateway/flood-client.ts';
import { type Child, forkChild } from './gateway/child.ts';
import { gatewayIdle } from './gateway/gateway-metrics.ts';
import type {
  FromNodeHost,
  IdpHostInit,
  IdpHostReady,
  NodeHostInit,
  ToIdpHost,
  ToNodeHost,
} from './gateway/protocol.ts';
import { median, percentile } from './gateway/search.ts';
import { variantQuery } from './gateway/variants.ts';
import {
  describeMachine,
  machineLine,
  markdownTable,
  writeDocSection,
  type Machine,
} from './report.ts';

const HERE = fileURLToPath(new URL('./', import.meta.url));
const PROJECT = 'bench';
const CLIENT = 'bench-researcher';
const NODES = ['node-a', 'node-b', 'node-c'];
/** What the issue of a flood asks of a refusal, at the 95th percentile. */
export const REFUSAL_P95_TARGET_MS = 100;

const DEFAULTS = configDefaults('gateway-config').fanout;

interface Options {
  readonly count: number;
  readonly rounds: number;
  readonly delayMs: number;
  readonly doc: boolean;
}

interface Case {
  readonly name: string;
  /** The refusal the flood meets when it runs out. */
  readonly refusal: { readonly status: number; readonly code: string };
  readonly fanout: { maxConcurrentQueries: number; maxConcurrentPerResearcher: number };
}

const CASES: readonly Case[] = [
  {
    name: "the researcher's share",
    refusal: { status: 429, code: 'ERR_TOO_MANY_RUNNING' },
    fanout: {
      maxConcurrentQueries: DEFAULTS.maxConcurrentQueries,
      maxConcurrentPerResearcher: DEFAULTS.maxConcurrentPerResearcher,
    },
  },
  {
    name: "the replica's capacity",
    refusal: { status: 503, code: 'ERR_OVERLOADED' },
    fanout: {
      maxConcurrentQueries: 2 * DEFAULTS.maxConcurrentPerResearcher,
      maxConcurrentPerResearcher: DEFAULTS.maxConcurrentQueries,
    },
  },
];

interface CaseResult {
  readonly case: Case;
  readonly admitted: number;
  readonly refused: number;
  /** Anything else (a status or code the case does not expect). */
  readonly other: Readonly<Record<string, number>>;
  readonly refusalP50: number;
  readonly refusalP95: number;
  readonly refusalMax: number;
  /** Median over rounds of each round's refusal p95. */
  readonly refusalP95Median: number;
  readonly admittedP50: number;
  /** The gateway process's CPU (user + system, its store's worker included) per request of a burst. */
  readonly cpuPerRequestMs: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      count: { type: 'string' },
      rounds: { type: 'string' },
      delay: { type: 'string' },
      'no-doc': { type: 'boolean' },
    },
  });
  const whole = (text: string | undefined, flag: string, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${flag}: a whole number > 0`);
    return n;
  };
  return {
    count: whole(values.count, '--count', 200),
    rounds: whole(values.rounds, '--rounds', 5),
    delayMs: whole(values.delay, '--delay', 2000),
    doc: values['no-doc'] !== true,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench flood ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const fmt = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(1) : '–');

async function startNodes(
  delayMs: number,
  variants: number,
): Promise<{ host: Child<ToNodeHost, FromNodeHost>; urls: Readonly<Record<string, string>> }> {
  const init: NodeHostInit = { nodes: NODES, delayMs };
  const host = forkChild<ToNodeHost, FromNodeHost>(
    join(HERE, 'gateway', 'node-host.ts'),
    'node host',
    init,
  );
  const ready = await host.next(
    (m): m is Extract<FromNodeHost, { type: 'ready' }> => m.type === 'ready',
  );
  // The nodes answer only variants they know; admitted queries must run their full time.
  const hashes = Array.from({ length: variants }, (_, i) =>
    queryHash(canonicalQuery(variantQuery(i))),
  );
  host.send({ type: 'variants', from: 0, hashes });
  await host.next(
    (m): m is Extract<FromNodeHost, { type: 'variants-ok' }> => m.type === 'variants-ok',
  );
  return { host, urls: ready.urls };
}

async function runCase(
  flood: Case,
  options: Options,
  idp: IdpHostReady,
  urls: Readonly<Record<string, string>>,
  nextVariant: { value: number },
): Promise<CaseResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-flood-'));
  const store = await openStore({ dataDir: join(dataDir, 'state') });
  const port = await freePort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const config = loadConfig('gateway-config', {
    publicUrl: gatewayUrl,
    oidc: { issuer: idp.issuer, audience: idp.audience },
    nodes: NODES.map((id) => ({ id, url: urls[id]! })),
    projects: {
      // Rate limits out of the way: the flood is about capacity, not quota.
      [PROJECT]: {
        nodes: NODES,
        queriesPerMinute: 1_000_000_000,
        queriesPerDay: 1_000_000_000,
        repeatsPerWindow: 1_000_000_000,
      },
    },
    fanout: flood.fanout,
    log: { level: 'warn' },
  });
  const gateway = await createGatewayService(config, { store, pollIntervalSec: 0 });
  const { server } = await listen(gateway.app, '127.0.0.1', port);
  const init: FloodInit = {
    gatewayUrl,
    token: idp.token,
    project: PROJECT,
    connections: options.count,
  };
  const client = forkChild<ToFloodClient, FromFloodClient>(
    join(HERE, 'gateway', 'flood-client.ts'),
    'flood client',
    init,
  );
  try {
    await client.next((m): m is Extract<FromFloodClient, { type: 'ready' }> => m.type === 'ready');
    const rounds: FloodAnswer[][] = [];
    const cpuMs: number[] = [];
    // Round 0 warms connections, JIT and the IdP's keys; it is not recorded.
    for (let round = 0; round <= options.rounds; round += 1) {
      client.send({
        type: 'flood',
        id: round,
        count: options.count,
        firstVariant: nextVariant.value,
      });
      nextVariant.value += options.count;
      // The gateway runs in this process: its CPU from the burst's start to its last answer.
      const cpuBefore = process.cpuUsage();
      const done = await client.next(
        (m): m is Extract<FromFloodClient, { type: 'flood-done' }> =>
          m.type === 'flood-done' && m.id === round,
        60_000,
      );
      const cpu = process.cpuUsage(cpuBefore);
      if (round > 0) {
        rounds.push([...done.answers]);
        cpuMs.push((cpu.user + cpu.system) / 1000 / options.count);
      }
      if (!(await gatewayIdle(gatewayUrl))) log('the gateway still ran queries after 30 s');
    }
    const isRefusal = (a: FloodAnswer): boolean =>
      a.status === flood.refusal.status && a.code === flood.refusal.code;
    const all = rounds.flat();
    const refusals = all.filter(isRefusal).map((a) => a.ms);
    const admitted = all.filter((a) => a.status === 202).map((a) => a.ms);
    const other: Record<string, number> = {};
    for (const a of all) {
      if (a.status === 202 || isRefusal(a)) continue;
      const key = `${a.status} ${a.code ?? ''}`.trim();
      other[key] = (other[key] ?? 0) + 1;
    }
    return {
      case: flood,
      admitted: admitted.length,
      refused: refusals.length,
      other,
      refusalP50: percentile(refusals, 0.5),
      refusalP95: percentile(refusals, 0.95),
      refusalMax: Math.max(...refusals),
      refusalP95Median: median(
        rounds.map((r) =>
          percentile(
            r.filter(isRefusal).map((a) => a.ms),
            0.95,
          ),
        ),
      ),
      admittedP50: percentile(admitted, 0.5),
      cpuPerRequestMs: median(cpuMs),
    };
  } finally {
    await client.stop({ type: 'stop' });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await gateway.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const refusalText = ({ refusal }: Case): string => `${refusal.status} ${refusal.code}`;

function docBody(
  results: readonly CaseResult[],
  options: Options,
  machine: Machine,
  command: string,
): string {
  const rows = results.map((r) => [
    r.case.name,
    refusalText(r.case),
    String(r.admitted),
    String(r.refused),
    fmt(r.refusalP50),
    fmt(r.refusalP95),
    fmt(r.refusalP95Median),
    fmt(r.refusalMax),
    fmt(r.admittedP50),
    (r.admittedP50 / r.refusalP50).toFixed(1),
    r.cpuPerRequestMs.toFixed(2),
    r.refusalP95 < REFUSAL_P95_TARGET_MS ? 'met' : 'missed',
  ]);
  const others = results
    .filter((r) => Object.keys(r.other).length > 0)
    .map(
      (r) =>
        `- ${r.case.name}: also ${Object.entries(r.other)
          .map(([k, v]) => `${v} × ${k}`)
          .join(', ')}`,
    );
  return `${machineLine(machine)}; load average at the end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}. Command: \`${command}\`.

Bursts of ${options.count} queries sent at the same moment by one researcher, ${options.rounds} rounds per case after a warm-up round. Target: refusals answer with p95 under ${REFUSAL_P95_TARGET_MS} ms. Latencies in ms, from the moment the burst left the client to the moment each answer was read; the last column but one is how many times longer an admitted query's \`202\` took than a refusal (p50 against p50), in the same bursts. The gateway's CPU per request (ms; user and system time of its process, its store's worker included, from a burst's start to its last answer, median of rounds) is the figure a busy machine inflates least: a burst of ${options.count} needs ${options.count} times that of one core before its last answer can leave.

${markdownTable(
  [
    'runs out of',
    'refusal',
    'admitted',
    'refused',
    'refusal p50',
    'refusal p95',
    'p95, median of rounds',
    'refusal max',
    'admitted p50',
    'admitted / refused',
    'gateway CPU per request',
    'target',
  ],
  rows,
  [
    'left',
    'left',
    'right',
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
)}
${others.length > 0 ? `\n${others.join('\n')}\n` : ''}
Setup: ${NODES.length} simulated nodes in one child process answering after ${options.delayMs} ms (so admitted queries hold their places for the whole burst), the gateway from \`createGatewayService\` in the benchmark's process on PGlite, researcher tokens from the test OpenID provider in a child process, the project's rate limits set to 10^9 (the flood is about capacity, not quota). "The researcher's share": the defaults (${DEFAULTS.maxConcurrentPerResearcher} queries per researcher, ${DEFAULTS.maxConcurrentQueries} per replica). "The replica's capacity": ${2 * DEFAULTS.maxConcurrentPerResearcher} per replica, the share raised above it. The client is a child process of its own with one connection per query of a burst (undici). Capacity is decided in memory before any store call, and a refusal to a researcher whose token the gateway has already verified is answered before Express (\`gateway/src/http/shed.ts\`); the admitted queries' \`202\` waits for its job and audit entry to be stored. Source: \`tests/bench/flood.ts\`, \`tests/bench/gateway/flood-client.ts\`.`;
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  const machine = describeMachine();
  const command = ['npm run bench -- flood', ...argv].join(' ');
  log(machineLine(machine));
  const idpInit: IdpHostInit = { client: CLIENT, projects: [PROJECT], accessTokenTtlSec: 3600 };
  const idp = forkChild<ToIdpHost, IdpHostReady>(
    join(HERE, 'gateway', 'idp-host.ts'),
    'IdP',
    idpInit,
  );
  const variants = (options.rounds + 1) * options.count * CASES.length;
  const nodes = await startNodes(options.delayMs, variants);
  try {
    const ready = await idp.next((m): m is IdpHostReady => m.type === 'ready');
    const nextVariant = { value: 0 };
    const results: CaseResult[] = [];
    for (const flood of CASES) {
      const result = await runCase(flood, options, ready, nodes.urls, nextVariant);
      log(
        `${flood.name}: ${result.admitted} admitted, ${result.refused} refused (${refusalText(flood)}); ` +
          `refusal p50 ${fmt(result.refusalP50)} ms, p95 ${fmt(result.refusalP95)} ms; ` +
          `admitted p50 ${fmt(result.admittedP50)} ms; gateway CPU ${result.cpuPerRequestMs.toFixed(2)} ms per request`,
      );
      results.push(result);
    }
    const body = docBody(results, options, machine, command);
    process.stdout.write(`${body}\n`);
    if (options.doc) await writeDocSection('Gateway admission under a flood', body, machine);
  } finally {
    await nodes.host.stop({ type: 'stop' });
    await idp.stop({ type: 'stop' });
  }
}
