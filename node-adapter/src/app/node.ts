// The node adapter's composition root: configuration in, a ready Express app
// (and what must be closed) out. `serve` adds the listening socket.
import { mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import type { NodeConfig } from '@tessera/schemas';
import { nodeConfigSchemaId, loadConfig, applyEnv } from '@tessera/schemas';
import { openFileAuditLog } from '../audit/file-audit-log.ts';
import { createGatewayTokenVerifier } from '../auth/gateway-token.ts';
import { buildCatalogue } from '../catalogue/catalogue.ts';
import { budgetLimits, openFileReleaseLedger } from '../disclosure/budget-ledger.ts';
import { assertReleasable } from '../disclosure/output-check.ts';
import { type NodePolicy, loadPolicy } from '../disclosure/policy.ts';
import { createRepeatLimiter } from '../disclosure/repeat-limiter.ts';
import { buildNodeApp } from '../http/app.ts';
import { createNodeMetrics } from '../http/metrics.ts';
import { createEvaluator, isoDate } from '../service/evaluator.ts';
import { refreshStore } from '../fhir/harvest.ts';
import type { QuerySource } from '../service/ports.ts';
import { createDisclosureControl } from './disclosure-control.ts';
import {
  loadOrCreateRecordKeyFile,
  openFhirQuerySource,
  resolveFhirAuth,
} from './fhir-source-adapter.ts';
import type { FhirQuerySource } from './fhir-source-adapter.ts';
import { openDuckDbSource } from './source.ts';
import type { DuckDbSource } from './source.ts';

export interface NodeOptions {
  /** Accept the `open` policy (no disclosure control); local testing only. */
  readonly allowOpenPolicy?: boolean;
  /** Directory relative paths in the config are resolved against. */
  readonly baseDir?: string;
  readonly logger?: Logger;
  readonly now?: () => Date;
  /** For the live FHIR source and sync (tests count requests with it). */
  readonly fetch?: typeof fetch;
  /** How long the live source trusts a data version (default 10 s). */
  readonly liveDataVersionTtlMs?: number;
}

/** How long readiness waits for a live FHIR server's data version. */
const READINESS_TIMEOUT_MS = 2000;

/** Reads, env-overrides and validates a node configuration file. */
export async function readNodeConfig(
  path: string,
  env: Record<string, string | undefined> = process.env,
): Promise<Readonly<NodeConfig>> {
  const raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  return loadConfig<NodeConfig>(nodeConfigSchemaId, applyEnv(raw, env, 'TESSERA_NODE_'));
}

async function resolvePolicy(
  policy: NodeConfig['policy'],
  baseDir: string,
  allowOpen: boolean,
): Promise<NodePolicy> {
  if (policy === 'open') return loadPolicy({ mechanism: 'none' }, { allowOpen });
  if (typeof policy === 'string') {
    const file = isAbsolute(policy) ? policy : resolve(baseDir, policy);
    return loadPolicy(JSON.parse(await readFile(file, 'utf8')), { allowOpen });
  }
  return loadPolicy(policy ?? {}, { allowOpen });
}

export interface NodeService {
  readonly app: ReturnType<typeof buildNodeApp>;
  readonly policy: NodePolicy;
  /**
   * Runs the configured `sync` once and switches the store when it changed;
   * undefined without a `sync` block or a DuckDB source.
   */
  readonly sync?: () => Promise<{ changed: boolean; dataVersion: string }>;
  close(): Promise<void>;
}

/**
 * Builds a node from its configuration, without listening.
 * @example const node = await createNodeService(config, { baseDir }); node.app.listen(8081);
 */
export async function createNodeService(
  config: Readonly<NodeConfig>,
  options: NodeOptions = {},
): Promise<NodeService> {
  const baseDir = options.baseDir ?? process.cwd();
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const logger =
    options.logger ??
    pino({
      level: config.log?.level ?? 'info',
      base: { node: config.nodeId },
      redact: ['req.headers.authorization', 'authorization'],
    });
  const now = options.now ?? (() => new Date());
  const policy = await resolvePolicy(config.policy, baseDir, options.allowOpenPolicy === true);
  const stateDir = at(config.stateDir ?? '.data/node');
  let store: DuckDbSource | undefined;
  let live: FhirQuerySource | undefined;
  if (config.source.kind === 'fhir') {
    await mkdir(stateDir, { recursive: true });
    live = await openFhirQuerySource(config.source, {
      baseDir,
      stateDir,
      ...(config.recordKeyFile === undefined ? {} : { recordKeyFile: config.recordKeyFile }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.liveDataVersionTtlMs === undefined
        ? {}
        : { dataVersionTtlMs: options.liveDataVersionTtlMs }),
    });
  } else {
    store = await openDuckDbSource(at(config.source.path));
  }
  const source: QuerySource = store ?? (live as FhirQuerySource);
  const audit = await openFileAuditLog(stateDir);
  const ledger = await openFileReleaseLedger(stateDir, budgetLimits(policy));
  // The secret behind every noise draw: kept with the state, so a restart changes no answer.
  const noiseKey = await loadOrCreateRecordKeyFile(join(stateDir, 'noise-key'));
  const verifier = createGatewayTokenVerifier({
    nodeId: config.nodeId,
    issuer: config.gateway.issuer,
    ...(config.gateway.jwksUrl ? { jwksUrl: config.gateway.jwksUrl } : {}),
    ...(config.gateway.publicJwks
      ? {
          publicJwks: config.gateway.publicJwks as unknown as Parameters<
            typeof createGatewayTokenVerifier
          >[0]['publicJwks'],
        }
      : {}),
  });
  const metrics = createNodeMetrics(config.nodeId, {
    // A live source's data is as fresh as its server's: its age is 0 and it has no store.
    dataAgeSeconds: () =>
      store === undefined ? 0 : (now().getTime() - store.loadedAt.getTime()) / 1000,
    storeBytes: () => store?.storeBytes() ?? 0,
  });
  const evaluate = createEvaluator({
    nodeId: config.nodeId,
    projects: config.projects,
    source,
    verifier,
    disclosure: createDisclosureControl(policy, noiseKey),
    ledger,
    repeats: createRepeatLimiter(policy.repeatLimit),
    audit: {
      append: async (record) => {
        await audit.append({ ...record, at: now().toISOString(), detail: record.detail as never });
      },
    },
    checkOutput: (result) => assertReleasable(result),
    evaluationTimeoutMs: config.limits?.evaluationTimeoutMs ?? 30_000,
    now,
  });

  let catalogueCache:
    { version: string; entry: Awaited<ReturnType<typeof buildCatalogue>> } | undefined;
  const app = buildNodeApp({
    evaluate,
    catalogue: async () => {
      const version = store?.version ?? (await source.dataVersion());
      if (catalogueCache?.version !== version) {
        const settings = {
          nodeId: config.nodeId,
          threshold: policy.threshold,
          ...config.catalogue,
        };
        const entry =
          store === undefined
            ? await (live as FhirQuerySource).catalogue(settings, version)
            : await buildCatalogue(store.runner, settings, version, isoDate(now()));
        catalogueCache = { version, entry };
      }
      return catalogueCache.entry;
    },
    readiness: async () => {
      if (store === undefined) {
        const version = await (live as FhirQuerySource).probe(READINESS_TIMEOUT_MS);
        return version === undefined
          ? { ready: false, reason: 'source unavailable' }
          : { ready: true, dataVersion: version, dataAgeSeconds: 0 };
      }
      return store.version === 'empty'
        ? { ready: false, reason: 'no data loaded' }
        : {
            ready: true,
            dataVersion: store.version,
            dataAgeSeconds: Math.round((now().getTime() - store.loadedAt.getTime()) / 1000),
          };
    },
    metrics,
    logger,
    bodyLimitBytes: config.limits?.bodyBytes ?? 262_144,
  });

  const sync = store === undefined ? undefined : await createSync(config, store, at, logger);
  const timer =
    sync !== undefined && config.sync?.everyMinutes !== undefined
      ? setInterval(() => {
          sync().catch(() => undefined);
        }, config.sync.everyMinutes * 60_000).unref()
      : undefined;

  return {
    app,
    policy,
    ...(sync === undefined ? {} : { sync }),
    async close() {
      if (timer !== undefined) clearInterval(timer);
      await audit.close();
      await ledger.close();
      store?.close();
      await live?.close();
    },
  };
}

/**
 * The configured sync as one call: refreshes the store file from the FHIR
 * server (a new file renamed over the old) and, when it changed and is the
 * file this node serves, reopens the source on it. Runs never overlap; a
 * failed run is logged (its code only) and leaves store and version as they were.
 */
async function createSync(
  config: Readonly<NodeConfig>,
  store: DuckDbSource,
  at: (p: string) => string,
  logger: Logger,
): Promise<NodeService['sync']> {
  const settings = config.sync;
  if (settings === undefined || config.source.kind !== 'duckdb') return undefined;
  const storePath = at(settings.storePath);
  const served = storePath === at(config.source.path);
  if (!served) logger.warn('sync.storePath is not source.path: the node keeps serving its store');
  const auth = await resolveFhirAuth(settings.auth, at('.'));
  const recordKeySecret = await loadOrCreateRecordKeyFile(
    at(config.recordKeyFile ?? `${settings.storePath}.key`),
  );
  let running: Promise<{ changed: boolean; dataVersion: string }> | undefined;
  const once = async (): Promise<{ changed: boolean; dataVersion: string }> => {
    try {
      const report = await refreshStore({
        baseUrl: settings.baseUrl,
        auth,
        storePath,
        recordKeySecret,
        mode: settings.mode ?? 'auto',
        incremental: settings.incremental ?? false,
        fullEveryMs: (settings.fullEveryHours ?? 24) * 3_600_000,
      });
      const dataVersion = report.changed && served ? await store.reload() : report.dataVersion;
      logger.info(
        {
          method: report.method,
          incremental: report.since !== undefined,
          changed: report.changed,
          resources: report.resources,
        },
        'sync finished',
      );
      return { changed: report.changed, dataVersion };
    } catch (err) {
      logger.warn({ code: (err as { code?: unknown }).code ?? 'ERR_SYNC' }, 'sync failed');
      throw err;
    }
  };
  return () => {
    running ??= once().finally(() => {
      running = undefined;
    });
    return running;
  };
}
