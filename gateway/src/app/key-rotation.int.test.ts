// A signing-key rotation as a running gateway lives it: rotated in the
// shared store by someone else (`tessera-gateway keys rotate`, or another
// replica), the new key is published at once, signs real node requests
// once its publication delay has passed, and tokens signed before still
// verify against the JWKS the gateway publishes.
import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import request from 'supertest';
import { loadConfig, queryHash, type CanonicalQuery } from '@tessera/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_TOKEN_TYP, generateSigningKey } from '../auth/node-token.ts';
import { createMemoryDatabase, createMemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import { startTestIdp, type TestIdp } from '../../test/support/test-idp.ts';
import {
  type TestNodeServer,
  nodeResultOf,
  sendJson,
  startTestNodeServer,
} from '../../test/support/test-node-server.ts';
import { createGatewayService, type GatewayService } from './gateway.ts';

const PUBLIC_URL = 'http://127.0.0.1:8080';
/** Short, so the switch can be watched; production keeps it above the nodes' JWKS cache age. */
const DELAY_SEC = 3;
const HEARTBEAT_MS = 100;

let idp: TestIdp;
let node: TestNodeServer;
let gateway: GatewayService;
/** The gateway's store, and another open on the same database: the `keys rotate` of a PostgreSQL deployment. */
let stores: { gateway: Store; operator: Store };
/** The bearer tokens the node received, in order. */
const tokens: string[] = [];

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

beforeAll(async () => {
  idp = await startTestIdp({ clients: ['alice'], projectsByClient: { alice: ['diabetes'] } });
  node = await startTestNodeServer((req, res) => {
    // The gateway also reads the node's catalogue (for an answer's warnings); this node has none.
    if (req.url !== '/v1/evaluate') {
      sendJson(res, 404, { code: 'ERR_NOT_FOUND' });
      return;
    }
    void readBody(req).then((text) => {
      tokens.push(/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
      const { query } = JSON.parse(text) as { query: CanonicalQuery };
      sendJson(res, 200, nodeResultOf('alpha', queryHash(query)));
    });
  });
  const database = createMemoryDatabase();
  stores = {
    gateway: createMemoryStore({ database }),
    operator: createMemoryStore({ database }),
  };
  const config = loadConfig('gateway-config', {
    publicUrl: PUBLIC_URL,
    oidc: {
      issuer: idp.issuer,
      audience: idp.audience,
      projectsClaim: idp.projectsClaim,
    },
    nodes: [{ id: 'alpha', url: node.url }],
    projects: { diabetes: { nodes: ['alpha'] } },
    nodeTokens: { keyPublicationDelaySec: DELAY_SEC },
    // Every query goes to the node, none is answered from the cache.
    cache: { resultTtlSec: 0 },
    log: { level: 'silent' },
  });
  gateway = await createGatewayService(config, {
    store: stores.gateway,
    pollIntervalSec: 0,
    heartbeatIntervalMs: HEARTBEAT_MS,
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([stores?.gateway.close(), stores?.operator.close()]);
  await node?.close();
  await idp?.close();
});

/** Runs one query through the gateway; returns the token the node received for it. */
async function tokenOfNextQuery(): Promise<string> {
  const received = tokens.length;
  const res = await request(gateway.app)
    .post('/v1/queries')
    .set('authorization', `Bearer ${await idp.tokenFor('alice')}`)
    .set('prefer', 'wait=10')
    .send({ version: 1, cohort: { patient: { gender: ['female'] } } })
    .expect(200);
  expect(res.body).toMatchObject({ status: 'done' });
  expect(tokens).toHaveLength(received + 1);
  return tokens.at(-1)!;
}

async function publishedKeys(): Promise<JWK[]> {
  const res = await request(gateway.app).get('/.well-known/jwks.json').expect(200);
  return (res.body as { keys: JWK[] }).keys;
}

const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a signing-key rotation seen by a running gateway', () => {
  it('publishes the new key at once, signs with it after the delay, and keeps old tokens verifiable', async () => {
    const [original] = await stores.operator.listSigningKeys();
    const before = await tokenOfNextQuery();
    expect(kidOf(before)).toBe(original?.kid);

    const rotatedAt = Date.now();
    const fresh = await stores.operator.rotateSigningKey(async () => {
      const { kid, privateJwk } = await generateSigningKey();
      return { kid, privateJwk };
    }, new Date(rotatedAt));
    expect((await publishedKeys()).map((k) => k.kid)).toEqual([fresh.kid, original?.kid]);

    // Seen by the gateway within a heartbeat, but not signed with before the delay.
    await sleep(3 * HEARTBEAT_MS);
    const during = await tokenOfNextQuery();
    expect(Date.now() - rotatedAt).toBeLessThan(DELAY_SEC * 1000);
    expect(kidOf(during)).toBe(original?.kid);

    await sleep(rotatedAt + DELAY_SEC * 1000 + 50 - Date.now());
    const after = await tokenOfNextQuery();
    expect(kidOf(after)).toBe(fresh.kid);

    // Every token, before and after the switch, verifies against what the gateway publishes now.
    const jwks = createLocalJWKSet({ keys: await publishedKeys() });
    for (const token of [before, during, after]) {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: PUBLIC_URL,
        audience: 'alpha',
        typ: NODE_TOKEN_TYP,
        algorithms: ['ES256'],
      });
      expect(payload.sub).toBe('alice');
    }
  });
});
