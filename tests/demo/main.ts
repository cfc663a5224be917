// `npm run demo`: a whole federation on this machine. Three synthetic regions
// (generated once, then cached), a local OpenID Connect provider, three node
// adapters and the gateway, each a real process speaking HTTP, started with
// the same helpers as the whole-system tests (tests/support/processes.ts).
// `--once` runs the query-language examples through the gateway, prints the
// merged tables and stops.
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXAMPLE_QUERIES, type MergedResult } from '@tessera/schemas';
import { renderTable } from '@tessera/gateway';
import { demoResearchers, startTestIdp } from '@tessera/gateway/testing';
import { REPO_ROOT, exampleQueryFile } from '../support/paths.ts';
import {
  GATEWAY_BIN,
  NODE_BIN,
  type Service,
  freePort,
  runCliOk,
  startService,
  stopService,
  waitReady,
} from '../support/processes.ts';

const REGIONS = [
  { id: 'lombardia', seed: 1101 },
  { id: 'galicia', seed: 2202 },
  { id: 'sachsen', seed: 3303 },
] as const;
const PROJECT = 'diabetes-eu';
/** A second project over the first two regions: the demo's researcher `marco` is in both. */
const SECOND_PROJECT = 'cardio-eu';
const SECOND_PROJECT_REGIONS: readonly string[] = ['lombardia', 'galicia'];
const CLIENT = 'demo-researcher';
/** The web page's client at the demo IdP. */
const BROWSER_CLIENT = 'tessera-web';
/** The IdP's client for `tessera login`, and the researcher the demo suggests. */
const CLI_CLIENT_ID = 'tessera-cli';
const CLI_RESEARCHER = 'rosa';
const EXAMPLE_1_FILE = exampleQueryFile(EXAMPLE_QUERIES[0]!.id);
/** Generating and ingesting a large region takes a while; a command is stopped only if it hangs. */
const COMMAND_TIMEOUT_MS = 3_600_000;
/** A node opening a large store on a busy machine. */
const START_TIMEOUT_MS = 180_000;

function log(message: string): void {
  console.error(`demo: ${message}`);
}

/**
 * What a cached store was built with: the node's store layout and ingest. A
 * store from an earlier version is refused by the node, so it is ingested
 * again (from the cached NDJSON) when either changes.
 */
async function storeFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['node-adapter/src/store/layout.ts', 'node-adapter/src/ingest/ingest.ts']) {
    hash.update(await readFile(join(REPO_ROOT, file)));
  }
  return hash.digest('hex');
}

async function prepareRegion(
  dataDir: string,
  id: string,
  seed: number,
  patients: number,
  fingerprint: string,
): Promise<string> {
  const dir = join(dataDir, id);
  const db = join(dir, 'store.duckdb');
  const ready = join(dir, 'ready');
  const built = existsSync(ready) ? await readFile(ready, 'utf8') : undefined;
  if (built === fingerprint) return db;
  // An earlier version's marker (any content) also vouches for the NDJSON.
  if (built === undefined && !existsSync(join(dir, 'generated'))) {
    log(`generating ${patients} patients for ${id} (once; cached in ${dir})`);
    await runCliOk(
      [
        NODE_BIN,
        'generate',
        '--region',
        id,
        '--patients',
        String(patients),
        '--seed',
        String(seed),
        '--out',
        join(dir, 'ndjson'),
      ],
      { timeoutMs: COMMAND_TIMEOUT_MS },
    );
    await writeFile(join(dir, 'generated'), new Date().toISOString());
  }
  await runCliOk([NODE_BIN, 'ingest', '--source', join(dir, 'ndjson'), '--db', db], {
    timeoutMs: COMMAND_TIMEOUT_MS,
  });
  await writeFile(ready, fingerprint);
  return db;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      once: { type: 'boolean' },
      patients: { type: 'string', default: '20000' },
      'data-dir': { type: 'string', default: join(REPO_ROOT, '.data/demo') },
      port: { type: 'string', default: '8080' },
    },
  });
  const dataDir = resolve(values['data-dir']);
  const patients = Number(values.patients);
  await mkdir(join(dataDir, 'config'), { recursive: true });

  const stores: Record<string, string> = {};
  const fingerprint = await storeFingerprint();
  for (const region of REGIONS) {
    stores[region.id] = await prepareRegion(dataDir, region.id, region.seed, patients, fingerprint);
  }

  const gatewayPort = values.once ? await freePort() : Number(values.port);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const researchers = demoResearchers([PROJECT, SECOND_PROJECT]);
  const idp = await startTestIdp({
    clients: [CLIENT],
    projectsByClient: { [CLIENT]: [PROJECT] },
    browser: { clientId: BROWSER_CLIENT, redirectUris: [`${gatewayUrl}/`], researchers },
    device: { clientId: CLI_CLIENT_ID, researchers },
  });
  const services: Service[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(services.map((service) => stopService(service)));
    await idp.close();
  };

  try {
    const nodes: { id: string; url: string }[] = [];
    for (const region of REGIONS) {
      const port = await freePort();
      const config = join(dataDir, 'config', `node-${region.id}.json`);
      await writeFile(
        config,
        JSON.stringify(
          {
            nodeId: region.id,
            listen: { host: '127.0.0.1', port },
            source: { kind: 'duckdb', path: stores[region.id] },
            stateDir: join(dataDir, region.id, 'state'),
            // The default policy, with budgets a demo visitor does not spend in an afternoon.
            policy: { laplace: { projectBudget: 200, researcherBudget: 100 } },
            gateway: { issuer: gatewayUrl, jwksUrl: `${gatewayUrl}/.well-known/jwks.json` },
            projects: SECOND_PROJECT_REGIONS.includes(region.id)
              ? [PROJECT, SECOND_PROJECT]
              : [PROJECT],
            catalogue: {
              title: `${region.id} regional health data (synthetic)`,
              spatial: region.id,
            },
            log: { level: 'warn' },
          },
          null,
          2,
        ),
      );
      services.push(startService(region.id, [NODE_BIN, 'serve', '--config', config]));
      nodes.push({ id: region.id, url: `http://127.0.0.1:${port}` });
    }
    const gatewayConfig = join(dataDir, 'config', 'gateway.json');
    await writeFile(
      gatewayConfig,
      JSON.stringify(
        {
          publicUrl: gatewayUrl,
          listen: { host: '127.0.0.1', port: gatewayPort },
          oidc: {
            issuer: idp.issuer,
            audience: idp.audience,
            projectsClaim: idp.projectsClaim,
            browserClient: { clientId: BROWSER_CLIENT },
            cliClientId: CLI_CLIENT_ID,
          },
          nodes,
          projects: {
            [PROJECT]: { nodes: nodes.map((n) => n.id), repeatsPerWindow: 1000 },
            [SECOND_PROJECT]: { nodes: [...SECOND_PROJECT_REGIONS], repeatsPerWindow: 1000 },
          },
          store: { dataDir: join(dataDir, 'gateway') },
          log: { level: 'warn' },
        },
        null,
        2,
      ),
    );
    const gateway = startService('gateway', [GATEWAY_BIN, 'serve', '--config', gatewayConfig]);
    services.push(gateway);
    await waitReady(gatewayUrl, gateway, START_TIMEOUT_MS);
    for (const [i, node] of nodes.entries()) {
      await waitReady(node.url, services[i]!, START_TIMEOUT_MS);
    }

    const tokenFile = join(dataDir, 'researcher.token');
    const refreshToken = async (): Promise<string> => {
      const token = await idp.tokenFor(CLIENT);
      await writeFile(tokenFile, token, { mode: 0o600 });
      return token;
    };
    const token = await refreshToken();

    if (values.once) {
      for (const example of EXAMPLE_QUERIES) {
        const res = await fetch(`${gatewayUrl}/v1/queries`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            prefer: 'wait=30',
          },
          body: JSON.stringify(example.query),
        });
        const job = (await res.json()) as {
          status?: string;
          result?: MergedResult;
          code?: string;
        };
        console.log(`\n${example.description}`);
        if (res.status !== 200 || !job.result) {
          console.log(`  failed: ${res.status} ${job.code ?? job.status ?? ''}`);
          return 1;
        }
        console.log(renderTable(job.result));
      }
      return 0;
    }

    const refresher = setInterval(() => void refreshToken(), 240_000);
    console.log(`
Tessera demo is running.
  gateway     ${gatewayUrl}  (web page at ${gatewayUrl}/)
  sign in     ${Object.entries(researchers)
    .map(
      ([name, r]) =>
        `${name} (password ${r.password}; ${r.projects.join(' and ') || 'no project'})`,
    )
    .join(', ')}
  nodes       ${nodes.map((n) => `${n.id} ${n.url}`).join(', ')}
  token       ${tokenFile}  (a researcher of project ${PROJECT}; refreshed every 4 minutes)

Try the researcher's command line (sign in as ${CLI_RESEARCHER}, password ${CLI_RESEARCHER}):
  npx tessera login --gateway ${gatewayUrl}
  npx tessera query --gateway ${gatewayUrl} --wait ${EXAMPLE_1_FILE}

or plain HTTP:
  curl -s -H "Authorization: Bearer $(cat ${tokenFile})" -H 'Content-Type: application/json' -H 'Prefer: wait=10' \\
    -d '${JSON.stringify(EXAMPLE_QUERIES[0]!.query)}' ${gatewayUrl}/v1/queries

Press Ctrl-C to stop.`);
    await new Promise<void>((r) => {
      process.once('SIGINT', () => r());
      process.once('SIGTERM', () => r());
    });
    clearInterval(refresher);
    return 0;
  } finally {
    await stopAll();
  }
}

process.exitCode = await main();
