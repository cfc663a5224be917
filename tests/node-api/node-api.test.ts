// The node API end to end: real ingest of the Synthea fixture, real DuckDB,
// real token verification, real disclosure control, real audit log.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../node-adapter/src/audit/file-audit-log.ts';
import { SYNTHEA_10 } from '../support/paths.ts';
import { type TestNode, createTestNode } from '../support/test-node.ts';

const prediabetesByGender = {
  version: 1,
  cohort: { condition: { code: [{ system: 'http://snomed.info/sct', code: '15777000' }] } },
  stratify: ['gender'],
};

async function evaluate(node: TestNode, body: unknown, caller?: Parameters<TestNode['sign']>[1]) {
  const text = JSON.stringify(body);
  return request(node.service.app)
    .post('/v1/evaluate')
    .set('authorization', `Bearer ${await node.sign(text, caller)}`)
    .set('content-type', 'application/json')
    .send(text);
}

describe('node API with the open policy', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await createTestNode({ sources: [SYNTHEA_10], policy: 'open', allowOpenPolicy: true });
  });
  afterAll(() => node.close());

  it('answers the query-language example 3 exactly: total 5, female 4, male 1', async () => {
    const res = await evaluate(node, { query: prediabetesByGender, requestId: 'r1' });
    expect(res.status).toBe(200);
    expect(res.body.total).toEqual({ count: 5 });
    const byGender = Object.fromEntries(
      (res.body.strata as { key: { gender: string }; cell: unknown }[]).map((s) => [
        s.key.gender,
        s.cell,
      ]),
    );
    expect(byGender).toEqual({
      female: { count: 4 },
      male: { count: 1 },
      other: { count: 0 },
      unknown: { count: 0 },
    });
    expect(res.body.disclosure.mechanism).toBe('none');
  });
});

describe('node API with the default policy', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await createTestNode({ sources: [SYNTHEA_10] });
  });
  afterAll(() => node.close());

  it('suppresses the small cells of example 3 and releases the empty strata as 0', async () => {
    const res = await evaluate(node, { query: prediabetesByGender, requestId: 'r2' });
    expect(res.status).toBe(200);
    expect(res.body.total).toEqual({ suppressed: true, range: [1, 9] });
    const byGender = Object.fromEntries(
      (res.body.strata as { key: { gender: string }; cell: unknown }[]).map((s) => [
        s.key.gender,
        s.cell,
      ]),
    );
    expect(byGender.female).toEqual({ suppressed: true, range: [1, 9] });
    expect(byGender.male).toEqual({ suppressed: true, range: [1, 9] });
    expect(byGender.other).toEqual({ count: 0 });
    expect(byGender.unknown).toEqual({ count: 0 });
    expect(res.body.disclosure).toMatchObject({ threshold: 10, mechanism: 'cell-key' });
  });

  it('refuses the open policy unless started for testing', async () => {
    await expect(createTestNode({ sources: [SYNTHEA_10], policy: 'open' })).rejects.toMatchObject({
      code: 'ERR_OPEN_POLICY_REFUSED',
    });
  });

  it('answers 401 without a token, and for a token meant for another node', async () => {
    const text = JSON.stringify({ query: prediabetesByGender });
    const none = await request(node.service.app)
      .post('/v1/evaluate')
      .set('content-type', 'application/json')
      .send(text);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.headers['content-type']).toMatch(/application\/problem\+json/);
    const other = await evaluate(node, { query: prediabetesByGender }, { aud: 'another-node' });
    expect(other.status).toBe(401);
  });

  it('answers 403 for a project the node does not serve', async () => {
    const res = await evaluate(node, { query: prediabetesByGender }, { project: 'marketing' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_PROJECT_NOT_ALLOWED');
  });

  it('answers 400 with a pointer for an invalid query', async () => {
    const res = await evaluate(node, {
      query: {
        version: 1,
        cohort: { condition: { code: [{ system: 'x', code: 'y' }], colour: 'red' } },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 'ERR_QUERY_INVALID',
      pointer: '/query/cohort/condition/colour',
    });
  });

  it('answers 413 for a body over the limit', async () => {
    const text = JSON.stringify({ query: prediabetesByGender, requestId: 'x'.repeat(300_000) });
    const res = await request(node.service.app)
      .post('/v1/evaluate')
      .set('authorization', `Bearer ${await node.sign(text)}`)
      .set('content-type', 'application/json')
      .send(text);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('ERR_BODY_TOO_LARGE');
  });

  it('serves health, readiness with the data version, metrics and a disclosure-safe catalogue', async () => {
    expect((await request(node.service.app).get('/healthz')).status).toBe(200);
    const ready = await request(node.service.app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.dataVersion).toMatch(/#/);
    const metrics = await request(node.service.app).get('/metrics');
    expect(metrics.text).toContain('tessera_node_evaluations_total');
    const catalogue = await request(node.service.app).get('/v1/catalogue');
    expect(catalogue.status).toBe(200);
    expect(catalogue.body.numberOfUniqueIndividuals % 10).toBe(0);
    for (const code of catalogue.body.codes as { patients: number }[]) {
      expect(code.patients).toBeGreaterThanOrEqual(10);
    }
  });

  it('writes every decision to an intact hash-chained audit log without patient data', async () => {
    const result = await verifyAuditLog(node.config.stateDir!);
    expect(result).toMatchObject({ ok: true });
    const log = await readFile(join(node.config.stateDir!, 'audit.jsonl'), 'utf8');
    const entries = log
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { outcome: string; detail?: { code?: string } });
    expect(entries.map((e) => e.outcome)).toEqual(expect.arrayContaining(['released', 'refused']));
    expect(entries.map((e) => e.detail?.code)).toEqual(
      expect.arrayContaining(['ERR_PROJECT_NOT_ALLOWED', 'ERR_QUERY_INVALID']),
    );
    // No patient id from the fixture appears anywhere in the log.
    const patientFile = (await readdir(SYNTHEA_10)).find((f) => f.startsWith('Patient'))!;
    const ids = (await readFile(join(SYNTHEA_10, patientFile), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { id: string }).id);
    for (const id of ids) expect(log).not.toContain(id);
  });
});
