// The node API end to end: real ingest of the Synthea fixture, real DuckDB,
// real token verification, real disclosure control, real audit log.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeService, verifyAuditLog } from '@tessera/node-adapter';
import type { Cell, NodeResult } from '@tessera/schemas';
import pino from 'pino';
import { SYNTHEA_10 } from '../support/paths.ts';
import { NODE_BIN, runCliOk } from '../support/processes.ts';
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
    .set('authorization', `Bearer ${node.sign(text, caller)}`)
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

  it('releases no small count of example 3 exactly: each cell noisy and thresholded, zeros as well', async () => {
    const res = await evaluate(node, { query: prediabetesByGender, requestId: 'r2' });
    expect(res.status).toBe(200);
    const result = res.body as NodeResult;
    expect(result.disclosure).toMatchObject({ threshold: 10, mechanism: 'laplace', epsilon: 0.25 });
    const bound = result.disclosure.maxNoise;
    // The truth (total 5, female 4, male 1, two empty strata), whatever the noise drew:
    // suppressed with the same bounds whether small or empty, or a noisy count of at
    // least the threshold whose guaranteed range holds the truth.
    const truth = new Map([
      ['total', 5],
      ['female', 4],
      ['male', 1],
      ['other', 0],
      ['unknown', 0],
    ]);
    const cells: [string, Cell][] = [
      ['total', result.total],
      ...result.strata.map((s): [string, Cell] => [s.key.gender!, s.cell]),
    ];
    for (const [name, cell] of cells) {
      if ('suppressed' in cell) {
        expect(cell, name).toEqual({
          suppressed: true,
          range: [0, 9 + bound],
          interval: [0, expect.any(Number)],
        });
      } else {
        expect(cell.count, name).toBeGreaterThanOrEqual(10);
        expect(cell.range![0], name).toBeLessThanOrEqual(truth.get(name)!);
        expect(cell.range![1], name).toBeGreaterThanOrEqual(truth.get(name)!);
      }
    }
    // Cost: the total and the strata, epsilon 0.25 each.
    expect(res.body.budget).toEqual({
      cost: 0.5,
      periodDays: 30,
      project: { spent: 0.5, limit: 10 },
      researcher: { spent: 0.5, limit: 5 },
    });
  });

  it('charges a new query once per project, answers repeats alike for free, and refuses when spent', async () => {
    const cohort = { patient: { gender: ['female', 'male'] } };
    const ask = (asOf: string, sub = 'researcher-9') =>
      evaluate(node, { query: { version: 1, cohort, asOf } }, { sub });
    const first = await ask('2026-01-01');
    expect(first.status).toBe(200);
    expect(first.body.budget).toMatchObject({ cost: 0.25, researcher: { spent: 0.25 } });
    const again = await ask('2026-01-01', 'researcher-10');
    expect(again.body.total).toEqual(first.body.total);
    expect(again.body.budget).toMatchObject({ cost: 0, researcher: { spent: 0 } });
    // Each new reference date is a new query: researcher-9 has 5 to spend, 20 queries.
    const costs: number[] = [];
    let refused: request.Response | undefined;
    for (let day = 2; day <= 30 && refused === undefined; day++) {
      const res = await ask(`2026-01-${String(day).padStart(2, '0')}`);
      if (res.status === 200) costs.push(res.body.budget.cost as number);
      else refused = res;
    }
    expect(costs).toHaveLength(19);
    expect(new Set(costs)).toEqual(new Set([0.25]));
    expect(refused?.status).toBe(429);
    expect(refused?.body).toMatchObject({ code: 'ERR_BUDGET_EXHAUSTED' });
    expect(refused?.body.detail).toMatch(/researcher budget .* 0 of 5 epsilon left.* costs 0.25/);
    expect(refused?.body).not.toHaveProperty('total');
    const metrics = (await request(node.service.app).get('/metrics')).text;
    expect(metrics).toMatch(
      /tessera_node_budget_spent_epsilon\{project="diabetes-eu",node="testnode"\} \d/,
    );
    expect(metrics).toContain('tessera_node_budget_refusals_total{node="testnode"} 1');
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
      .set('authorization', `Bearer ${node.sign(text)}`)
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
    const result = await verifyAuditLog(node.config.stateDir);
    expect(result).toMatchObject({ ok: true });
    const log = await readFile(join(node.config.stateDir, 'audit.jsonl'), 'utf8');
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

  it('after a restart gives the same answers and refills no budget; the ledger exports what left', async () => {
    const query = { version: 1, cohort: { patient: { gender: ['female'] } }, asOf: '2026-02-01' };
    const before = await evaluate(node, { query }, { sub: 'researcher-2' });
    expect(before.status).toBe(200);
    const restarted = await createNodeService(node.config, { logger: pino({ level: 'silent' }) });
    try {
      const text = JSON.stringify({ query });
      const after = await request(restarted.app)
        .post('/v1/evaluate')
        .set('authorization', `Bearer ${node.sign(text, { sub: 'researcher-2' })}`)
        .set('content-type', 'application/json')
        .send(text);
      expect(after.body.total).toEqual(before.body.total);
      expect(after.body.budget).toEqual({ ...before.body.budget, cost: 0 });
    } finally {
      await restarted.close();
    }
    const { stdout: exported } = await runCliOk([
      NODE_BIN,
      'releases',
      '--state-dir',
      node.config.stateDir,
      '--project',
      'diabetes-eu',
    ]);
    const lines = exported
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toMatchObject({
      project: 'diabetes-eu',
      researcher: 'researcher-2',
      queryHash: before.body.queryHash,
      cost: 0,
      released: { total: before.body.total },
    });
    // What left is what the answers said; the true counts (5, 4, 1 in example 3) appear nowhere.
    expect(JSON.stringify(lines[0]!.released)).not.toMatch(/"count":(5|4|1)[,}]/);
  });
});
