// The live FHIR source benchmark: `npm run bench -- fhir [flags]`.
//
// Per population size: a synthetic region (generateRegion) is loaded into the
// test FHIR server (Medplum's router and in-memory repository behind Express,
// with a token index, full capabilities) over HTTP with transaction Bundles,
// and into the embedded DuckDB store by ingest. Per query: the live source's
// median latency, the HTTP requests and resources one evaluation transfers
// (counted by a fetch wrapper), and the embedded store's median latency on the
// same data. Then two syncs into new stores, as resources per second: by paged
// search (harvest) and by Bulk Data `$export`. Rewrites the "## Live FHIR
// source" section of docs/benchmarks.md.
//
// Flags: --sizes 1000,10000  --runs 5  --seed 1  --region sachsen  --no-doc
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import type { CohortQuery, EvaluableQuery } from '@tessera/schemas';
import {
  createFhirSource,
  generateRegion,
  ingest,
  isRegionId,
  openDuckDbSource,
  refreshStore,
} from '@tessera/node-adapter';
import type { FhirSource, RegionId } from '@tessera/node-adapter';
import { readNdjsonDir } from '@tessera/node-adapter/oracle';
import { loadResources, startFhirServer } from '../fhir-server/server.ts';
import { describeMachine, machineLine, markdownTable, writeDocSection } from './report.ts';
import { summarise, timeMs } from './stats.ts';

const SECRET = new TextEncoder().encode('tessera-benchmark-record-key-secret');
const AS_OF = '2026-01-01';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';

const QUERIES: readonly {
  readonly id: string;
  readonly title: string;
  readonly query: CohortQuery;
}[] = [
  {
    id: 'single-code',
    title: 'single-code count (ICD-10 I10)',
    query: { version: 1, cohort: { condition: { code: [{ system: ICD10, code: 'I10' }] } } },
  },
  {
    id: 'code-value',
    title: 'code + value (HbA1c >= 6.5 %)',
    query: {
      version: 1,
      cohort: {
        observation: {
          code: [{ system: LOINC, code: '4548-4' }],
          value: { min: 6.5, unit: '%' },
        },
      },
    },
  },
  {
    id: 'and-not',
    title: 'E11.* AND NOT metformin',
    query: {
      version: 1,
      cohort: {
        all: [
          { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
          { not: { medication: { code: [{ system: ATC, code: 'A10BA02' }] } } },
        ],
      },
    },
  },
  {
    id: 'stratified',
    title: 'I10, gender x age band',
    query: {
      version: 1,
      cohort: { condition: { code: [{ system: ICD10, code: 'I10' }] } },
      stratify: ['gender', { ageBand: [0, 18, 40, 65, 80] }],
    },
  },
];

interface Options {
  readonly sizes: readonly number[];
  readonly runs: number;
  readonly seed: number;
  readonly region: RegionId;
  readonly doc: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      sizes: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      region: { type: 'string' },
      'no-doc': { type: 'boolean' },
    },
  });
  const int = (text: string | undefined, fallback: number): number => {
    const n = text === undefined ? fallback : Number(text.replaceAll('_', ''));
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`not a positive integer: ${text}`);
    return n;
  };
  const region = values.region ?? 'sachsen';
  if (!isRegionId(region)) throw new RangeError(`unknown region: ${region}`);
  return {
    sizes: (values.sizes ?? '1000,10000').split(',').map((s) => int(s, 0)),
    runs: int(values.runs, 5),
    seed: int(values.seed, 1),
    region,
    doc: values['no-doc'] !== true,
  };
}

function evaluable(query: CohortQuery): EvaluableQuery {
  return { ...canonicalQuery(parseQuery(query)), asOf: AS_OF };
}

/** A fetch that counts requests and the resources in searchset Bundles. */
function countingFetch(): { fetch: typeof fetch; counts: { requests: number; resources: number } } {
  const counts = { requests: 0, resources: 0 };
  const wrapped: typeof fetch = async (input, init) => {
    counts.requests += 1;
    const response = await fetch(input, init);
    const body = (await response.clone().json()) as { entry?: unknown[] };
    counts.resources += body.entry?.length ?? 0;
    return response;
  };
  return { fetch: wrapped, counts };
}

interface QueryRow {
  readonly id: string;
  readonly title: string;
  readonly liveMs: number;
  readonly requests: number;
  readonly resources: number;
  readonly storeMs: number;
  readonly count: number;
}

interface SizeResult {
  readonly patients: number;
  readonly resources: number;
  readonly loadSeconds: number;
  readonly firstRequests: number;
  readonly firstResources: number;
  readonly firstMs: number;
  readonly queries: readonly QueryRow[];
  readonly syncResources: number;
  readonly syncSeconds: number;
  readonly exportResources: number;
  readonly exportSeconds: number;
}

/** Bulk Data export in the benchmark: a poll a second, as a server would ask, and files of 10,000. */
const BULK = { retryAfterSeconds: 1, resourcesPerFile: 10_000, pageSize: 5000 } as const;

async function runSize(patients: number, options: Options): Promise<SizeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-fhir-'));
  const server = await startFhirServer({ capabilities: 'full', maxPageSize: 1000, bulk: BULK });
  try {
    const ndjson = join(dir, 'ndjson');
    await generateRegion({ region: options.region, patients, seed: options.seed, outDir: ndjson });
    const resources = await readNdjsonDir(ndjson);
    process.stderr.write(`${patients} patients: loading ${resources.length} resources\n`);
    const loadMs = await timeMs(() =>
      loadResources(server.baseUrl, resources as unknown as Resource[], 2000, 2),
    );
    const storePath = join(dir, 'store.duckdb');
    await ingest({ sources: [ndjson], dbPath: storePath, recordKeySecret: SECRET });
    const store = await openDuckDbSource(storePath);

    const base = {
      baseUrl: server.baseUrl,
      auth: { kind: 'none' } as const,
      recordKeySecret: SECRET,
      concurrency: 4,
      pageSize: 1000,
      maxResources: 10_000_000,
      dataVersionTtlMs: 3_600_000,
      // A first search by a parameter builds the test server's index for the whole type.
      timeoutMs: 600_000,
    };
    // One source for everything; its first evaluation also reads every Patient
    // and the data version once, as a node does after it starts.
    const counted = countingFetch();
    const live: FhirSource = createFhirSource({ ...base, fetch: counted.fetch });
    const firstMs = await timeMs(() => live.evaluate(evaluable(QUERIES[0]!.query)));
    const cold = { counts: { ...counted.counts } };
    const rows: QueryRow[] = [];
    for (const q of QUERIES) {
      const query = evaluable(q.query);
      const signal = (): AbortSignal => AbortSignal.timeout(600_000);
      // The counted evaluation is also the warm-up of the timed runs.
      const before = { ...counted.counts };
      const raw = await live.evaluate(query);
      const requests = counted.counts.requests - before.requests;
      const transferred = counted.counts.resources - before.resources;
      const liveTimes: number[] = [];
      const storeTimes: number[] = [];
      await store.evaluate(query, signal());
      for (let i = 0; i < options.runs; i++) {
        liveTimes.push(await timeMs(() => live.evaluate(query)));
        storeTimes.push(await timeMs(() => store.evaluate(query, signal())));
      }
      const fromStore = await store.evaluate(query, signal());
      if (fromStore.total.count !== raw.total.count) {
        throw new Error(`${q.id}: live and store totals differ`);
      }
      rows.push({
        id: q.id,
        title: q.title,
        liveMs: summarise(liveTimes).median,
        requests,
        resources: transferred,
        storeMs: summarise(storeTimes).median,
        count: raw.total.count,
      });
      process.stderr.write(`  ${q.id}: live ${summarise(liveTimes).median.toFixed(0)} ms\n`);
    }
    await live.close();
    store.close();

    const sync = await refreshStore({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      storePath: join(dir, 'synced.duckdb'),
      recordKeySecret: SECRET,
      mode: 'search',
      incremental: false,
      fullEveryMs: 0,
      pageSize: 1000,
      timeoutMs: 600_000,
    });
    process.stderr.write(`  sync by search: ${(sync.elapsedMs / 1000).toFixed(1)} s\n`);
    const exported = await refreshStore({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      storePath: join(dir, 'exported.duckdb'),
      recordKeySecret: SECRET,
      mode: 'bulk',
      incremental: false,
      fullEveryMs: 0,
      timeoutMs: 600_000,
    });
    process.stderr.write(`  sync by $export: ${(exported.elapsedMs / 1000).toFixed(1)} s\n`);
    if (exported.resources !== sync.resources) {
      throw new Error('the two syncs read different numbers of resources');
    }
    return {
      patients,
      resources: resources.length,
      loadSeconds: loadMs / 1000,
      firstRequests: cold.counts.requests,
      firstResources: cold.counts.resources,
      firstMs,
      queries: rows,
      syncResources: sync.resources,
      syncSeconds: sync.elapsedMs / 1000,
      exportResources: exported.resources,
      exportSeconds: exported.elapsedMs / 1000,
    };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function times(ratio: number): string {
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}x`;
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  const machine = describeMachine();
  const started = new Date();
  const results: SizeResult[] = [];
  for (const size of options.sizes) results.push(await runSize(size, options));

  const queryTable = markdownTable(
    [
      'patients',
      'query',
      'total',
      'live median (ms)',
      'HTTP requests',
      'resources transferred',
      'store median (ms)',
      'live / store',
    ],
    results.flatMap((r) =>
      r.queries.map((q) => [
        r.patients.toLocaleString('en'),
        q.title,
        String(q.count),
        fmt(q.liveMs),
        String(q.requests),
        q.resources.toLocaleString('en'),
        fmt(q.storeMs),
        times(q.liveMs / Math.max(q.storeMs, 0.001)),
      ]),
    ),
    ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  const dataTable = markdownTable(
    [
      'patients',
      'resources',
      'load into server (s)',
      'first evaluation (ms)',
      'its requests',
      'its resources',
      'sync by search (s)',
      'sync by search (resources/s)',
      'sync by $export (s)',
      'sync by $export (resources/s)',
    ],
    results.map((r) => [
      r.patients.toLocaleString('en'),
      r.resources.toLocaleString('en'),
      r.loadSeconds.toFixed(1),
      fmt(r.firstMs),
      String(r.firstRequests),
      r.firstResources.toLocaleString('en'),
      r.syncSeconds.toFixed(1),
      Math.round(r.syncResources / Math.max(r.syncSeconds, 0.001)).toLocaleString('en'),
      r.exportSeconds.toFixed(1),
      Math.round(r.exportResources / Math.max(r.exportSeconds, 0.001)).toLocaleString('en'),
    ]),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  const argsText = argv.length === 0 ? '' : ` ${argv.join(' ')}`;
  const body = `Command: \`npm run bench -- fhir${argsText}\`, run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineLine(machine)}.

Data: synthetic region \`${options.region}\` (\`generateRegion\`, seed ${options.seed}), loaded into the test FHIR server (\`tests/fhir-server/server.ts\`: Medplum's router and in-memory repository behind Express, with a token index (\`system|code\`, \`system|\`, \`code\`, \`:missing=false\`) and the latest few by \`_lastUpdated\` found without a sort, full capabilities, pages of up to 1000) over HTTP with transaction Bundles of 2000 entries, two in flight, and into a DuckDB store by \`ingest\`. The live source runs in the same process as the server, so the latencies include the server's own work. Source: \`tests/bench/fhir.ts\`.

Per query: median of ${options.runs} runs after a warm-up (the source has read the Patients and the data version once, as a serving node has); requests and resources counted by a fetch wrapper (which also parses each response, in every run) over the warm-up evaluation; the store's median on the same data.

${queryTable}

First evaluation of a fresh source (reads every Patient and the data version first), and two syncs into new stores: by paged search (pages of 1000), and by Bulk Data \`$export\` (the server's job reads its repository in pages of ${BULK.pageSize} into NDJSON files of up to ${BULK.resourcesPerFile.toLocaleString('en')} resources, and asks for a poll every ${BULK.retryAfterSeconds} s while it runs). Both times include the ingest into the new store:

${dataTable}

Notes: the live source fetches every resource of the searched codes and checks the full criterion in the node (the test server declares no \`:below\` and no \`value-quantity\`, so \`E11\` with descendants and the value range are evaluated locally); \`not\` is the complement within all Patients, which the source holds per data version. Latency therefore grows with the number of matching resources, where the store's stays in milliseconds.`;
  process.stdout.write(`${queryTable}\n\n${dataTable}\n`);
  if (options.doc) await writeDocSection('Live FHIR source', body, machine);
}
