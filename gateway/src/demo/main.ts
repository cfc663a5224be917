// `npm run demo`: a whole federation on this machine. Three synthetic regions
// (generated once, then cached), a local OpenID Connect provider, three node
// adapters and the gateway, each a real process speaking HTTP.
// `--once` runs the query-language examples through the gateway, prints the
// merged tables and stops.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { EXAMPLE_QUERIES, type MergedResult } from '@tessera/schemas';
import { startTestIdp } from '../auth/test-idp.ts';
import { renderTable } from '../cli/table.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE_BIN = join(ROOT, 'node-adapter/bin/tessera-node.js');
const GATEWAY_BIN = join(ROOT, 'gateway/bin/tessera-gateway.js');
const REGIONS = [
  { id: 'lombardia', seed: 1101 },
  { id: 'galicia', seed: 2202 },
  { id: 'sachsen', seed: 3303 },
] as const;
const PROJECT = 'diabetes-eu';
const CLIENT = 'demo-researcher';

function log(message: string): void {
  console.error(`demo: ${message}`);
}

/** A free loopback port, so every service can be told the others' addresses up front. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`${args[0]} exited with ${code}`)),
    );
  });
}

async function waitReady(url: string, child: ChildProcess, seconds = 180): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (child.exitCode !== null) throw new Error(`${url} exited during start-up`);
    try {
      const res = await request(`${url}/readyz`);
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

/**
 * What a cached store was built with: the node's store layout and ingest. A
 * store from an earlier version is refused by the node, so it is ingested
 * again (from the cached NDJSON) when either changes.
 */
async function storeFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['node-adapter/src/store/layout.ts', 'node-adapter/src/ingest/ingest.ts']) {
    hash.update(await readFile(join(ROOT, file)));
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
    await run(NODE_BIN, [
      'generate',
      '--region',
      id,
      '--patients',
      String(patients),
      '--seed',
      String(seed),
      '--out',
      join(dir, 'ndjson'),
    ]);
    await writeFile(join(dir, 'generated'), new Date().toISOString());
  }
  await run(NODE_BIN, ['ingest', '--source', join(dir, 'ndjson'), '--db', db]);
  await writeFile(ready, fingerprint);
  return db;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      once: { type: 'boolean' },
      patients: { type: 'string', default: '20000' },
      'data-dir': { type: 'string', default: join(ROOT, '.data/demo') },
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

  const idp = await startTestIdp({ clients: [CLIENT], projectsByClient: { [CLIENT]: [PROJECT] } });
  const gatewayPort = values.once ? await freePort() : Number(values.port);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const children: ChildProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve(),
      ),
    );
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
            projects: [PROJECT],
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
      const child = spawn(process.execPath, [NODE_BIN, 'serve', '--config', config], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      nodes.push({ id: region.id, url: `http://127.0.0.1:${port}` });
    }
    const gatewayConfig = join(dataDir, 'config', 'gateway.json');
    await writeFile(
      gatewayConfig,
      JSON.stringify(
        {
          publicUrl: gatewayUrl,
          listen: { host: '127.0.0.1', port: gatewayPort },
          oidc: { issuer: idp.issuer, audience: idp.audience, projectsClaim: idp.projectsClaim },
          nodes,
          projects: { [PROJECT]: { nodes: nodes.map((n) => n.id), repeatsPerWindow: 1000 } },
          store: { dataDir: join(dataDir, 'gateway') },
          log: { level: 'warn' },
        },
        null,
        2,
      ),
    );
    const gateway = spawn(process.execPath, [GATEWAY_BIN, 'serve', '--config', gatewayConfig], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(gateway);
    await waitReady(gatewayUrl, gateway);
    for (const [i, node] of nodes.entries()) await waitReady(node.url, children[i]!);

    const tokenFile = join(dataDir, 'researcher.token');
    const refreshToken = async (): Promise<string> => {
      const token = await idp.tokenFor(CLIENT);
      await writeFile(tokenFile, token, { mode: 0o600 });
      return token;
    };
    const token = await refreshToken();

    if (values.once) {
      for (const example of EXAMPLE_QUERIES) {
        const res = await request(`${gatewayUrl}/v1/queries`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            prefer: 'wait=30',
          },
          body: JSON.stringify(example.query),
        });
        const job = (await res.body.json()) as {
          status?: string;
          result?: MergedResult;
          code?: string;
        };
        console.log(`\n${example.description}`);
        if (res.statusCode !== 200 || !job.result) {
          console.log(`  failed: ${res.statusCode} ${job.code ?? job.status ?? ''}`);
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
  nodes       ${nodes.map((n) => `${n.id} ${n.url}`).join(', ')}
  token       ${tokenFile}  (a researcher of project ${PROJECT}; refreshed every 4 minutes)

Try:
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
