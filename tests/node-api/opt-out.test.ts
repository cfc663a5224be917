// The node's opt-out policy end to end: a node started with `optOut` in its
// policy leaves patients whose active Consent denies those codes out of every
// answer, and its catalogue says so; the same data without it counts them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSENT_CLINIC, MDAT_USE, MII_POLICY, writeNdjsonDir } from '@tessera/node-adapter/oracle';
import { type TestNode, createTestNode } from '../support/test-node.ts';

const byGender = {
  version: 1,
  cohort: { any: [{ patient: { deceased: false } }, { patient: { deceased: true } }] },
  stratify: ['gender'],
};

async function evaluate(node: TestNode, query: unknown) {
  const text = JSON.stringify({ query, requestId: 'r-opt-out' });
  return request(node.service.app)
    .post('/v1/evaluate')
    .set('authorization', `Bearer ${node.sign(text)}`)
    .set('content-type', 'application/json')
    .send(text);
}

let dir: string;
let applying: TestNode;
let notApplying: TestNode;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-opt-out-'));
  await writeNdjsonDir(dir, CONSENT_CLINIC);
  const optOut = { codes: [{ system: MII_POLICY, code: MDAT_USE }] };
  applying = await createTestNode({
    sources: [dir],
    policy: { mechanism: 'none', optOut },
    allowOpenPolicy: true,
  });
  notApplying = await createTestNode({ sources: [dir], policy: 'open', allowOpenPolicy: true });
});

afterAll(async () => {
  await applying.close();
  await notApplying.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a node applying an opt-out', () => {
  it('leaves the opted-out patient out of the total and the strata', async () => {
    const counted = await evaluate(notApplying, byGender);
    const left = await evaluate(applying, byGender);
    expect([counted.status, left.status]).toEqual([200, 200]);
    expect(counted.body.total).toEqual({ count: 8 });
    // p3, female, denies MDAT use (test/oracle/consent-clinic.ts).
    expect(left.body.total).toEqual({ count: 7 });
    const female = (body: { strata: { key: { gender: string }; cell: unknown }[] }) =>
      body.strata.find((s) => s.key.gender === 'female')?.cell;
    expect([female(counted.body), female(left.body)]).toEqual([{ count: 4 }, { count: 3 }]);
    // The answer names the researcher's query, not the node's rewriting of it.
    expect(left.body.queryHash).toBe(counted.body.queryHash);
  });

  it('leaves them out of what a not would bring back', async () => {
    const noConsent = {
      version: 1,
      cohort: { not: { consent: { code: [{ system: MII_POLICY, code: MDAT_USE }] } } },
    };
    expect((await evaluate(notApplying, noConsent)).body.total).toEqual({ count: 5 });
    expect((await evaluate(applying, noConsent)).body.total).toEqual({ count: 4 });
  });

  it('says so in its catalogue', async () => {
    const yes = await request(applying.service.app).get('/v1/catalogue');
    const no = await request(notApplying.service.app).get('/v1/catalogue');
    expect([yes.status, no.status]).toEqual([200, 200]);
    expect(yes.body.appliesOptOut).toBe(true);
    expect(no.body.appliesOptOut).toBe(false);
  });
});
