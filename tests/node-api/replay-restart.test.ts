// Threat 48: a captured gateway-to-node request (its signed token and body)
// replayed after the node restarts on the same state directory. Under Laplace
// noise every accepted replay would spend budget again, so the node must
// remember, across restarts, which tokens it has honoured.
import { rm } from 'node:fs/promises';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeService, createNodeService } from '@tessera/node-adapter';
import { SYNTHEA_10 } from '../support/paths.ts';
import { type TestNode, createTestNode } from '../support/test-node.ts';

const query = {
  version: 1,
  cohort: { condition: { code: [{ system: 'http://snomed.info/sct', code: '15777000' }] } },
  stratify: ['gender'],
};

function post(service: NodeService, token: string, body: string) {
  return request(service.app)
    .post('/v1/evaluate')
    .set('authorization', `Bearer ${token}`)
    .set('content-type', 'application/json')
    .send(body);
}

describe('a captured gateway request replayed after a node restart (threat 48)', () => {
  let node: TestNode;
  const open: NodeService[] = [];

  beforeAll(async () => {
    node = await createTestNode({ sources: [SYNTHEA_10] });
  }, 120_000);

  afterAll(async () => {
    for (const service of open) await service.close();
    await rm(node.dir, { recursive: true, force: true });
  });

  it('is refused with 401 by the restarted node, and spends no budget', async () => {
    const body = JSON.stringify({ query });
    const token = node.sign(body);
    const first = await post(node.service, token, body);
    expect(first.status).toBe(200);
    // Replayed to the same process: refused.
    expect((await post(node.service, token, body)).status).toBe(401);

    await node.service.close();
    const restarted = await createNodeService(node.config, { logger: pino({ level: 'silent' }) });
    open.push(restarted);
    const replay = await post(restarted, token, body);
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('ERR_UNAUTHENTICATED');

    // A fresh token for the same query is still answered after the restart.
    const fresh = await post(restarted, node.sign(body), body);
    expect(fresh.status).toBe(200);
  });
});
