// The gateway's composition root: configuration in, a ready Express app (and
// what must be closed) out. `serve` and the demo add the listening socket.
import { existsSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import {
  ConfigError,
  type LoadedConfig,
  applyEnv,
  loadConfig,
  parseConfigText,
} from '@tessera/schemas';
import {
  createResearcherAuth,
  generateSigningKey,
  nodeTokenKeyPolicy,
  openNodeTokenKeyring,
  researcherAuthMiddleware,
  retiredKeyPublishedForSec,
} from '../auth/index.ts';
import { createFederatedCatalogue } from '../catalogue/catalogue.ts';
import { queryWarnings } from '../catalogue/warnings.ts';
import { createFanout } from '../fanout/index.ts';
import { buildGatewayApp } from '../http/app.ts';
import { shedRefusals } from '../http/shed.ts';
import { type NodeReading, createGatewayMetrics } from '../http/metrics.ts';
import { buildOpenApi } from '../http/openapi.ts';
import { createAdmission } from '../jobs/admission.ts';
import { createSupervisor } from '../jobs/supervisor.ts';
import { mergeResults } from '../merge/index.ts';
import { createNodeClient } from '../nodes/node-client.ts';
import { createNodeRegistry } from '../nodes/registry.ts';
import { type ProjectRules, createQueryService } from '../jobs/service.ts';
import { type Store, type StoreTarget, openStore } from '../store/index.ts';
import { createSavedQueryService } from '../saved/saved-queries.ts';
import { createStorePurge } from './store-purge.ts';

/** The built web page (`npm run build:web`, run by `npm install`; source in src/web). */
export const WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const DAY_SEC = 24 * 60 * 60;

/** A gateway configuration as the gateway reads it: validated, every default filled in, frozen. */
export type GatewaySettings = LoadedConfig<'gateway-config'>;

/** Reads, env-overrides and validates a gateway configuration file; the schema fills in its defaults. */
export async function readGatewayConfig(
  path: string,
  env: Record<string, string | undefined> = process.env,
): Promise<GatewaySettings> {
  const raw = applyEnv(
    // A name twice in one object stops start-up (threat 50).
    parseConfigText(await readFile(path, 'utf8')) as Record<string, unknown>,
    env,
    'TESSERA_GATEWAY_',
  );
  if (env.DATABASE_URL) {
    raw.store = {
      ...(raw.store as Record<string, unknown> | undefined),
      databaseUrl: env.DATABASE_URL,
    };
  }
  return loadConfig('gateway-config', raw);
}

/** Where the configuration keeps the gateway's state: PostgreSQL when a URL is set, else PGlite. */
export function storeTargetOf(config: GatewaySettings): StoreTarget {
  return config.store.databaseUrl
    ? { databaseUrl: config.store.databaseUrl }
    : { dataDir: config.store.dataDir };
}

/**
 * Refuses a staleness under which a live replica, one heartbeat late, would
 * be taken as dead and its running jobs failed.
 * @throws ConfigError naming store.staleAfterSec
 */
function checkHeartbeat(store: GatewaySettings['store']): void {
  if (store.staleAfterSec < 2 * store.heartbeatIntervalSec) {
    throw new ConfigError(
      '/store/staleAfterSec',
      `must be at least twice store.heartbeatIntervalSec (${store.heartbeatIntervalSec})`,
    );
  }
}

export interface GatewayOptions {
  readonly logger?: Logger;
  /** Use this store instead of opening the configured one (tests). */
  readonly store?: Store;
  readonly fetch?: typeof fetch;
  /** Seconds between node health polls, instead of the configuration's `health.pollIntervalSec`; 0 disables polling. */
  readonly pollIntervalSec?: number;
  /** Milliseconds between store heartbeats and signing-key re-reads, instead of `store.heartbeatIntervalSec`. */
  readonly heartbeatIntervalMs?: number;
}

export interface GatewayService {
  /** The gateway's request listener: refused submissions shed (http/shed.ts), the rest to its Express app. */
  readonly app: RequestListener;
  readonly store: Store;
  readonly logger: Logger;
  /** From now on /readyz answers 503, so traffic drains away before the gateway stops. */
  markNotReady(): void;
  close(): Promise<void>;
}

/**
 * Builds the gateway from its configuration, without listening.
 * @example const gateway = await createGatewayService(config); await listen(gateway.app, '0.0.0.0', 8080);
 */
export async function createGatewayService(
  config: GatewaySettings,
  options: GatewayOptions = {},
): Promise<GatewayService> {
  checkHeartbeat(config.store);
  const logger =
    options.logger ??
    pino({
      level: config.log.level,
      redact: ['req.headers.authorization', 'authorization'],
    });
  // Metrics come first: background tasks and the fan-out report through
  // them, and they read the fan-out's circuits and the health polls.
  let circuits: () => { node: string; state: 'closed' | 'half-open' | 'open' }[] = () => [];
  let polled: () => readonly NodeReading[] = () => [];
  const metrics = createGatewayMetrics({ circuits: () => circuits(), nodes: () => polled() });
  const supervisor = createSupervisor({ logger, failures: metrics.backgroundFailures });
  let accepting = true;
  const store = options.store ?? (await openStore(storeTargetOf(config)));
  const recover = { staleAfterSec: config.store.staleAfterSec };
  const recovered = await store.recoverInterruptedJobs(new Date(), recover);
  if (recovered.length > 0)
    logger.warn({ jobs: recovered.length }, 'failed jobs interrupted by a restart');
  if (!existsSync(join(WEB_ROOT, 'index.html'))) {
    logger.warn(
      { webRoot: WEB_ROOT },
      'the web page is not built (npm run build:web); no page at /',
    );
  }
  const heartbeatIntervalMs =
    options.heartbeatIntervalMs ?? config.store.heartbeatIntervalSec * 1000;
  supervisor.every('store-heartbeat', heartbeatIntervalMs, async () => {
    await store.heartbeat(new Date());
    await store.recoverInterruptedJobs(new Date(), recover);
  });

  await store.getOrCreateSigningKey(async () => {
    const made = await generateSigningKey();
    return { kid: made.kid, privateJwk: made.privateJwk };
  });
  const keyPolicy = nodeTokenKeyPolicy(config.nodeTokens.keyPublicationDelaySec);
  const keyring = await openNodeTokenKeyring({
    readKeys: () => store.listSigningKeys(),
    issuer: config.publicUrl,
    policy: keyPolicy,
    onSigningKeyChange: (kid) => logger.info({ kid }, 'signing node tokens with this key'),
  });
  // A rotation by `tessera-gateway keys rotate` or another replica is seen
  // here within one interval, far inside the key's publication delay.
  supervisor.every('signing-keys', heartbeatIntervalMs, () => keyring.refresh());
  supervisor.every(
    'store-purge',
    config.store.purgeIntervalSec * 1000,
    createStorePurge({
      store,
      options: {
        jobRetentionSec: config.store.jobRetentionDays * DAY_SEC,
        // Deleted when it leaves the JWKS: no token it signed can be honoured after.
        retiredKeyRetentionSec: retiredKeyPublishedForSec(keyPolicy),
      },
      logger,
      purgedRows: metrics.storePurgedRows,
    }),
  );

  const oidc = config.oidc;
  const auth = createResearcherAuth({
    issuer: oidc.issuer,
    audience: oidc.audience,
    algorithms: oidc.algorithms,
    typ: oidc.typ,
    requiredScope: oidc.requiredScope,
    projectsClaim: oidc.projectsClaim,
    clockToleranceSec: oidc.clockToleranceSec,
    jwksCacheMaxAgeMs: oidc.jwksCacheMaxAgeSec * 1000,
    fetchTimeoutMs: oidc.fetchTimeoutMs,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  const fo = config.fanout;
  // One client for queries, health probes and catalogue fetches: one pool,
  // with the node's own connection limit, per node.
  const nodeClient = createNodeClient({
    nodes: config.nodes.map((n) => ({ id: n.id, url: n.url, connections: n.connections })),
    connectTimeoutMs: fo.perNodeDeadlineMs,
  });
  const fanout = createFanout({
    client: nodeClient,
    perNodeDeadlineMs: fo.perNodeDeadlineMs,
    queryDeadlineMs: fo.queryDeadlineMs,
    maxAttempts: fo.maxAttempts,
    retryBudget: { ratio: fo.retryBudgetRatio, reserve: fo.retryBudgetReserve },
    backoff: { baseMs: fo.backoffBaseMs, maxMs: fo.backoffMaxMs },
    breaker: {
      failureThreshold: fo.breakerFailureThreshold,
      openMs: fo.breakerOpenMs,
    },
    maxConcurrentPerNode: Object.fromEntries(
      config.nodes.map((n) => [n.id, n.maxConcurrentQueries]),
    ),
    maxResponseBytes: fo.maxResponseBytes,
    signRequest: (nodeId, body, caller) =>
      keyring.sign({ aud: nodeId, sub: caller.sub, project: caller.project, body }),
    metrics: {
      outcome: (o) => metrics.nodeOutcomes.inc({ node: o.node, outcome: o.status }),
      retry: (node) => metrics.nodeRetries.inc({ node }),
      nodeInFlight: (node, count) => metrics.nodeCallsInFlight.set({ node }, count),
    },
  });
  circuits = () => fanout.nodeStates().map((s) => ({ node: s.id, state: s.circuit }));

  const registry = createNodeRegistry(config.nodes, {
    client: nodeClient,
    timeoutMs: config.health.timeoutMs,
    maxBodyBytes: config.health.maxBodyBytes,
  });
  polled = () => registry.list();

  const projects: Record<string, ProjectRules> = {};
  for (const [id, p] of Object.entries(config.projects)) {
    if (!p) continue;
    projects[id] = {
      nodes: p.nodes,
      measures: p.measures,
      maxStrata: p.maxStrata,
      queriesPerMinute: p.queriesPerMinute,
      queriesPerDay: p.queriesPerDay,
      repeatsPerWindow: p.repeatsPerWindow,
      repeatWindowSec: p.repeatWindowSec,
    };
  }

  const admission = createAdmission(
    {
      maxConcurrentQueries: fo.maxConcurrentQueries,
      maxConcurrentPerResearcher: fo.maxConcurrentPerResearcher,
    },
    { onChange: (running) => metrics.queriesInFlight.set(running) },
  );
  const catalogue = createFederatedCatalogue(config.nodes, {
    client: nodeClient,
    ttlSec: config.cache.catalogueTtlSec,
    timeoutMs: config.catalogue.timeoutMs,
    maxBytes: config.catalogue.maxBytes,
  });
  const queries = createQueryService({
    store,
    admission,
    projects,
    runFanout: (run) => {
      const started = performance.now();
      return fanout.run({
        body: run.body,
        nodes: run.nodes,
        requestId: run.requestId,
        caller: run.caller,
        queryHash: run.queryHash,
        signal: run.signal,
        ...(run.traceparent ? { traceparent: run.traceparent } : {}),
        onNodeOutcome: (outcome) => {
          metrics.fanoutDuration.observe(
            { node: outcome.node },
            (performance.now() - started) / 1000,
          );
          run.onNodeOutcome(outcome);
        },
      });
    },
    merge: mergeResults,
    minNodes: config.merge.minNodes,
    resultTtlSec: config.cache.resultTtlSec,
    dataVersionOf: (node) => registry.dataVersionOf(node),
    noteDataVersion: (node, version) => registry.noteDataVersion(node, version),
    onRefusal: (reason, kind) => metrics.submissionRefusals.inc({ kind, reason }),
    onCacheHit: () => metrics.cacheHits.inc(),
    warningsFor: async (query) => queryWarnings(query, await catalogue.entries()),
    background: supervisor,
  });

  const pollIntervalSec = options.pollIntervalSec ?? config.health.pollIntervalSec;
  if (pollIntervalSec > 0) {
    supervisor.every('node-health', pollIntervalSec * 1000, () => registry.poll(), {
      immediately: true,
    });
  }

  const application = buildGatewayApp({
    publicUrl: config.publicUrl.replace(/\/$/, ''),
    queries,
    saved: createSavedQueryService({ store, projects: config.projects }),
    authenticate: researcherAuthMiddleware(auth),
    catalogue,
    registry,
    circuits: () => circuits(),
    jwks: () => keyring.publishedJwks(),
    ready: async () => {
      if (!accepting) return false;
      await store.heartbeat(new Date());
      return true;
    },
    openapi: buildOpenApi(config.publicUrl),
    metrics,
    logger,
    bodyLimitBytes: config.limits.bodyBytes,
    signIn: {
      issuer: oidc.issuer,
      audience: oidc.audience,
      scope: oidc.requiredScope,
      cliClientId: oidc.cliClientId,
    },
    webRoot: WEB_ROOT,
    ...(config.oidc.browserClient
      ? {
          browserSignIn: {
            issuer: config.oidc.issuer,
            clientId: config.oidc.browserClient.clientId,
            scope: config.oidc.browserClient.scope,
            resource: config.oidc.audience,
            projectsClaim: config.oidc.projectsClaim,
          },
        }
      : {}),
  });
  const app = shedRefusals({
    app: application,
    knownResearcher: (authorization) => auth.known(authorization),
    capacityRefusal: (request) => queries.capacityRefusal(request),
    timer: metrics.httpDuration,
  });

  return {
    app,
    store,
    logger,
    markNotReady() {
      accepting = false;
    },
    async close() {
      accepting = false;
      queries.abortAll();
      await fanout.close();
      // Aborted runs still record what they have: the store stays open until they are done.
      await supervisor.close();
      await nodeClient.close();
      if (!options.store) await store.close();
    },
  };
}
