// The node adapter's composition root: configuration in, a ready Express app
// (and what must be closed) out. `serve` adds the listening socket.
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import type { NodeConfig } from '@tessera/schemas';
import { nodeConfigSchemaId, loadConfig, applyEnv } from '@tessera/schemas';
import { openFileAuditLog } from '../audit/file-audit-log.ts';
import { createGatewayTokenVerifier } from '../auth/gateway-token.ts';
import { buildCatalogue } from '../catalogue/catalogue.ts';
import { budgetLimits, openFileBudgetLedger } from '../disclosure/budget-ledger.ts';
import { assertReleasable } from '../disclosure/output-check.ts';
import { type NodePolicy, loadPolicy } from '../disclosure/policy.ts';
import { createRepeatLimiter } from '../disclosure/repeat-limiter.ts';
import { buildNodeApp } from '../http/app.ts';
import { createNodeMetrics } from '../http/metrics.ts';
import { createEvaluator, isoDate } from '../service/evaluator.ts';
import { createDisclosureControl } from './disclosure-control.ts';
import { openDuckDbSource } from './source.ts';

export interface NodeOptions {
  /** Accept the `open` policy (no disclosure control); local testing only. */
  readonly allowOpenPolicy?: boolean;
  /** Directory relative paths in the config are resolved against. */
  readonly baseDir?: string;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

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
  if (config.source.kind !== 'duckdb') {
    throw new Error(
      'configuration /source: the live FHIR source is configured in source.kind "fhir" (see fhir/)',
    );
  }
  const source = await openDuckDbSource(at(config.source.path));
  const stateDir = at(config.stateDir ?? '.data/node');
  const audit = await openFileAuditLog(stateDir);
  const ledger =
    policy.mechanism === 'laplace'
      ? await openFileBudgetLedger(stateDir, budgetLimits(policy))
      : undefined;
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
    dataAgeSeconds: () => (now().getTime() - source.loadedAt.getTime()) / 1000,
    storeBytes: () => source.storeBytes(),
  });
  const evaluate = createEvaluator({
    nodeId: config.nodeId,
    projects: config.projects,
    source,
    verifier,
    disclosure: createDisclosureControl(policy),
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
      const version = source.version;
      if (catalogueCache?.version !== version) {
        const entry = await buildCatalogue(
          source.runner,
          { nodeId: config.nodeId, threshold: policy.threshold, ...config.catalogue },
          version,
          isoDate(now()),
        );
        catalogueCache = { version, entry };
      }
      return catalogueCache.entry;
    },
    readiness: () =>
      Promise.resolve(
        source.version === 'empty'
          ? { ready: false, reason: 'no data loaded' }
          : {
              ready: true,
              dataVersion: source.version,
              dataAgeSeconds: Math.round((now().getTime() - source.loadedAt.getTime()) / 1000),
            },
      ),
    metrics,
    logger,
    bodyLimitBytes: config.limits?.bodyBytes ?? 262_144,
  });

  return {
    app,
    policy,
    async close() {
      await audit.close();
      await ledger?.close();
      source.close();
    },
  };
}
