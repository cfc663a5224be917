// The gateway end to end: a real OpenID provider, real node adapters over
// real DuckDB stores and the real gateway, each a process of its own, asked
// over HTTP as a researcher would. Then the audit trails of the run are
// verified with the services' own commands, and tampering is caught.
import { readFile, writeFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cell,
  type CohortQuery,
  type MergedCell,
  type MergedResult,
  type StratumKey,
  queryHash,
} from '@tessera/schemas';
import {
  createNodeTokenSigner,
  createPgliteStore,
  mergeResults,
  publicJwks,
} from '@tessera/gateway';
import { type TestBackend, type TestDatabase, postgresBackend } from '@tessera/gateway/testing';
import { readAuditEntries } from '@tessera/node-adapter';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import {
  type Caller,
  type JobView,
  type Problem,
  cancel,
  get,
  metricSum,
  readEvents,
  submit,
  waitForJob,
} from '../support/gateway-client.ts';
import { SYNTHEA_10 } from '../support/paths.ts';
import { GATEWAY_BIN, NODE_BIN, runCli } from '../support/processes.ts';
import { requirePostgres } from '../support/requirements.ts';
import {
  HYPERTENSION_BY_GENDER,
  WOMEN_WITH_TYPE_2_DIABETES_BY_AGE_BAND,
  patientsAged,
} from './queries.ts';

const postgres = await requirePostgres();

const LOMBARDIA = { patients: 300, seed: 1101, region: 'lombardia' } as const;
const GALICIA = { patients: 300, seed: 2202, region: 'galicia' } as const;
const REAL_NODES = ['lombardia', 'galicia', 'synthea'];

/** The figures one node contributed to a cell: [lowest, highest] it may be. */
function bounds(cell: Cell): [number, number] {
  return 'count' in cell ? [cell.count, cell.count] : [cell.range[0], cell.range[1]];
}

/** Checks a merged cell against the sum of the node cells it was made from. */
function expectRangeHoldsSum(merged: MergedCell, parts: readonly Cell[]): void {
  const low = parts.reduce((s, c) => s + bounds(c)[0], 0);
  const high = parts.reduce((s, c) => s + bounds(c)[1], 0);
  expect(merged.range[0]).toBeLessThanOrEqual(low);
  expect(merged.range[1]).toBeGreaterThanOrEqual(high);
  if (merged.count !== undefined) {
    expect(merged.count).toBeGreaterThanOrEqual(merged.range[0]);
    expect(merged.count).toBeLessThanOrEqual(merged.range[1]);
  }
}

function sameKey(a: StratumKey, b: StratumKey): boolean {
  const entries = (key: StratumKey): string =>
    JSON.stringify(Object.entries(key).sort(([x], [y]) => x.localeCompare(y)));
  return entries(a) === entries(b);
}

function expectMergedHoldsNodeSums(result: MergedResult): void {
  const answers = result.nodes.flatMap((n) => (n.result ? [n.result] : []));
  expectRangeHoldsSum(
    result.total,
    answers.map((a) => a.total),
  );
  for (const [i, stratum] of result.strata.entries()) {
    const parts = answers.map((a) => {
      const match = a.strata.find((s) => sameKey(s.key, stratum.key));
      expect(match, `node stratum ${JSON.stringify(stratum.key)}`).toBeDefined();
      return match!.cell;
    });
    expect(parts.length, `stratum ${i}`).toBe(answers.length);
    expectRangeHoldsSum(stratum.cell, parts);
  }
}

async function gatewayMetrics(fed: Federation): Promise<string> {
  return (await fetch(`${fed.gatewayUrl}/metrics`)).text();
}

describe('the gateway in a federation of real processes (PGlite state)', () => {
  let fed: Federation;
  let alice: Caller;
  let bob: Caller;
  let aliceJob: JobView;
  let publishedKeys: Record<string, unknown>[] = [];

  beforeAll(async () => {
    fed = await startFederation({
      regions: [
        { id: 'lombardia', generate: LOMBARDIA },
        { id: 'galicia', generate: GALICIA },
        { id: 'synthea', sources: [SYNTHEA_10] },
        { id: 'stall', standIn: 'hang' },
      ],
      projects: {
        'diabetes-eu': REAL_NODES,
        'lombardia-only': ['lombardia'],
        'slow-study': ['lombardia', 'stall'],
        rationed: ['lombardia'],
      },
      gatewayOverrides: {
        projects: { rationed: { queriesPerMinute: 4, repeatsPerWindow: 2, repeatWindowSec: 3600 } },
      },
    });
    alice = { gatewayUrl: fed.gatewayUrl, token: await fed.tokenFor('diabetes-eu') };
    bob = {
      gatewayUrl: fed.gatewayUrl,
      token: await fed.tokenFor('diabetes-eu', { researcher: 'bob' }),
    };
    // A first query warms the nodes (gateway keys fetched, stores opened), so
    // that a busy machine does not turn a cold start into a failed test.
    const warm = await submit(alice, patientsAged(0, 120), { wait: 30 });
    expect(warm.body.result?.complete, warm.text).toBe(true);
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(() => fed?.close());

  it('answers a query with Prefer: wait: every node ok, merged ranges hold the node sums', async () => {
    const res = await submit(alice, HYPERTENSION_BY_GENDER, { wait: 10 });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe('done');
    const result = res.body.result!;
    expect(result.complete).toBe(true);
    expect(result.nodes.map((n) => n.node).sort()).toEqual([...REAL_NODES].sort());
    for (const node of result.nodes) {
      expect(node.status, node.node).toBe('ok');
      expect(node.result?.queryHash).toBe(result.queryHash);
    }
    expect(result.strata.map((s) => s.key.gender).sort()).toEqual([
      'female',
      'male',
      'other',
      'unknown',
    ]);
    expectMergedHoldsNodeSums(result);
    // Every node answered under the default policy and says what the answer cost.
    for (const node of result.nodes) {
      expect(node.result?.disclosure.mechanism).toBe('laplace');
      expect(node.result?.budget?.cost).toBe(0.5);
    }
    expect(result.budget?.map((b) => b.node)).toEqual([...REAL_NODES].sort());
    expect(result.confidence).toBeCloseTo(1 - 3 * 0.05, 10);
    // The gateway adds nothing of its own: the merged answer is exactly the
    // merge of the node answers it lists, so it can reveal nothing they do not.
    expect(
      mergeResults({
        queryHash: result.queryHash,
        outcomes: result.nodes,
        // The federation's gateway leaves merge.minNodes at its default.
        minNodes: 1,
        ...(result.queryId === undefined ? {} : { queryId: result.queryId }),
        ...(result.asOf === undefined ? {} : { asOf: result.asOf }),
      }),
    ).toEqual(result);
    // The two generated regions have hundreds of patients: their totals are released.
    for (const id of ['lombardia', 'galicia']) {
      const total = result.nodes.find((n) => n.node === id)!.result!.total;
      expect('count' in total && total.count).toBeGreaterThanOrEqual(10);
    }
    aliceJob = res.body;
  });

  it('answers 202 with a Location without Prefer: wait, and the job there finishes', async () => {
    const res = await submit(alice, patientsAged(20, 50));
    expect(res.status, res.text).toBe(202);
    expect(['queued', 'running']).toContain(res.body.status);
    const location = res.headers.get('location');
    expect(location).toBe(`${fed.gatewayUrl}/v1/queries/${res.body.id}`);
    const done = await waitForJob(alice, res.body.id);
    expect(done.status).toBe('done');
    expect(done.result?.complete).toBe(true);
    expectMergedHoldsNodeSums(done.result!);
    const again = await get<JobView>(alice, location!);
    expect(again.status).toBe(200);
    expect(again.body.result).toEqual(done.result);
  });

  it('renders a finished job as a FHIR MeasureReport and as CSV', async () => {
    const fhir = await get<{ resourceType: string; status: string; group: unknown[] }>(
      alice,
      `/v1/queries/${aliceJob.id}`,
      { accept: 'application/fhir+json' },
    );
    expect(fhir.status).toBe(200);
    expect(fhir.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(fhir.body.resourceType).toBe('MeasureReport');
    expect(fhir.body.group.length).toBeGreaterThan(0);

    const csv = await get<string>(alice, `/v1/queries/${aliceJob.id}`, { accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split(/\r?\n/);
    expect(lines.length).toBeGreaterThan(4);
    expect(lines[0]).toMatch(/,/);
    for (const gender of ['female', 'male']) expect(csv.body).toContain(gender);
  });

  it('streams one node event per node and then the result', async () => {
    const res = await submit(alice, WOMEN_WITH_TYPE_2_DIABETES_BY_AGE_BAND);
    expect([200, 202]).toContain(res.status);
    const stream = await readEvents(alice, res.body.id);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const kinds = stream.events.map((e) => e.event);
    expect(kinds.at(-1)).toBe('result');
    expect(kinds.slice(0, -1).every((k) => k === 'node')).toBe(true);
    const nodes = stream.events.flatMap((e) => (e.event === 'node' ? [e.data.node] : []));
    expect(nodes.sort()).toEqual([...REAL_NODES].sort());
    // Progress only: figures leave inside the merged answer alone, which
    // withholds them when too few nodes answered.
    for (const e of stream.events.filter((e) => e.event === 'node')) {
      expect(e.data).not.toHaveProperty('result');
      expect(e.data).toHaveProperty('status', 'ok');
    }
    const last = stream.events.at(-1)!;
    expect(last.event === 'result' && last.data.status).toBe('done');

    // Asked again once the job is over, the stream replays the same events.
    const replay = await readEvents(alice, res.body.id);
    expect(replay.events.map((e) => e.event)).toEqual(kinds);
  });

  it('cancels a running query with DELETE', async () => {
    const slow: Caller = { gatewayUrl: fed.gatewayUrl, token: await fed.tokenFor('slow-study') };
    const res = await submit(slow, patientsAged(30, 70), { project: 'slow-study' });
    expect(res.status, res.text).toBe(202);
    const cancelled = await cancel(slow, res.body.id);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const after = await get<JobView>(slow, `/v1/queries/${res.body.id}`);
    expect(after.body.status).toBe('cancelled');
    expect(after.body.result).toBeUndefined();
    const stream = await readEvents(slow, res.body.id);
    const last = stream.events.at(-1);
    expect(last?.event === 'result' && last.data.status).toBe('cancelled');
  });

  it("lists only the caller's own queries", async () => {
    const mine = await submit(alice, patientsAged(18, 40), { wait: 10 });
    const theirs = await submit(bob, patientsAged(18, 40), { wait: 10 });
    expect(mine.status).toBe(200);
    expect(theirs.status).toBe(200);

    const aliceList = await get<{ queries: JobView[] }>(alice, '/v1/queries');
    const bobList = await get<{ queries: JobView[] }>(bob, '/v1/queries');
    expect(aliceList.status).toBe(200);
    const aliceIds = aliceList.body.queries.map((q) => q.id);
    const bobIds = bobList.body.queries.map((q) => q.id);
    expect(aliceIds).toContain(mine.body.id);
    expect(aliceIds).toContain(aliceJob.id);
    expect(aliceIds).not.toContain(theirs.body.id);
    expect(bobIds).toEqual([theirs.body.id]);
    // Listing carries no results, and another researcher's job is "not found".
    expect(aliceList.body.queries.every((q) => q.result === undefined)).toBe(true);
    const peek = await get<Problem>(alice, `/v1/queries/${theirs.body.id}`);
    expect(peek.status).toBe(404);
  });

  it('lists the nodes with their health and data versions', async () => {
    const res = await get<{
      nodes: { id: string; ready: boolean; dataVersion?: string; circuit: string }[];
    }>(alice, '/v1/nodes');
    expect(res.status).toBe(200);
    expect(res.body.nodes.map((n) => n.id).sort()).toEqual(
      ['galicia', 'lombardia', 'stall', 'synthea'].sort(),
    );
    for (const node of res.body.nodes.filter((n) => REAL_NODES.includes(n.id))) {
      expect(node.ready, node.id).toBe(true);
      expect(node.dataVersion, node.id).toMatch(/#/);
      expect(node.circuit).toBe('closed');
    }
  });

  it('serves the merged catalogue, filtered by code, and as JSON-LD', async () => {
    type Entries = { entries: { node: string; codes?: { system: string; code: string }[] }[] };
    const all = await get<Entries>(alice, '/v1/catalogue');
    expect(all.status).toBe(200);
    expect(all.body.entries.map((e) => e.node).sort()).toEqual([...REAL_NODES].sort());

    const i10 = await get<Entries>(
      alice,
      `/v1/catalogue?code=${encodeURIComponent('http://hl7.org/fhir/sid/icd-10|I10')}`,
    );
    expect(i10.status).toBe(200);
    const holding = i10.body.entries.map((e) => e.node).sort();
    expect(holding).toEqual(['galicia', 'lombardia']);
    for (const entry of i10.body.entries) {
      expect(entry.codes).toContainEqual(
        expect.objectContaining({ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }),
      );
    }
    const none = await get<Entries>(alice, '/v1/catalogue?code=http://example.org/none|X');
    expect(none.body.entries).toEqual([]);

    const ld = await get<Record<string, unknown>>(alice, '/v1/catalogue', {
      accept: 'application/ld+json',
    });
    expect(ld.status).toBe(200);
    expect(ld.headers.get('content-type')).toMatch(/^application\/ld\+json/);
    expect(ld.body['@context']).toEqual(expect.objectContaining({ dcat: expect.any(String) }));
    expect(ld.body['@type']).toBe('dcat:Catalog');
    expect(ld.body['dcat:dataset']).toHaveLength(REAL_NODES.length);
  });

  it('describes itself in OpenAPI 3.1, and every path it lists exists', async () => {
    const res = await get<{
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    }>({ gatewayUrl: fed.gatewayUrl, token: undefined }, '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\.1\./);
    const paths = Object.entries(res.body.paths);
    expect(paths.length).toBeGreaterThanOrEqual(8);
    const methods = ['get', 'post', 'put', 'patch', 'delete'];
    // Each `{id}` names something that exists: a job, or a saved query.
    const saved = await fetch(`${fed.gatewayUrl}/v1/saved-queries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'paths', query: patientsAged(40, 79) }),
    });
    expect(saved.status, await saved.clone().text()).toBe(201);
    const savedId = ((await saved.json()) as { id: string }).id;
    for (const [template, operations] of paths) {
      const id = template.startsWith('/v1/saved-queries/') ? savedId : aliceJob.id;
      const path = template.replace('{id}', id);
      for (const method of Object.keys(operations).filter((m) => methods.includes(m))) {
        const response = await fetch(`${fed.gatewayUrl}${path}`, {
          method: method.toUpperCase(),
          headers: {
            authorization: `Bearer ${alice.token}`,
            'content-type': 'application/json',
          },
          ...(method === 'post' ? { body: JSON.stringify({ version: 1 }) } : {}),
          signal: AbortSignal.timeout(20_000),
        });
        await response.arrayBuffer();
        expect(response.status, `${method.toUpperCase()} ${template}`).not.toBe(404);
        expect(response.status, `${method.toUpperCase()} ${template}`).not.toBe(405);
        expect(response.status, `${method.toUpperCase()} ${template}`).toBeLessThan(500);
      }
    }
  });

  it('publishes its public node-signing keys at /.well-known/jwks.json', async () => {
    const res = await get<{ keys: Record<string, unknown>[] }>(
      { gatewayUrl: fed.gatewayUrl, token: undefined },
      '/.well-known/jwks.json',
    );
    expect(res.status).toBe(200);
    expect(res.body.keys.length).toBeGreaterThan(0);
    for (const key of res.body.keys) {
      expect(typeof key.kid).toBe('string');
      expect(key.d).toBeUndefined();
    }
    publishedKeys = res.body.keys;
  });

  it('serves the second identical query from the cache', async () => {
    const query = patientsAged(25, 55);
    const first = await submit(alice, query, { wait: 10 });
    expect(first.status).toBe(200);
    expect(first.body.result?.complete).toBe(true);
    const before = metricSum(await gatewayMetrics(fed), 'tessera_gateway_cache_hits_total');
    const second = await submit(alice, query, { wait: 10 });
    expect(second.status).toBe(200);
    const after = metricSum(await gatewayMetrics(fed), 'tessera_gateway_cache_hits_total');
    expect(after).toBe(before + 1);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.result?.total).toEqual(first.body.result?.total);
    expect(second.body.result?.queryId).toBe(second.body.id);
    // No node was asked, so nothing was charged, and the first answer's spending is not shown.
    expect(first.body.result?.budget).toHaveLength(REAL_NODES.length);
    expect(second.body.result?.budget).toBeUndefined();
    expect(second.body.result?.nodes.every((n) => n.result?.budget === undefined)).toBe(true);
  });

  it('refuses a node the project may not use with 403, and the node never hears of it (threat 24)', async () => {
    const limited: Caller = {
      gatewayUrl: fed.gatewayUrl,
      token: await fed.tokenFor('lombardia-only'),
    };
    const query: CohortQuery = { ...patientsAged(41, 42, ['galicia']), asOf: '2026-01-01' };
    const hash = queryHash(query);
    const res = await submit<Problem>(limited, query, { wait: 10 });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('ERR_FORBIDDEN');

    // Nor may the researcher use a project they do not belong to.
    const other = await submit<Problem>(limited, patientsAged(41, 42), {
      wait: 10,
      project: 'diabetes-eu',
    });
    expect(other.status).toBe(403);

    for (const node of fed.nodes.filter((n) => n.stateDir !== undefined)) {
      const entries = await readAuditEntries(node.stateDir!);
      expect(
        entries.filter((e) => e.queryHash === hash),
        node.id,
      ).toEqual([]);
    }
    const galicia = await readAuditEntries(fed.node('galicia').stateDir!);
    expect(galicia.length).toBeGreaterThan(0);
    expect(galicia.filter((e) => e.project === 'lombardia-only')).toEqual([]);
  });

  it('rations queries per researcher: repeats of one question, then queries per minute, each with 429 and Retry-After', async () => {
    const rationed: Caller = { gatewayUrl: fed.gatewayUrl, token: await fed.tokenFor('rationed') };
    const same: CohortQuery = { ...patientsAged(33, 44, ['lombardia']), asOf: '2026-01-01' };
    const refusalsBefore = metricSum(await gatewayMetrics(fed), 'tessera_gateway_refusals_total', {
      reason: 'repeat',
    });
    for (let i = 0; i < 2; i += 1) {
      expect((await submit(rationed, same, { wait: 10 })).status).toBe(200);
    }
    const repeat = await submit<Problem>(rationed, same, { wait: 10 });
    expect(repeat.status).toBe(429);
    expect(repeat.body.code).toBe('ERR_RATE_LIMITED');
    expect(repeat.body.detail).toMatch(/repeat/);
    expect(Number(repeat.headers.get('retry-after'))).toBeGreaterThan(0);

    // A refused query counts too: this is the fourth of four allowed a minute.
    const other = { ...patientsAged(34, 45, ['lombardia']), asOf: '2026-01-01' };
    expect((await submit(rationed, other, { wait: 10 })).status).toBe(200);
    const fifth = await submit<Problem>(rationed, patientsAged(35, 46, ['lombardia']), {
      wait: 10,
    });
    expect(fifth.status).toBe(429);
    expect(fifth.body.detail).toMatch(/per-minute/);
    const retryAfter = Number(fifth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // Another researcher on the same project has counters of their own.
    const bobRationed: Caller = {
      gatewayUrl: fed.gatewayUrl,
      token: await fed.tokenFor('rationed', { researcher: 'bob' }),
    };
    expect((await submit(bobRationed, same, { wait: 10 })).status).toBe(200);
    expect(
      metricSum(await gatewayMetrics(fed), 'tessera_gateway_refusals_total', {
        reason: 'repeat',
      }) - refusalsBefore,
    ).toBe(1);
  });

  it('answers 403 to a token without the required scope', async () => {
    const token = await fed.tokenFor('diabetes-eu', { scope: '' });
    const res = await submit<Problem>(
      { gatewayUrl: fed.gatewayUrl, token },
      HYPERTENSION_BY_GENDER,
    );
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_FORBIDDEN');
    expect(res.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
  });

  it('answers 401 with WWW-Authenticate when there is no token', async () => {
    const anonymous: Caller = { gatewayUrl: fed.gatewayUrl, token: undefined };
    const res = await submit<Problem>(anonymous, HYPERTENSION_BY_GENDER);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(res.body.code).toBe('ERR_UNAUTHENTICATED');
    const list = await get<Problem>(anonymous, '/v1/queries');
    expect(list.status).toBe(401);
  });

  it('answers 400 with a JSON pointer to the fault in an invalid query', async () => {
    const res = await submit<Problem>(alice, {
      version: 1,
      cohort: { all: [{ patient: { gender: ['female'], shoeSize: 42 } }] },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('ERR_QUERY_INVALID');
    expect(res.body.pointer).toMatch(/^\/cohort\/all\/0\/patient/);
  });

  describe('after the run, with the gateway stopped', () => {
    beforeAll(async () => {
      await fed.stopGateway();
    });

    it('signs node requests with the key it publishes, which the nodes accept', async () => {
      const store = await createPgliteStore({ dataDir: fed.gatewayDataDir!, migrate: false });
      const keys = await store.listSigningKeys().finally(() => store.close());
      const active = keys.find((k) => k.retiredAt === null)!;
      expect(active).toBeDefined();
      expect(publishedKeys).toContainEqual(publicJwks([active.privateJwk]).keys[0]);

      // A request signed with that key, as the gateway would sign it, is accepted by a node.
      const signer = createNodeTokenSigner({
        privateJwk: active.privateJwk,
        kid: active.kid,
        issuer: fed.gatewayUrl,
      });
      const body = JSON.stringify({
        query: { ...HYPERTENSION_BY_GENDER, asOf: '2026-01-01' },
        requestId: 'key-check',
      });
      const token = signer.sign({
        aud: 'lombardia',
        sub: fed.researcherSub(),
        project: 'diabetes-eu',
        body,
      });
      const res = await fetch(`${fed.node('lombardia').url}/v1/evaluate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
      expect(res.status, await res.text()).toBe(200);
    });

    it('passes `tessera-gateway audit verify`, and names the entry edited in the store', async () => {
      const dataDir = fed.gatewayDataDir!;
      const intact = await runCli([GATEWAY_BIN, 'audit', 'verify', '--data-dir', dataDir]);
      expect(intact.code, intact.stderr).toBe(0);
      const count = Number(/ok: (\d+) audit/.exec(intact.stdout)?.[1]);
      expect(count).toBeGreaterThan(10);

      const db = await PGlite.create(dataDir);
      try {
        await db.query(`UPDATE audit_log SET actor = 'mallory' WHERE idx = 3`);
      } finally {
        await db.close();
      }
      const broken = await runCli([GATEWAY_BIN, 'audit', 'verify', '--data-dir', dataDir]);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/entry 3\b/);
      expect(broken.stderr).toMatch(/edited/);
    });

    it('passes `tessera-node audit verify`, and names the line edited in audit.jsonl', async () => {
      const stateDir = fed.node('lombardia').stateDir!;
      const intact = await runCli([NODE_BIN, 'audit', 'verify', '--state-dir', stateDir]);
      expect(intact.code, intact.stderr).toBe(0);
      expect(intact.stdout).toMatch(/intact/);

      const file = `${stateDir}/audit.jsonl`;
      const lines = (await readFile(file, 'utf8')).split('\n');
      expect(lines.length).toBeGreaterThan(3);
      const entry = JSON.parse(lines[1]!) as { project: string };
      lines[1] = JSON.stringify({ ...entry, project: 'someone-else' });
      await writeFile(file, lines.join('\n'));
      const broken = await runCli([NODE_BIN, 'audit', 'verify', '--state-dir', stateDir]);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/entry 1\b/);
    });
  });
});

describe.skipIf(postgres.skip)('the gateway with its state in PostgreSQL', () => {
  let backend: TestBackend;
  let db: TestDatabase;
  let fed: Federation;
  let caller: Caller;

  beforeAll(async () => {
    backend = postgresBackend(undefined);
    db = await backend.fresh();
    fed = await startFederation({
      regions: [{ id: 'lombardia', generate: LOMBARDIA }],
      databaseUrl: db.databaseUrl!,
    });
    caller = { gatewayUrl: fed.gatewayUrl, token: await fed.tokenFor() };
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(async () => {
    await fed?.close();
    await db?.dispose();
    await backend?.teardown();
  });

  it('answers a query, keeps the job in its own schema, and its audit log verifies', async () => {
    const res = await submit(caller, HYPERTENSION_BY_GENDER, { wait: 30 });
    expect(res.status, res.text).toBe(200);
    expect(res.body.result?.complete).toBe(true);
    expect(res.body.result?.nodes.map((n) => n.status)).toEqual(['ok']);
    const jobs = await db.sql('SELECT id, status FROM jobs');
    expect(jobs).toEqual([{ id: res.body.id, status: 'done' }]);

    await fed.stopGateway();
    const verify = [GATEWAY_BIN, 'audit', 'verify', '--database-url', db.databaseUrl!];
    const intact = await runCli(verify);
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stdout).toBe('ok: 1 audit entry verified\n');

    // The answered query's one entry names its job and what was released.
    const entries = await db.sql('SELECT idx, action, outcome, detail FROM audit_log');
    expect(entries).toMatchObject([{ action: 'query.result', outcome: 'released' }]);
    expect(JSON.parse(String(entries[0]!.detail))).toMatchObject({
      job: res.body.id,
      complete: true,
      nodes: [{ status: 'ok' }],
    });

    await db.sql(`UPDATE audit_log SET outcome = 'refused' WHERE idx = 0`);
    const broken = await runCli(verify);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/entry 0\b/);
  });
});
