// The node adapter's composition root: configuration in, a ready Express app
// (and what must be closed) out. `serve` adds the listening socket. Clocks,
// randomness, key material, files and the data source are made here and
// passed in; nothing below asks which kind of source it is given.
import { randomUUID } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import type { CatalogueEntry } from '@tessera/schemas';
import { openFileAuditLog } from '../audit/file-audit-log.ts';
import { createGatewayTokenVerifier, openFileReplayCache } from '../auth/index.ts';
import { budgetLimits } from '../disclosure/budget.ts';
import { createDisclosureControl } from '../disclosure/control.ts';
import { assertReleasable } from '../disclosure/output-check.ts';
import type { NodePolicy } from '../disclosure/policy.ts';
import { createRepeatLimiter } from '../disclosure/repeat-limiter.ts';
import { createEvaluator } from '../evaluate/evaluator.ts';
import { withOptOut } from '../evaluate/opt-out.ts';
import type { Clock } from '../evaluate/ports.ts';
import { buildNodeApp } from '../http/app.ts';
import { createNodeMetrics } from '../http/metrics.ts';
import { openFileReleaseLedger } from '../ledger/file-ledger.ts';
import { openNodeSource } from '../sources/index.ts';
import { loadOrCreateKeyFile } from '../store/key-file.ts';
import { type NodeSettings, resolvePolicy } from './config.ts';
import { type SyncRun, createSync } from './sync.ts';

export { type NodeSettings, readNodeConfig } from './config.ts';

export interface NodeOptions {
  /** Accept the `open` policy (no disclosure control); local testing only. */
  readonly allowOpenPolicy?: boolean;
  /** Directory relative paths in the config are resolved against. */
  readonly baseDir?: string;
  readonly logger?: Logger;
  readonly now?: () => Date;
  /** For the live FHIR source and sync (tests count requests with it). */
  readonly fetch?: typeof fetch;
}

export interface NodeService {
  readonly app: ReturnType<typeof buildNodeApp>;
  readonly policy: NodePolicy;
  /**
   * Runs the configured `sync` once and switches the store when it changed;
   * undefined without a `sync` block or a DuckDB source.
   */
  readonly sync?: SyncRun;
  close(): Promise<void>;
}

/**
 * Builds a node from its configuration, without listening.
 * @example const node = await createNodeService(config, { baseDir }); node.app.listen(8081);
 */
export async function createNodeService(
  config: NodeSettings,
  options: NodeOptions = {},
): Promise<NodeService> {
  const baseDir = options.baseDir ?? process.cwd();
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const logger =
    options.logger ??
    pino({
      level: config.log.level,
      base: { node: config.nodeId },
      redact: ['req.headers.authorization', 'authorization'],
    });
  const now = options.now ?? (() => new Date());
  const clock: Clock = { now, monotonicMs: () => performance.now() };
  const policy = await resolvePolicy(config.policy, baseDir, options.allowOpenPolicy === true);
  const stateDir = at(config.stateDir);
  const source = await openNodeSource(config, {
    baseDir,
    stateDir,
    now,
    randomId: randomUUID,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const audit = await openFileAuditLog(stateDir);
  const ledger = await openFileReleaseLedger(stateDir, budgetLimits(policy));
  // The secret behind every noise draw: kept with the state, so a restart changes no answer.
  const noiseKey = await loadOrCreateKeyFile(join(stateDir, 'noise-key'));
  // Token ids already honoured, kept on disk so a restart reopens no replay window (threat 48).
  const replayCache = await openFileReplayCache(stateDir);
  const verifier = createGatewayTokenVerifier({
    nodeId: config.nodeId,
    replayCache,
    issuer: config.gateway.issuer,
    ...(config.gateway.jwksUrl ? { jwksUrl: config.gateway.jwksUrl } : {}),
    ...(config.gateway.publicJwks
      ? {
          publicJwks: config.gateway.publicJwks as unknown as NonNullable<
            Parameters<typeof createGatewayTokenVerifier>[0]['publicJwks']
          >,
        }
      : {}),
  });
  const metrics = createNodeMetrics(config.nodeId, {
    dataAgeSeconds: () => source.dataAgeSeconds(),
    storeBytes: () => source.storeBytes(),
  });
  const evaluate = createEvaluator({
    nodeId: config.nodeId,
    projects: config.projects,
    source: policy.optOut === undefined ? source : withOptOut(source, policy.optOut.codes),
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
    evaluationTimeoutMs: config.limits.evaluationTimeoutMs,
    clock,
  });

  const catalogueSettings = {
    nodeId: config.nodeId,
    threshold: policy.threshold,
    ...(policy.optOut === undefined ? {} : { optOut: policy.optOut.codes }),
    ...config.catalogue,
  };
  let catalogueCache: { version: string; entry: CatalogueEntry } | undefined;
  const app = buildNodeApp({
    evaluate,
    catalogue: async () => {
      const version = await source.dataVersion();
      if (catalogueCache?.version !== version) {
        catalogueCache = { version, entry: await source.catalogue(catalogueSettings, version) };
      }
      return catalogueCache.entry;
    },
    readiness: () => source.readiness(),
    metrics,
    logger,
    bodyLimitBytes: config.limits.bodyBytes,
  });

  const sync = await createSync(config, source, at, logger);
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
      await replayCache.close();
      await source.close();
    },
  };
}
