// The researcher CLI's commands: thin clients of the gateway API. Each parses
// its options, calls the gateway (researcher/client.ts) and prints; every
// failure is a CliError the entry point prints as one line.
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import type { CatalogueEntry, CohortQuery, MergedResult, NodeOutcome } from '@tessera/schemas';
import {
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  CliError,
  EXIT,
  type Gateway,
  connect,
  readFileOrFail,
} from './researcher/client.ts';
import { codeKey } from '../catalogue/catalogue.ts';
import { formatCount, renderTable, table } from './table.ts';

/** A job as the gateway shows it (http/queries.ts jobView). */
interface JobView {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  readonly project: string;
  readonly nodes: readonly string[];
  readonly createdAt: string;
  readonly label?: string;
  readonly query?: CohortQuery;
  readonly result?: MergedResult;
  readonly error?: string;
  readonly links: { readonly events: string };
}

const FORMATS = ['table', 'csv', 'json', 'measure-report'] as const;
type Format = (typeof FORMATS)[number];

function formatOf(value: string | undefined): Format {
  const format = value ?? 'table';
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new CliError(
      `unknown --format "${format}": use one of ${FORMATS.join(', ')}`,
      EXIT.refused,
    );
  }
  return format as Format;
}

/**
 * The exit code a job's state means: 0 done with every node, 3 done without
 * some, 1 failed or cancelled; 0 while it runs (nothing went wrong yet).
 */
export function exitCodeOf(job: Pick<JobView, 'status' | 'result'>): number {
  switch (job.status) {
    case 'done':
      return job.result?.complete === false ? EXIT.incomplete : EXIT.ok;
    case 'failed':
    case 'cancelled':
      return EXIT.error;
    case 'queued':
    case 'running':
      return EXIT.ok;
  }
}

function jobPath(id: string): string {
  return `/v1/queries/${encodeURIComponent(id)}`;
}

function describeOutcome(outcome: NodeOutcome): string {
  const time = outcome.elapsedMs === undefined ? '' : `  ${Math.round(outcome.elapsedMs)} ms`;
  return `  ${outcome.node.padEnd(16)} ${outcome.status}${outcome.code ? ` (${outcome.code})` : ''}${time}`;
}

/** Prints a finished job in the format asked for; returns its exit code. */
async function printJob(gateway: Gateway, job: JobView, format: Format): Promise<number> {
  if (job.status !== 'done' || job.result === undefined) {
    const why = job.status === 'failed' ? ` (${job.error ?? 'failed'})` : '';
    console.error(
      job.status === 'queued' || job.status === 'running'
        ? `query ${job.id} is ${job.status}; see it with \`tessera status ${job.id}\``
        : `query ${job.id} ${job.status}${why}`,
    );
    return exitCodeOf(job);
  }
  if (format === 'json') {
    console.log(JSON.stringify(job.result, null, 2));
  } else if (format === 'table') {
    console.log(renderTable(job.result));
  } else {
    const accept = format === 'csv' ? 'text/csv' : 'application/fhir+json';
    const { text } = await gateway.call(jobPath(job.id), { headers: { accept } });
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
  if (!job.result.complete) {
    const missing = job.result.nodes
      .filter((n) => n.status !== 'ok')
      .map((n) => `${n.node} ${n.status}${n.code ? ` (${n.code})` : ''}`);
    console.error(`incomplete: no answer from ${missing.join(', ')}`);
  }
  return exitCodeOf(job);
}

/**
 * Follows a job's event stream to its end, telling a terminal each node's
 * outcome as it arrives; returns the finished job.
 */
async function follow(gateway: Gateway, job: JobView, progress: boolean): Promise<JobView> {
  if (progress) {
    console.error(`query ${job.id}: asking ${job.nodes.length} nodes (${job.nodes.join(', ')})`);
  }
  let finished: JobView | undefined;
  const parser = createParser({
    onEvent(event) {
      try {
        if (event.event === 'node' && progress) {
          console.error(describeOutcome(JSON.parse(event.data) as NodeOutcome));
        } else if (event.event === 'result') {
          finished = JSON.parse(event.data) as JobView;
        }
      } catch {
        // A malformed event is skipped; the job itself is read again below.
      }
    },
  });
  const decoder = new TextDecoder();
  try {
    const body = await gateway.stream(`${jobPath(job.id)}/events`);
    for await (const chunk of body) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (finished !== undefined) break;
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    // A broken stream is not the end of the job: ask for it below.
  }
  if (finished !== undefined) return finished;
  const again = await gateway.json<JobView>(jobPath(job.id));
  if (again.status === 'queued' || again.status === 'running') {
    throw new CliError(
      `the event stream ended before query ${job.id} did; see it with \`tessera status ${job.id}\``,
      EXIT.error,
    );
  }
  return again;
}

async function readQuery(path: string): Promise<string> {
  if (path !== '-') return readFileOrFail(path);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function runQuery(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      project: { type: 'string' },
      wait: { type: 'boolean' },
      format: { type: 'string' },
      ccdl: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(`Usage: tessera query <query.json | -> [options]

Submits a cohort query (query v1, or CCDL with --ccdl; - reads standard input).
Without --wait it prints the query's id; with it, each node's answer as it
arrives (on a terminal), then the merged result.
Exit code: 0 done, 3 done but some node did not answer, 2 refused or invalid, 1 other errors.

${CONNECTION_HELP}
  --project <id>        the project the query is for (needed when you have several)
  --ccdl                the file is a CCDL structured query, not query v1
  --wait                wait for the answer and print it
  --format <f>          table (default), csv, json or measure-report (FHIR MeasureReport)`);
    return values.help ? EXIT.ok : EXIT.refused;
  }
  const format = formatOf(values.format);
  const body = await readQuery(positionals[0]!);
  const gateway = await connect(values);
  const job = await gateway.json<JobView>('/v1/queries', {
    method: 'POST',
    headers: {
      'content-type': values.ccdl ? 'application/ccdl+json' : 'application/json',
      ...(values.project ? { 'x-tessera-project': values.project } : {}),
    },
    body,
  });
  if (job.status === 'queued' || job.status === 'running') {
    if (!values.wait) {
      console.log(job.id);
      console.error(
        `query ${job.id} is ${job.status}; see it with \`tessera status ${job.id}\` or \`tessera get ${job.id}\``,
      );
      return EXIT.ok;
    }
    return printJob(gateway, await follow(gateway, job, process.stderr.isTTY === true), format);
  }
  return printJob(gateway, job, format);
}

export async function runStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: CONNECTION_OPTIONS,
  });
  if (values.help || positionals.length !== 1) {
    console.log(`Usage: tessera status <id>

Prints a query's status and each node's outcome; the exit code as for query.

${CONNECTION_HELP}`);
    return values.help ? EXIT.ok : EXIT.refused;
  }
  const gateway = await connect(values);
  const job = await gateway.json<JobView>(jobPath(positionals[0]!));
  console.log(
    `${job.id}  ${job.status}${job.error ? ` (${job.error})` : ''}  project ${job.project}  ${job.label ?? ''}`.trimEnd(),
  );
  const outcomes = job.result?.nodes ?? [];
  for (const outcome of outcomes) console.log(describeOutcome(outcome));
  const answered = new Set(outcomes.map((o) => o.node));
  for (const node of job.nodes)
    if (!answered.has(node)) console.log(`  ${node.padEnd(16)} waiting`);
  return exitCodeOf(job);
}

export async function runGet(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, format: { type: 'string' }, wait: { type: 'boolean' } },
  });
  if (values.help || positionals.length !== 1) {
    console.log(`Usage: tessera get <id> [--wait] [--format table|csv|json|measure-report]

Prints a query's merged result; the exit code as for query.

${CONNECTION_HELP}`);
    return values.help ? EXIT.ok : EXIT.refused;
  }
  const format = formatOf(values.format);
  const gateway = await connect(values);
  const job = await gateway.json<JobView>(jobPath(positionals[0]!));
  const unfinished = job.status === 'queued' || job.status === 'running';
  return printJob(
    gateway,
    unfinished && values.wait ? await follow(gateway, job, process.stderr.isTTY === true) : job,
    format,
  );
}

export async function runHistory(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...CONNECTION_OPTIONS, json: { type: 'boolean' }, limit: { type: 'string' } },
  });
  if (values.help) {
    console.log(`Usage: tessera history [--limit n] [--json]

Your queries, newest first: when, status, label and id.

${CONNECTION_HELP}`);
    return EXIT.ok;
  }
  const gateway = await connect(values);
  const limit = values.limit === undefined ? '' : `?limit=${encodeURIComponent(values.limit)}`;
  const { queries } = await gateway.json<{ queries: JobView[] }>(`/v1/queries${limit}`);
  if (values.json) {
    console.log(JSON.stringify(queries, null, 2));
    return EXIT.ok;
  }
  if (queries.length === 0) {
    console.error('No queries yet.');
    return EXIT.ok;
  }
  const rows = queries.map((q) => [
    q.createdAt.slice(0, 16).replace('T', ' '),
    q.status,
    q.project,
    q.label ?? '',
    q.id,
  ]);
  console.log(table(['submitted (UTC)', 'status', 'project', 'label', 'id'], rows).join('\n'));
  return EXIT.ok;
}

interface CodeSearch {
  readonly codes: readonly {
    readonly kind: string;
    readonly system: string;
    readonly code: string;
    readonly display?: string;
    readonly nodes: readonly { readonly node: string; readonly patients: number }[];
  }[];
  readonly truncated: boolean;
  readonly message?: string;
}

export async function runCatalogue(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_OPTIONS,
      code: { type: 'string' },
      q: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(`Usage: tessera catalogue [--code system|code] [--q text] [--json]

Without options: every node's dataset. --code: the nodes holding that code,
each with its patient band (a rounded count). --q: codes whose code starts
with the text or whose name contains it (accents and case ignored), each
with its nodes' bands.

${CONNECTION_HELP}`);
    return EXIT.ok;
  }
  const gateway = await connect(values);
  if (values.q !== undefined || values.code !== undefined) {
    // A code is looked up like a search for it, then kept only where it is that code.
    const [system, code] = values.code?.includes('|')
      ? values.code.split('|', 2)
      : [undefined, values.code];
    const params = new URLSearchParams({ q: values.q ?? code ?? '' });
    if (system) params.set('system', system);
    if (code !== undefined) params.set('limit', '200');
    const found = await gateway.json<CodeSearch>(`/v1/catalogue/codes?${params.toString()}`);
    const codes =
      code === undefined
        ? found.codes
        : found.codes.filter((c) => codeKey(c.code) === codeKey(code));
    if (values.json) console.log(JSON.stringify({ ...found, codes }, null, 2));
    else if (codes.length === 0) {
      console.error(
        code === undefined
          ? (found.message ?? 'No code matches.')
          : `No node holds ${values.code} for enough patients to say so.`,
      );
    } else {
      for (const c of codes) {
        console.log(`${c.system}|${c.code}  ${c.display ?? ''}  (${c.kind})`.trimEnd());
        for (const n of c.nodes) {
          console.log(`  ${n.node.padEnd(16)} about ${formatCount(n.patients)} patients`);
        }
      }
      if (found.truncated && code === undefined)
        console.error('More codes match; narrow the search.');
    }
    return EXIT.ok;
  }
  const { entries } = await gateway.json<{ entries: CatalogueEntry[] }>('/v1/catalogue');
  if (values.json) {
    console.log(JSON.stringify(entries, null, 2));
    return EXIT.ok;
  }
  const rows = entries.map((e) => [
    e.node,
    `about ${formatCount(e.numberOfUniqueIndividuals)}`,
    e.temporalCoverage ? `${e.temporalCoverage.start ?? ''}-${e.temporalCoverage.end ?? ''}` : '',
    e.title,
  ]);
  console.log(table(['node', 'patients', 'years', 'title'], rows).join('\n'));
  return EXIT.ok;
}

export async function runNodes(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: CONNECTION_OPTIONS });
  if (values.help) {
    console.log(`Usage: tessera nodes\n\n${CONNECTION_HELP}`);
    return EXIT.ok;
  }
  const gateway = await connect(values);
  const { nodes } = await gateway.json<{
    nodes: {
      id: string;
      ready?: boolean;
      latencyMs?: number;
      dataVersion?: string;
      circuit: string;
    }[];
  }>('/v1/nodes');
  const rows = nodes.map((n) => [
    n.id,
    n.ready ? 'ready' : 'not ready',
    n.latencyMs === undefined ? '-' : `${n.latencyMs} ms`,
    n.circuit,
    n.dataVersion ?? '-',
  ]);
  console.log(table(['node', 'health', 'latency', 'circuit', 'data version'], rows).join('\n'));
  return EXIT.ok;
}
