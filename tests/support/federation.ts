// A whole federation on loopback for whole-system tests: a real OpenID
// provider in this process, real node adapters and the real gateway as child
// processes started through their command lines, with configuration files
// written to a temporary directory. `npm run demo` (tests/demo/main.ts) starts
// its federation with the same process helpers (processes.ts), but keeps its
// regions and gateway state across runs instead.
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestIdp, demoResearchers, startTestIdp } from '@tessera/gateway/testing';
import { REPO_ROOT } from './paths.ts';
import {
  GATEWAY_BIN,
  NODE_BIN,
  type Service,
  freePort,
  startService,
  stopService,
  waitReady,
} from './processes.ts';
import { type GenerateSpec, freshGatewayDataDir, regionStore } from './run-cache.ts';

/** A node's disclosure policy: `open` (started with --allow-open-policy) or an inline policy. */
export type NodePolicySetting = 'open' | Readonly<Record<string, unknown>>;

export interface RegionSpec {
  /** The node id. */
  readonly id: string;
  /** FHIR NDJSON / Bundle files or directories to ingest. */
  readonly sources?: readonly string[];
  /** Or a synthetic region made by `tessera-node generate`. */
  readonly generate?: GenerateSpec;
  /**
   * Or no node adapter at all but a stand-in process that is healthy and then
   * never answers an evaluation (`hang`) or dies once one arrives (`die`).
   */
  readonly standIn?: 'hang' | 'die';
  /** Overrides the federation's policy for this node. */
  readonly policy?: NodePolicySetting;
}

export interface FederationOptions {
  readonly regions: readonly RegionSpec[];
  /** Every node's disclosure policy; default: the node default (laplace, threshold 10), large budgets. */
  readonly policy?: NodePolicySetting;
  /** Project id → the nodes it may query; default `diabetes-eu` → every region. */
  readonly projects?: Readonly<Record<string, readonly string[]>>;
  /** Researchers known to the IdP, each a member of every project on their own; default alice and bob. */
  readonly researchers?: readonly string[];
  /** Deep-merged into the gateway's configuration (arrays are replaced). */
  readonly gatewayOverrides?: Readonly<Record<string, unknown>>;
  /** A PostgreSQL URL for the gateway's state (as DATABASE_URL); default PGlite in a temporary directory. */
  readonly databaseUrl?: string;
  /**
   * Gateway processes to run, each `tessera-gateway serve` with the same
   * configuration file and its own port (TESSERA_GATEWAY_LISTEN__PORT); more
   * than one needs `databaseUrl`. Default 1.
   */
  readonly gatewayReplicas?: number;
  /**
   * Lifetime of the web page's access tokens (the browser client's), default
   * an hour; a test of a session that ends mid-build makes it short.
   */
  readonly browserTokenTtlSec?: number;
}

/** The web page's client at the test IdP; its researchers are `demoResearchers(projects)`. */
export const BROWSER_CLIENT_ID = 'tessera-web';

export interface FederationNode {
  readonly id: string;
  readonly url: string;
  readonly process: ChildProcess;
  readonly service: Service;
  /** Where the node keeps its audit log; undefined for stand-ins. */
  readonly stateDir: string | undefined;
  readonly standIn: 'hang' | 'die' | undefined;
}

export interface TokenOptions {
  /** One of the federation's researchers; default the first. */
  readonly researcher?: string;
  /** Scopes to ask for; '' asks for none. */
  readonly scope?: string;
}

export interface Federation {
  /** The first replica's URL: the gateway's public URL, where nodes fetch its keys. */
  readonly gatewayUrl: string;
  /** Every replica's URL, the first being `gatewayUrl`. */
  readonly gatewayUrls: readonly string[];
  /** The gateway's PGlite data directory; undefined on PostgreSQL. */
  readonly gatewayDataDir: string | undefined;
  readonly databaseUrl: string | undefined;
  readonly nodes: readonly FederationNode[];
  readonly idp: TestIdp;
  /** The first replica's process (a new one after each restart). */
  readonly gateway: Service;
  /** Every replica's process, in the order of `gatewayUrls`. */
  readonly gateways: readonly Service[];
  node(id: string): FederationNode;
  /** An access token of a researcher who belongs to `project` (default: the first project) only. */
  tokenFor(project?: string, options?: TokenOptions): Promise<string>;
  /** The `sub` such a token carries. */
  researcherSub(project?: string, researcher?: string): string;
  stopNode(id: string): Promise<void>;
  killNode(id: string): Promise<void>;
  /** Stops every replica (SIGTERM). */
  stopGateway(): Promise<void>;
  /** Kills one replica (default the first) with SIGKILL: no goodbye to the store. */
  killGateway(replica?: number): Promise<void>;
  /** Starts every replica that is not running, optionally with more configuration merged in. */
  startGateway(overrides?: Readonly<Record<string, unknown>>): Promise<void>;
  restartGateway(overrides?: Readonly<Record<string, unknown>>): Promise<void>;
  close(): Promise<void>;
}

/**
 * For the beforeAll that starts a federation: building the stores (once per
 * run) and starting every process takes a while on a small, busy machine.
 */
export const FEDERATION_START_TIMEOUT_MS = 300_000;

// The nodes' default policy, with budgets a test run cannot spend: running out
// of budget is tested against a single node (tests/node-api).
const DEFAULT_POLICY: NodePolicySetting = {
  laplace: { projectBudget: 10_000, researcherBudget: 10_000 },
};
const DEFAULT_PROJECT = 'diabetes-eu';
/** The test IdP's client for `tessera login` (device flow). */
const CLI_CLIENT_ID = 'tessera-cli';
const STAND_IN = join(REPO_ROOT, 'tests/support/stand-in-node.ts');

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; anything else in `extra` replaces what `base` had. */
export function deepMerge(base: Json, extra: Json): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Starts a federation and waits until every node and the gateway are ready.
 * @example
 * const fed = await startFederation({ regions: [{ id: 'lombardia', generate: { patients: 200, seed: 1 } }] });
 * const token = await fed.tokenFor();
 * await fed.close();
 */
export async function startFederation(options: FederationOptions): Promise<Federation> {
  const ids = options.regions.map((r) => r.id);
  if (new Set(ids).size !== ids.length) throw new Error('startFederation: region ids repeat');
  const projects = options.projects ?? { [DEFAULT_PROJECT]: ids };
  const projectIds = Object.keys(projects);
  const researchers = options.researchers ?? ['alice', 'bob'];
  const clientId = (project: string, researcher: string): string => `${researcher}.${project}`;
  const replicas = options.gatewayReplicas ?? 1;
  if (!Number.isSafeInteger(replicas) || replicas < 1) {
    throw new Error('startFederation: gatewayReplicas must be a positive integer');
  }
  if (replicas > 1 && options.databaseUrl === undefined) {
    throw new Error('startFederation: gateway replicas share PostgreSQL; give a databaseUrl');
  }

  const root = await mkdtemp(join(tmpdir(), 'tessera-e2e-'));
  const configDir = join(root, 'config');
  await mkdir(configDir, { recursive: true });

  const clients = projectIds.flatMap((p) => researchers.map((r) => clientId(p, r)));
  const projectsByClient = Object.fromEntries(
    projectIds.flatMap((p) => researchers.map((r) => [clientId(p, r), [p]])),
  );
  const gatewayPorts: number[] = [];
  for (let i = 0; i < replicas; i += 1) gatewayPorts.push(await freePort());
  const gatewayUrls = gatewayPorts.map((port) => `http://127.0.0.1:${port}`);
  const gatewayPort = gatewayPorts[0]!;
  const gatewayUrl = gatewayUrls[0]!;
  const nodes: FederationNode[] = [];
  let idp: TestIdp | undefined;
  /** Each replica's latest process; undefined until it first starts. */
  const gateways: (Service | undefined)[] = gatewayPorts.map(() => undefined);
  let gatewayConfig: Record<string, unknown> = {};
  const gatewayConfigPath = join(configDir, 'gateway.json');
  const gatewayDataDir =
    options.databaseUrl === undefined ? join(root, 'gateway-state') : undefined;
  const gatewayEnv: NodeJS.ProcessEnv = { ...process.env };
  delete gatewayEnv.DATABASE_URL;
  if (options.databaseUrl !== undefined) gatewayEnv.DATABASE_URL = options.databaseUrl;

  const stopAll = async (): Promise<void> => {
    await Promise.all([
      ...gateways.flatMap((g) => (g ? [stopService(g)] : [])),
      ...nodes.map((n) => stopService(n.service)),
    ]);
    await idp?.close().catch(() => undefined);
  };

  const isRunning = (service: Service | undefined): boolean =>
    service !== undefined && service.child.exitCode === null && service.child.signalCode === null;

  /** Starts every replica not running, all from one configuration file. */
  const startGatewayProcesses = async (): Promise<void> => {
    await writeJson(gatewayConfigPath, gatewayConfig);
    await Promise.all(
      gatewayPorts.map(async (port, i) => {
        if (isRunning(gateways[i])) return;
        const name = replicas === 1 ? 'gateway' : `gateway ${i}`;
        const service = startService(name, [GATEWAY_BIN, 'serve', '--config', gatewayConfigPath], {
          env: { ...gatewayEnv, TESSERA_GATEWAY_LISTEN__PORT: String(port) },
        });
        gateways[i] = service;
        await waitReady(gatewayUrls[i]!, service);
      }),
    );
  };
  const replica = (i: number): Service => {
    const service = gateways[i];
    if (service === undefined) throw new Error(`gateway replica ${i} was never started`);
    return service;
  };

  try {
    // Stores first: building them is the slow part, and it is cached per run.
    const stores = new Map<string, string>();
    await Promise.all(
      options.regions.map(async (region) => {
        if (region.standIn !== undefined) return;
        if (region.generate !== undefined) {
          stores.set(region.id, await regionStore({ generate: region.generate }));
        } else if (region.sources !== undefined) {
          stores.set(region.id, await regionStore({ sources: region.sources }));
        } else {
          throw new Error(
            `startFederation: region ${region.id} needs sources, generate or standIn`,
          );
        }
      }),
    );
    if (gatewayDataDir !== undefined) await freshGatewayDataDir(gatewayDataDir);
    // Tokens outlive a slow test file: a whole-system run is not where expiry is tested.
    // The CLI's researchers sign in with the names of the machine clients
    // (`alice.diabetes-eu`, password the same), so both carry the same `sub`.
    idp = await startTestIdp({
      clients,
      projectsByClient,
      accessTokenTtlSec: 3600,
      browser: {
        clientId: BROWSER_CLIENT_ID,
        redirectUris: gatewayUrls.map((url) => `${url}/`),
        researchers: demoResearchers(projectIds),
        accessTokenTtlSec: options.browserTokenTtlSec ?? 3600,
      },
      device: {
        clientId: CLI_CLIENT_ID,
        researchers: Object.fromEntries(
          Object.entries(projectsByClient).map(([name, p]) => [
            name,
            { password: name, projects: p },
          ]),
        ),
      },
    });

    for (const region of options.regions) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      if (region.standIn !== undefined) {
        const service = startService(region.id, [
          '--import',
          'tsx',
          STAND_IN,
          '--port',
          String(port),
          '--mode',
          region.standIn,
        ]);
        nodes.push({
          id: region.id,
          url,
          process: service.child,
          service,
          stateDir: undefined,
          standIn: region.standIn,
        });
        continue;
      }
      const policy = region.policy ?? options.policy ?? DEFAULT_POLICY;
      const stateDir = join(root, 'nodes', region.id, 'state');
      const configPath = join(configDir, `node-${region.id}.json`);
      await writeJson(configPath, {
        nodeId: region.id,
        listen: { host: '127.0.0.1', port },
        source: { kind: 'duckdb', path: stores.get(region.id) },
        stateDir,
        policy,
        gateway: { issuer: gatewayUrl, jwksUrl: `${gatewayUrl}/.well-known/jwks.json` },
        projects: projectIds,
        catalogue: {
          title: `${region.id} regional health data (synthetic)`,
          spatial: region.id,
          publisher: { name: `${region.id} health authority` },
        },
        log: { level: 'warn' },
      });
      const args = [NODE_BIN, 'serve', '--config', configPath];
      if (policy === 'open') args.push('--allow-open-policy');
      const service = startService(region.id, args);
      nodes.push({
        id: region.id,
        url,
        process: service.child,
        service,
        stateDir,
        standIn: undefined,
      });
    }
    await Promise.all(nodes.map((n) => waitReady(n.url, n.service)));

    gatewayConfig = deepMerge(
      {
        publicUrl: gatewayUrl,
        listen: { host: '127.0.0.1', port: gatewayPort },
        oidc: {
          issuer: idp.issuer,
          audience: idp.audience,
          projectsClaim: idp.projectsClaim,
          browserClient: { clientId: BROWSER_CLIENT_ID },
          cliClientId: CLI_CLIENT_ID,
        },
        nodes: nodes.map((n) => ({ id: n.id, url: n.url, title: `${n.id} node` })),
        projects: Object.fromEntries(
          Object.entries(projects).map(([id, nodeIds]) => [
            id,
            { nodes: [...nodeIds], queriesPerMinute: 600, repeatsPerWindow: 1000 },
          ]),
        ),
        ...(gatewayDataDir === undefined ? {} : { store: { dataDir: gatewayDataDir } }),
        log: { level: 'warn' },
      },
      options.gatewayOverrides ?? {},
    );
    await startGatewayProcesses();
  } catch (err) {
    await stopAll();
    await rm(root, { recursive: true, force: true });
    throw err;
  }

  const find = (id: string): FederationNode => {
    const node = nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id} in this federation`);
    return node;
  };

  const federation: Federation = {
    gatewayUrl,
    gatewayUrls,
    gatewayDataDir,
    databaseUrl: options.databaseUrl,
    nodes,
    idp,
    get gateway(): Service {
      return replica(0);
    },
    get gateways(): readonly Service[] {
      return gatewayPorts.map((_, i) => replica(i));
    },
    node: find,
    tokenFor(project = projectIds[0]!, tokenOptions = {}) {
      const researcher = tokenOptions.researcher ?? researchers[0]!;
      return idp.tokenFor(
        clientId(project, researcher),
        tokenOptions.scope === undefined ? {} : { scope: tokenOptions.scope },
      );
    },
    researcherSub: (project = projectIds[0]!, researcher = researchers[0]!) =>
      clientId(project, researcher),
    stopNode: (id) => stopService(find(id).service, 'SIGTERM'),
    killNode: (id) => stopService(find(id).service, 'SIGKILL'),
    async stopGateway() {
      await Promise.all(gateways.flatMap((g) => (g ? [stopService(g)] : [])));
    },
    killGateway: (i = 0) => stopService(replica(i), 'SIGKILL'),
    async startGateway(overrides) {
      if (overrides !== undefined) gatewayConfig = deepMerge(gatewayConfig, overrides);
      await startGatewayProcesses();
    },
    async restartGateway(overrides) {
      await federation.stopGateway();
      await federation.startGateway(overrides);
    },
    async close() {
      await stopAll();
      await rm(root, { recursive: true, force: true });
    },
  };
  return federation;
}
