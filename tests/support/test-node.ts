// A real node adapter for whole-system tests: data ingested from FHIR files
// into a temporary DuckDB store, the app built from a validated configuration,
// and requests signed with the gateway's own signer.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type NodeConfig, loadConfig } from '@tessera/schemas';
import {
  type NodeService,
  type NodeSettings,
  createNodeService,
  ingest,
} from '@tessera/node-adapter';
import { createNodeTokenSigner, generateSigningKey, publicJwks } from '@tessera/gateway';

export const GATEWAY_ISSUER = 'https://gateway.test';

export interface TestNode {
  readonly service: NodeService;
  readonly dir: string;
  readonly config: NodeSettings;
  /** Signs a body as the gateway would for this node. */
  sign(body: string, caller?: { sub?: string; project?: string; aud?: string }): string;
  close(): Promise<void>;
}

/** Ingests `sources` once per call into a fresh directory and builds the node. */
export async function createTestNode(options: {
  nodeId?: string;
  sources: string[];
  policy?: NodeConfig['policy'];
  projects?: string[];
  allowOpenPolicy?: boolean;
}): Promise<TestNode> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-node-'));
  const dbPath = join(dir, 'store.duckdb');
  await ingest({ sources: options.sources, dbPath, recordKeySecret: randomBytes(32) });
  const key = await generateSigningKey();
  const nodeId = options.nodeId ?? 'testnode';
  const config = loadConfig('node-config', {
    nodeId,
    source: { kind: 'duckdb', path: dbPath },
    stateDir: join(dir, 'state'),
    policy: options.policy ?? {},
    gateway: { issuer: GATEWAY_ISSUER, publicJwks: publicJwks([key.publicJwk]) },
    projects: options.projects ?? ['diabetes-eu'],
  });
  const service = await createNodeService(config, {
    allowOpenPolicy: options.allowOpenPolicy ?? false,
    logger: pino({ level: 'silent' }),
  });
  const signer = createNodeTokenSigner({
    privateJwk: key.privateJwk,
    kid: key.kid,
    issuer: GATEWAY_ISSUER,
  });
  return {
    service,
    dir,
    config,
    sign: (body, caller = {}) =>
      signer.sign({
        aud: caller.aud ?? nodeId,
        sub: caller.sub ?? 'researcher-1',
        project: caller.project ?? 'diabetes-eu',
        body,
      }),
    async close() {
      await service.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
