// The researcher CLI's commands: thin HTTP clients of the gateway API.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import type { CatalogueEntry, MergedResult } from '@tessera/schemas';
import { renderTable } from './table.ts';

const COMMON = {
  gateway: { type: 'string' as const },
  token: { type: 'string' as const },
  'token-file': { type: 'string' as const },
  help: { type: 'boolean' as const, short: 'h' },
};
const CONNECTION_HELP = `  --gateway <url>       the gateway (default $TESSERA_GATEWAY or http://127.0.0.1:8080)
  --token <jwt>         access token (or --token-file <file>, or $TESSERA_TOKEN)`;

async function connection(values: { gateway?: string; token?: string; 'token-file'?: string }) {
  const gateway = (
    values.gateway ??
    process.env.TESSERA_GATEWAY ??
    'http://127.0.0.1:8080'
  ).replace(/\/$/, '');
  const token =
    values.token ??
    (values['token-file']
      ? (await readFile(values['token-file'], 'utf8')).trim()
      : process.env.TESSERA_TOKEN);
  return { gateway, headers: token ? { authorization: `Bearer ${token}` } : {} };
}

/** Prints a problem+json answer as one line; returns the exit code. */
function reportProblem(status: number, body: string): number {
  try {
    const problem = JSON.parse(body) as {
      code?: string;
      title?: string;
      detail?: string;
      pointer?: string;
    };
    console.error(
      `tessera: ${status} ${problem.code ?? ''}${problem.pointer ? ` at ${problem.pointer}` : ''}: ${problem.detail ?? problem.title ?? ''}`,
    );
  } catch {
    console.error(`tessera: the gateway answered ${status}`);
  }
  return 1;
}

export async function runQuery(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMON,
      project: { type: 'string' },
      wait: { type: 'string', default: '30' },
      format: { type: 'string', default: 'table' },
      ccdl: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(`Usage: tessera query <query.json> [options]

${CONNECTION_HELP}
  --project <id>        the project the query is for (needed when you have several)
  --ccdl                the file is a CCDL structured query, not query v1
  --wait <seconds>      how long to wait for the answer (default 30, at most 30)
  --format table|json|csv|measure-report`);
    return values.help ? 0 : 2;
  }
  const { gateway, headers } = await connection(values);
  const body = await readFile(positionals[0]!, 'utf8');
  const submitted = await request(`${gateway}/v1/queries`, {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': values.ccdl ? 'application/ccdl+json' : 'application/json',
      prefer: `wait=${values.wait}`,
      ...(values.project ? { 'x-tessera-project': values.project } : {}),
    },
    body,
  });
  const text = await submitted.body.text();
  if (submitted.statusCode >= 400) return reportProblem(submitted.statusCode, text);
  const job = JSON.parse(text) as { id: string; status: string; result?: MergedResult };
  if (job.status !== 'done' || !job.result) {
    console.error(
      `tessera: query ${job.id} is ${job.status}; fetch it later with GET ${gateway}/v1/queries/${job.id}`,
    );
    return job.status === 'failed' ? 1 : 0;
  }
  if (values.format === 'json') {
    console.log(JSON.stringify(job.result, null, 2));
    return 0;
  }
  if (values.format === 'csv' || values.format === 'measure-report') {
    const accept = values.format === 'csv' ? 'text/csv' : 'application/fhir+json';
    const res = await request(`${gateway}/v1/queries/${job.id}`, {
      headers: { ...headers, accept },
    });
    process.stdout.write(await res.body.text());
    return 0;
  }
  console.log(renderTable(job.result));
  return 0;
}

export async function runCatalogue(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...COMMON,
      code: { type: 'string' },
      q: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(
      `Usage: tessera catalogue [--code system|code] [--q words] [--json]\n\n${CONNECTION_HELP}`,
    );
    return 0;
  }
  const { gateway, headers } = await connection(values);
  const params = new URLSearchParams();
  if (values.code) params.set('code', values.code);
  if (values.q) params.set('q', values.q);
  const res = await request(`${gateway}/v1/catalogue?${params.toString()}`, { headers });
  const text = await res.body.text();
  if (res.statusCode >= 400) return reportProblem(res.statusCode, text);
  const { entries } = JSON.parse(text) as { entries: CatalogueEntry[] };
  if (values.json) console.log(JSON.stringify(entries, null, 2));
  else
    for (const e of entries) {
      console.log(
        `${e.node.padEnd(14)} ${String(e.numberOfUniqueIndividuals).padStart(9)} patients  ${e.title}`,
      );
    }
  return 0;
}

export async function runNodes(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: COMMON });
  if (values.help) {
    console.log(`Usage: tessera nodes\n\n${CONNECTION_HELP}`);
    return 0;
  }
  const { gateway, headers } = await connection(values);
  const res = await request(`${gateway}/v1/nodes`, { headers });
  const text = await res.body.text();
  if (res.statusCode >= 400) return reportProblem(res.statusCode, text);
  const { nodes } = JSON.parse(text) as {
    nodes: {
      id: string;
      ready?: boolean;
      latencyMs?: number;
      dataVersion?: string;
      circuit: string;
    }[];
  };
  for (const n of nodes) {
    console.log(
      `${n.id.padEnd(14)} ${n.ready ? 'ready    ' : 'not ready'}  ${String(n.latencyMs ?? '-').padStart(6)} ms  circuit ${n.circuit}  data ${n.dataVersion ?? '-'}`,
    );
  }
  return 0;
}
