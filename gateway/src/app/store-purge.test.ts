// The store purge as the gateway runs it: scheduled under the supervisor,
// reported in the log and in tessera_gateway_store_purged_rows_total.
import pino from 'pino';
import request from 'supertest';
import { loadConfig, type CanonicalQuery, type MergedResult } from '@tessera/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../store/memory-store.ts';
import type { NewJob, Store } from '../store/store.ts';
import { createGatewayService, type GatewayService } from './gateway.ts';
import { createStorePurge } from './store-purge.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const QUERY: CanonicalQuery = {
  version: 1,
  cohort: { patient: { gender: ['female'] } },
  stratify: [],
  measures: [{ count: 'patients' }],
};
const RESULT: MergedResult = {
  queryHash: `sha256:${'ab'.repeat(32)}`,
  complete: true,
  nodes: [],
  total: { range: [5, 5], count: 5 },
  strata: [],
  measures: [],
};

/** A job created at `now`, answered at once unless `answered` is false. */
function jobAt(now: Date, { answered = true } = {}): NewJob {
  return {
    researcher: 'r-anna',
    project: 'diabetes',
    queryHash: RESULT.queryHash,
    query: QUERY,
    nodes: ['alpha'],
    now,
    ...(answered ? { status: 'done', result: RESULT } : {}),
  };
}

/** A logger that keeps what it was told, as pino's JSON lines. */
function recordingLogger() {
  const lines: { level: number; msg: string; purged?: Record<string, number> }[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) },
  );
  return { logger, lines };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('createStorePurge', () => {
  it('counts what it deleted by kind, and logs at info only when it deleted something', async () => {
    const store = createMemoryStore();
    cleanups.push(() => store.close());
    const now = new Date();
    await store.createJob(jobAt(new Date(now.getTime() - 31 * DAY_MS)));
    await store.putCachedResult('sha256:q', 'v1', {}, { now, expiresAt: now });
    const counted: [string, number][] = [];
    const { logger, lines } = recordingLogger();
    const purge = createStorePurge({
      store,
      options: { jobRetentionSec: 30 * 24 * 3600 },
      logger,
      purgedRows: { inc: ({ kind }, value) => counted.push([kind, value]) },
      now: () => now,
    });

    expect(await purge()).toMatchObject({ jobs: 1, cache: 1 });
    expect(counted).toEqual([
      ['cache', 1],
      ['jobs', 1],
    ]);
    expect(await purge()).toMatchObject({ jobs: 0, cache: 0 });
    expect(counted).toHaveLength(2);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'store purged'],
      [20, 'store purged, nothing to delete'],
    ]);
    expect(lines[0]?.purged).toMatchObject({ jobs: 1, cache: 1, rateLimits: 0 });
  });
});

describe('the gateway', () => {
  it('purges on its schedule: an old finished job goes, a recent one and a queued one stay', async () => {
    const store: Store = createMemoryStore();
    cleanups.push(() => store.close());
    const old = await store.createJob(jobAt(new Date(Date.now() - 8 * DAY_MS)));
    const recent = await store.createJob(jobAt(new Date(Date.now() - 6 * DAY_MS)));
    const queued = await store.createJob(
      jobAt(new Date(Date.now() - 60 * DAY_MS), { answered: false }),
    );
    const config = loadConfig('gateway-config', {
      publicUrl: 'http://127.0.0.1:8080',
      // Never asked: no request here carries a researcher token.
      oidc: { issuer: 'http://127.0.0.1:9/', audience: 'tessera' },
      nodes: [{ id: 'alpha', url: 'http://127.0.0.1:9/' }],
      projects: { diabetes: { nodes: ['alpha'] } },
      store: { jobRetentionDays: 7, purgeIntervalSec: 1 },
      log: { level: 'silent' },
    });
    const gateway: GatewayService = await createGatewayService(config, {
      store,
      pollIntervalSec: 0,
    });
    cleanups.push(() => gateway.close());

    // Not at start-up: replicas restarting together would all purge at once.
    expect(await store.getJob(old.id)).toBeDefined();
    await expect.poll(() => store.getJob(old.id), { timeout: 5000 }).toBeUndefined();
    expect(await store.getJob(recent.id)).toBeDefined();
    expect((await store.getJob(queued.id))?.status).toBe('queued');
    const metrics = await request(gateway.app).get('/metrics').expect(200);
    expect(metrics.text).toContain('tessera_gateway_store_purged_rows_total{kind="jobs"} 1');
  });
});
