// Shedding before Express (threat 59), as a running gateway does it: a
// refused submission answered at the edge is the route's answer in every
// respect a researcher, an auditor or a dashboard can see; and the edge
// never answers for a token the gateway has not verified, so it tells an
// attacker nothing about anyone's capacity.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import request from 'supertest';
import { loadConfig } from '@tessera/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import { startTestIdp, type TestIdp } from '../../test/support/test-idp.ts';
import { type TestNodeServer, startTestNodeServer } from '../../test/support/test-node-server.ts';
import { type GatewayService, createGatewayService } from '../app/gateway.ts';

const QUERY = { version: 1, cohort: { patient: { gender: ['female'] } } };

let idp: TestIdp;
let node: TestNodeServer;
let store: Store;
let gateway: GatewayService;
let token: string;
/** Answers the node holds back until the end, so the first query keeps its place. */
const held: ServerResponse[] = [];

beforeAll(async () => {
  idp = await startTestIdp({ clients: ['alice'], projectsByClient: { alice: ['diabetes'] } });
  node = await startTestNodeServer((_req: IncomingMessage, res: ServerResponse) => {
    held.push(res);
  });
  store = createMemoryStore();
  const config = loadConfig('gateway-config', {
    publicUrl: 'http://127.0.0.1:8080',
    oidc: { issuer: idp.issuer, audience: idp.audience, projectsClaim: idp.projectsClaim },
    nodes: [{ id: 'alpha', url: node.url }],
    projects: { diabetes: { nodes: ['alpha'] }, cardio: { nodes: ['alpha'] } },
    fanout: { maxConcurrentPerResearcher: 1 },
    log: { level: 'silent' },
  });
  gateway = await createGatewayService(config, { store, pollIntervalSec: 0 });
  token = await idp.tokenFor('alice');
  // The one place alice has: taken by a query the node never answers.
  await request(gateway.app)
    .post('/v1/queries')
    .set('authorization', `Bearer ${token}`)
    .set('x-tessera-project', 'diabetes')
    .send(QUERY)
    .expect(202);
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await gateway.close();
  await store.close();
  await node.close();
  await idp.close();
});

function submit(path: string, bearer: string, project?: string) {
  const req = request(gateway.app)
    .post(path)
    .set('authorization', `Bearer ${bearer}`)
    .set('x-request-id', 'req-shed-1');
  return (project === undefined ? req : req.set('x-tessera-project', project)).send(QUERY);
}

/** Every header but those that differ between any two answers. */
function stableHeaders(headers: Record<string, string>): Record<string, string> {
  const varying = new Set(['date', 'connection', 'keep-alive']);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !varying.has(name)));
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a submission refused at capacity', () => {
  it('gets at the edge exactly the answer, audit entry and metrics the route gives', async () => {
    const before = (await request(gateway.app).get('/metrics')).text;
    // The header names the project: shed before Express.
    const shed = await submit('/v1/queries', token, 'diabetes');
    // A query string leaves the decision to the route.
    const routed = await submit('/v1/queries?project=diabetes', token);

    for (const res of [shed, routed]) {
      expect(res.status).toBe(429);
      expect(res.body).toMatchObject({ code: 'ERR_TOO_MANY_RUNNING', requestId: 'req-shed-1' });
    }
    expect(shed.body).toEqual(routed.body);
    expect(stableHeaders(shed.headers)).toEqual(stableHeaders(routed.headers));
    expect(shed.headers).toMatchObject({
      'content-type': 'application/problem+json; charset=utf-8',
      'retry-after': '1',
      'x-request-id': 'req-shed-1',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    expect(shed.headers['content-security-policy']).toContain("frame-ancestors 'none'");

    const after = (await request(gateway.app).get('/metrics')).text;
    const refusals = 'tessera_gateway_refusals_total';
    const labels = 'kind="capacity",reason="running"';
    expect(metricValue(after, refusals, labels) - metricValue(before, refusals, labels)).toBe(2);
    const timed = 'tessera_gateway_http_request_duration_seconds_count';
    const route = 'method="POST",route="/v1/queries",status="429"';
    expect(metricValue(after, timed, route) - metricValue(before, timed, route)).toBe(2);

    await expect
      .poll(async () =>
        (await store.auditEntries()).filter(
          (e) => e.outcome === 'refused' && (e.detail as { reason?: string }).reason === 'running',
        ),
      )
      .toHaveLength(2);
  });

  it('is a 401 for a token the gateway has not verified, however alike it looks (attack)', async () => {
    // Alice's claims, signed by a key that is not the IdP's.
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'forged' })
      .sign(privateKey);
    const res = await submit('/v1/queries', forged, 'diabetes');
    expect(res.status).toBe(401);
    expect(res.body.code).not.toBe('ERR_TOO_MANY_RUNNING');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it('tells a project she is no member of from none that exists by the route alone', async () => {
    for (const project of ['cardio', 'no-such-project']) {
      const res = await submit('/v1/queries', token, project);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('ERR_FORBIDDEN');
    }
  });
});
