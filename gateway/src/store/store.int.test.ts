// One contract, both backends: everything here must hold for PGlite and for
// PostgreSQL alike, including when several stores (replicas) share a database.
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  verifyChain,
  type AuditFields,
  type CanonicalQuery,
  type AuditOutcome,
  type MergedResult,
} from '@tessera/schemas';
import { loadMigrations, migrate } from './migrate.ts';
import { createPgliteStore } from './pglite-store.ts';
import { ERR_GATEWAY_RESTARTED, type JobRecord, type NewJob, type Store } from './store.ts';
import { freshPgliteDir, testBackends, type TestDatabase } from './test-databases.ts';

const backends = await testBackends();

const T0 = new Date('2026-03-02T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const QUERY: CanonicalQuery = {
  version: 1,
  cohort: { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
  stratify: [],
  measures: [{ count: 'patients' }],
};

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    researcher: 'r-anna',
    project: 'diabetes-2026',
    queryHash: `sha256:${'ab'.repeat(32)}`,
    query: QUERY,
    nodes: ['lombardia', 'galicia'],
    now: T0,
    ...overrides,
  };
}

/** A merged result as small as its type allows: the store keeps the caller's document as given. */
function merged(count: number): MergedResult {
  return {
    queryHash: `sha256:${'ab'.repeat(32)}`,
    complete: true,
    nodes: [],
    total: { range: [count, count], count },
    strata: [],
    measures: [],
  };
}

function auditFields(i: number, outcome: AuditOutcome = 'accepted'): AuditFields {
  return {
    at: at(i).toISOString(),
    actor: `r-${i % 4}`,
    project: 'diabetes-2026',
    queryHash: `sha256:${i.toString(16).padStart(64, '0')}`,
    action: 'query.submit',
    outcome,
    ...(i % 3 === 0 ? { detail: { count: { low: 40, high: 49 }, node: 'galicia' } } : {}),
  };
}

async function appendMany(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) await store.appendAudit(auditFields(i));
}

const signingKey =
  (kid: string, delayMs = 20) =>
  async () => {
    // Long enough that racing callers all find no key before any inserts.
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { kid, privateJwk: { kty: 'OKP', crv: 'Ed25519', x: kid, d: `secret-${kid}` } };
  };

describe.each(backends)('store contract: $backend.name', ({ backend, skip }) => {
  describe.skipIf(skip !== undefined)(skip ?? 'on a fresh database per test', () => {
    let db: TestDatabase;

    beforeAll(() => {
      // Reached only under CI=true when PostgreSQL is down: fail, do not skip.
      if (backend.unavailable !== undefined) {
        throw new Error(`PostgreSQL is required under CI=true: ${backend.unavailable}`);
      }
    });
    beforeEach(async () => {
      db = await backend.fresh();
    }, 120_000);
    afterEach(async () => {
      await db.dispose();
    });
    afterAll(async () => {
      await backend.teardown();
    });

    describe('migrations', () => {
      it('apply once, record each version, and are a no-op the second time', async () => {
        const migrations = await loadMigrations();
        expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
        expect(await migrate(db.driver, migrations)).toEqual(migrations.map((m) => m.version));
        expect(await migrate(db.driver, migrations)).toEqual([]);
        const store = await db.open();
        await store.close();
        const rows = await db.sql('SELECT version FROM schema_migrations ORDER BY version');
        expect(rows.map((r) => Number(r.version))).toEqual(migrations.map((m) => m.version));
      });

      it('run exactly once when several replicas start at the same time', async () => {
        const stores = await Promise.all([db.open(), db.open(), db.open()]);
        expect(stores).toHaveLength(3);
        const migrations = await loadMigrations();
        const rows = await db.sql('SELECT count(*)::int AS n FROM schema_migrations');
        expect(rows[0]?.n).toBe(migrations.length);
        const heads = await db.sql('SELECT count(*)::int AS n FROM audit_head');
        expect(heads[0]?.n).toBe(1);
      });

      it('refuse to start when an applied migration was changed', async () => {
        await (await db.open()).close();
        await db.sql(`UPDATE schema_migrations SET checksum = 'changed' WHERE version = 1`);
        await expect(db.open()).rejects.toThrow(/changed after it was applied/);
      });

      it('leave nothing behind when one fails', async () => {
        const migrations = await loadMigrations();
        const broken = {
          version: 999,
          name: 'broken',
          sql: 'CREATE TABLE half_done (x int); SELECT no_such_column FROM half_done;',
          checksum: 'x',
        };
        await expect(migrate(db.driver, [...migrations, broken])).rejects.toThrow();
        const tables = await db.sql(
          `SELECT count(*)::int AS n FROM information_schema.tables
           WHERE table_schema = current_schema() AND table_name IN ('half_done', 'jobs')`,
        );
        expect(tables[0]?.n).toBe(0);
      });
    });

    describe('jobs', () => {
      it('go queued -> running -> done, and refuse moves from a finished state', async () => {
        const store = await db.open();
        const job = await store.createJob(newJob());
        expect(job).toMatchObject({
          status: 'queued',
          researcher: 'r-anna',
          nodes: ['lombardia', 'galicia'],
          query: QUERY,
          result: null,
          errorCode: null,
        });
        expect(job.createdAt.getTime()).toBe(T0.getTime());
        expect(await store.getJob(job.id)).toEqual(job);

        const running = await store.startJob(job.id, at(1));
        expect(running).toMatchObject({ status: 'running' });
        expect(running?.updatedAt.getTime()).toBe(at(1).getTime());
        expect(await store.startJob(job.id, at(2))).toBeUndefined();

        const result = merged(120);
        expect(await store.completeJob(job.id, result, at(3))).toMatchObject({
          status: 'done',
          result,
        });
        expect(await store.failJob(job.id, 'ERR_INTERNAL', at(4))).toBeUndefined();
        expect(await store.cancelJob(job.id, at(4))).toBeUndefined();
        expect((await store.getJob(job.id))?.status).toBe('done');
      });

      it('can be cancelled or failed while unfinished', async () => {
        const store = await db.open();
        const a = await store.createJob(newJob());
        const b = await store.createJob(newJob());
        await store.startJob(b.id, at(1));
        expect(await store.cancelJob(a.id, at(2))).toMatchObject({ status: 'cancelled' });
        expect(await store.failJob(b.id, 'ERR_NODE_TIMEOUT', at(2))).toMatchObject({
          status: 'failed',
          errorCode: 'ERR_NODE_TIMEOUT',
        });
      });

      it('are listed per researcher, newest first', async () => {
        const store = await db.open();
        const first = await store.createJob(newJob({ now: at(1) }));
        const second = await store.createJob(newJob({ now: at(2) }));
        await store.createJob(newJob({ researcher: 'r-other', now: at(3) }));
        const listed = await store.listJobs('r-anna');
        expect(listed.map((j) => j.id)).toEqual([second.id, first.id]);
        expect(await store.listJobs('r-anna', { limit: 1 })).toHaveLength(1);
      });

      it('answer undefined for unknown or malformed ids', async () => {
        const store = await db.open();
        expect(await store.getJob('00000000-0000-4000-8000-000000000000')).toBeUndefined();
        expect(await store.getJob("1'; DROP TABLE jobs; --")).toBeUndefined();
        expect(await store.startJob('not-a-uuid', T0)).toBeUndefined();
        await expect(store.createJob(newJob({ id: 'not-a-uuid' }))).rejects.toThrow(/UUID/);
      });

      it('keep one outcome per node, the latest', async () => {
        const store = await db.open();
        const job = await store.createJob(newJob());
        await store.recordNodeOutcome(job.id, { node: 'lombardia', status: 'timeout' }, at(1));
        await store.recordNodeOutcome(
          job.id,
          { node: 'galicia', status: 'ok', elapsedMs: 42 },
          at(1),
        );
        await store.recordNodeOutcome(
          job.id,
          { node: 'lombardia', status: 'ok', elapsedMs: 900, attempts: 2 },
          at(2),
        );
        expect(await store.nodeOutcomes(job.id)).toEqual([
          { node: 'galicia', status: 'ok', elapsedMs: 42 },
          { node: 'lombardia', status: 'ok', elapsedMs: 900, attempts: 2 },
        ]);
      });
    });

    describe('group commit', () => {
      it('creates jobs running, or done with their result, in one write', async () => {
        const store = await db.open();
        const [running, done] = await Promise.all([
          store.createJob(newJob({ status: 'running' })),
          store.createJob(newJob({ status: 'done', result: merged(7) })),
        ]);
        expect(running).toMatchObject({ status: 'running', result: null });
        expect(done).toMatchObject({ status: 'done', result: merged(7) });
        expect(await store.getJob(done.id)).toMatchObject({ status: 'done' });
        await expect(store.createJob(newJob({ status: 'done' }))).rejects.toThrow(RangeError);
        await expect(store.createJob(newJob({ result: merged(1) }))).rejects.toThrow(RangeError);
      });

      it('fails only the bad write of a batch that concurrent callers shared', async () => {
        const store = await db.open();
        const existing = await store.createJob(newJob());
        const results = await Promise.allSettled([
          store.createJob(newJob({ researcher: 'r-one' })),
          // The same id again: the primary key refuses it.
          store.createJob(newJob({ id: existing.id })),
          store.appendAudit(auditFields(1)),
          store.hit('r-anna', 60, 5, T0),
          store.createJob(newJob({ researcher: 'r-two' })),
        ]);
        expect(results.map((r) => r.status)).toEqual([
          'fulfilled',
          'rejected',
          'fulfilled',
          'fulfilled',
          'fulfilled',
        ]);
        expect(
          (await store.listJobs('r-one')).length + (await store.listJobs('r-two')).length,
        ).toBe(2);
        expect((await store.verifyAudit()).ok).toBe(true);
        expect(await store.auditEntries()).toHaveLength(1);
        expect(await store.hit('r-anna', 60, 5, T0)).toMatchObject({ count: 2 });
      });

      it('counts concurrent hits on one counter one by one, each seeing its own count', async () => {
        const store = await db.open();
        const hits = await Promise.all(
          Array.from({ length: 7 }, () => store.hit('r-anna', 60, 4, T0)),
        );
        expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(hits.filter((h) => h.ok)).toHaveLength(4);
        expect(hits.every((h) => h.resetAt.getTime() === at(60).getTime())).toBe(true);
      });

      it('writes outcomes, completions, cache entries and audit entries of many jobs at once', async () => {
        const store = await db.open();
        const jobs = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.createJob(newJob({ now: at(i) }))),
        );
        await Promise.all(
          jobs.flatMap((job) => [
            store.recordNodeOutcome(job.id, { node: 'lombardia', status: 'timeout' }, at(30)),
            store.recordNodeOutcome(
              job.id,
              { node: 'galicia', status: 'ok', elapsedMs: 5 },
              at(30),
            ),
          ]),
        );
        const done = await Promise.all(
          jobs.flatMap((job, i) => [
            store.completeJob(job.id, merged(i), at(31)),
            store.appendAudit(auditFields(i)),
            store.putCachedResult(
              `sha256:${i}`,
              'v1',
              { total: i },
              { now: T0, expiresAt: at(99) },
            ),
          ]),
        );
        const completed = done.filter((_, k) => k % 3 === 0) as (JobRecord | undefined)[];
        expect(completed.map((j) => [j?.id, j?.status, j?.result])).toEqual(
          jobs.map((job, i) => [job.id, 'done', merged(i)]),
        );
        for (const job of jobs) {
          expect((await store.nodeOutcomes(job.id)).map((o) => o.node)).toEqual([
            'galicia',
            'lombardia',
          ]);
        }
        expect(await store.getCachedResult('sha256:7', 'v1', at(1))).toMatchObject({
          value: { total: 7 },
        });
        const entries = await store.auditEntries();
        expect(entries.map((e) => e.index)).toEqual(entries.map((_, i) => i));
        expect(verifyChain(entries).ok).toBe(true);
        // A job completed twice at once moves once.
        const again = await store.createJob(newJob());
        const twice = await Promise.all([
          store.completeJob(again.id, merged(1), at(40)),
          store.completeJob(again.id, merged(2), at(40)),
        ]);
        expect(twice.filter((j) => j !== undefined)).toHaveLength(1);
      });
    });

    describe('restart recovery (threat 31)', () => {
      it('keeps every job and fails the interrupted ones after a restart', async () => {
        const before = await db.open();
        const queued = await before.createJob(newJob());
        const running = await before.createJob(newJob());
        await before.startJob(running.id, at(1));
        const done = await before.createJob(newJob());
        await before.completeJob(done.id, merged(7), at(2));
        await before.close();

        const after = await db.open();
        const recovered = await after.recoverInterruptedJobs(at(5));
        expect(recovered.map((j) => j.id).sort()).toEqual([queued.id, running.id].sort());
        for (const id of [queued.id, running.id]) {
          expect(await after.getJob(id)).toMatchObject({
            status: 'failed',
            errorCode: ERR_GATEWAY_RESTARTED,
          });
        }
        expect(await after.getJob(done.id)).toMatchObject({ status: 'done', result: merged(7) });
        expect(await after.recoverInterruptedJobs(at(6))).toEqual([]);
      });

      it('leaves a live replica alone and takes over from a silent one', async () => {
        const a = await db.open();
        const b = await db.open();
        const ofA = await a.createJob(newJob({ now: T0 }));
        const ofB = await b.createJob(newJob({ now: at(20) }));

        expect(await b.recoverInterruptedJobs(at(10))).toEqual([]);
        await a.heartbeat(at(25));
        expect(await b.recoverInterruptedJobs(at(50), { staleAfterSec: 30 })).toEqual([]);
        // a stops heartbeating (crashed without closing)
        const recovered = await b.recoverInterruptedJobs(at(56), { staleAfterSec: 30 });
        expect(recovered.map((j) => j.id)).toEqual([ofA.id]);
        expect((await b.getJob(ofB.id))?.status).toBe('queued');
      });
    });

    describe('result cache', () => {
      it('answers only for the same data versions and until expiry', async () => {
        const store = await db.open();
        const value = { measures: [{ count: { low: 10, high: 19 } }] };
        await store.putCachedResult('sha256:q', 'v1', value, { now: T0, expiresAt: at(60) });
        expect(await store.getCachedResult('sha256:q', 'v1', at(59))).toMatchObject({ value });
        expect(await store.getCachedResult('sha256:q', 'v2', at(1))).toBeUndefined();
        expect(await store.getCachedResult('sha256:q', 'v1', at(60))).toBeUndefined();

        await store.putCachedResult(
          'sha256:q',
          'v1',
          { replaced: true },
          { now: at(61), expiresAt: at(120) },
        );
        expect((await store.getCachedResult('sha256:q', 'v1', at(62)))?.value).toEqual({
          replaced: true,
        });
        expect(await store.purgeExpired(at(121))).toEqual({ cache: 1, rateLimits: 0 });
      });
    });

    describe('rate limits', () => {
      it('let exactly `limit` of 50 simultaneous hits through, across replicas', async () => {
        const a = await db.open();
        const b = await db.open();
        const hits = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).hit('r-anna', 60, 10, T0)),
        );
        expect(hits.filter((h) => h.ok)).toHaveLength(10);
        expect(hits.map((h) => h.count).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
        expect(hits.every((h) => h.resetAt.getTime() === at(60).getTime())).toBe(true);
      });

      it('start over in the next window and count a late hit against the newer window', async () => {
        const store = await db.open();
        expect(await store.hit('k', 60, 2, at(0))).toMatchObject({
          ok: true,
          count: 1,
          remaining: 1,
        });
        expect(await store.hit('k', 60, 2, at(59))).toMatchObject({
          ok: true,
          count: 2,
          remaining: 0,
        });
        expect(await store.hit('k', 60, 2, at(59))).toMatchObject({ ok: false, count: 3 });
        expect(await store.hit('k', 60, 2, at(60))).toMatchObject({ ok: true, count: 1 });
        const late = await store.hit('k', 60, 2, at(59));
        expect(late).toMatchObject({ count: 2 });
        expect(late.resetAt.getTime()).toBe(at(120).getTime());
        // Separate windows on one key are separate counters.
        expect(await store.hit('k', 3600, 100, at(60))).toMatchObject({ count: 1 });
        expect(await store.purgeExpired(at(120))).toEqual({ cache: 0, rateLimits: 1 });
      });

      it('refuse nonsense limits', async () => {
        const store = await db.open();
        await expect(store.hit('k', 0, 1, T0)).rejects.toThrow(RangeError);
        await expect(store.hit('k', 60, -1, T0)).rejects.toThrow(RangeError);
        expect((await store.hit('k', 60, 0, T0)).ok).toBe(false);
      });
    });

    describe('signing keys', () => {
      it('end up as one key when replicas race to create it', async () => {
        const stores = await Promise.all([db.open(), db.open(), db.open()]);
        const keys = await Promise.all(
          stores.map((s, i) => s.getOrCreateSigningKey(signingKey(`kid-${i}`), T0)),
        );
        expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
        expect(await stores[0].listSigningKeys()).toHaveLength(1);
        expect(keys[0]?.privateJwk).toMatchObject({ kty: 'OKP' });
        // Later calls reuse it without generating.
        const again = await stores[1].getOrCreateSigningKey(() => {
          throw new Error('must not generate');
        });
        expect(again.kid).toBe(keys[0]?.kid);
      });

      it('rotate to exactly one active key, even when rotated twice at once', async () => {
        const a = await db.open();
        const b = await db.open();
        const first = await a.getOrCreateSigningKey(signingKey('k1', 0), T0);
        await Promise.all([
          a.rotateSigningKey(signingKey('k2'), at(10)),
          b.rotateSigningKey(signingKey('k3'), at(10)),
        ]);
        const keys = await a.listSigningKeys();
        expect(keys).toHaveLength(3);
        expect(keys.filter((k) => k.retiredAt === null)).toHaveLength(1);
        expect(keys.find((k) => k.kid === first.kid)?.retiredAt?.getTime()).toBe(at(10).getTime());
        const active = await b.getOrCreateSigningKey(signingKey('unused'));
        expect(['k2', 'k3']).toContain(active.kid);
      });
    });

    describe('audit log', () => {
      it('chains appends from concurrent replicas without forking', async () => {
        const a = await db.open();
        const b = await db.open();
        const appended = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).appendAudit(auditFields(i))),
        );
        expect(appended.map((e) => e.index).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 40 }, (_, i) => i),
        );
        const entries = await a.auditEntries();
        const head = await b.auditHead();
        expect(head).toEqual({ index: 39, hash: entries[39]?.hash });
        expect(verifyChain(entries, { head })).toEqual({ ok: true, count: 40 });
        expect(await b.verifyAudit()).toEqual({ ok: true, count: 40 });
        // What was appended is exactly what is read back (detail bytes included).
        expect(entries).toEqual([...appended].sort((x, y) => x.index - y.index));
      });

      it('starts empty and verifies as such', async () => {
        const store = await db.open();
        expect(await store.auditHead()).toBeUndefined();
        expect(await store.verifyAudit()).toEqual({ ok: true, count: 0 });
      });

      // Tampering straight in the database, behind the store's back.
      const tampering: [string, string[], { index: number; reason: string }][] = [
        [
          'an edited actor',
          [`UPDATE audit_log SET actor = 'r-mallory' WHERE idx = 3`],
          { index: 3, reason: 'edited' },
        ],
        [
          'an edited released figure',
          [
            `UPDATE audit_log SET detail = '{"count":{"high":9,"low":0},"node":"galicia"}' WHERE idx = 0`,
          ],
          { index: 0, reason: 'edited' },
        ],
        [
          'swapped timestamps',
          [
            `UPDATE audit_log SET at = CASE idx WHEN 2 THEN (SELECT at FROM audit_log WHERE idx = 4) ELSE (SELECT at FROM audit_log WHERE idx = 2) END WHERE idx IN (2, 4)`,
          ],
          { index: 2, reason: 'edited' },
        ],
        [
          'swapped indexes',
          [
            'UPDATE audit_log SET idx = 1001 WHERE idx = 1',
            'UPDATE audit_log SET idx = 1 WHERE idx = 4',
            'UPDATE audit_log SET idx = 4 WHERE idx = 1001',
          ],
          { index: 1, reason: 'reordered' },
        ],
        [
          'a deleted entry',
          ['DELETE FROM audit_log WHERE idx = 2'],
          { index: 2, reason: 'deleted' },
        ],
        [
          'a cut-off tail',
          ['DELETE FROM audit_log WHERE idx >= 4'],
          { index: 4, reason: 'truncated' },
        ],
        [
          'a deleted last entry',
          ['DELETE FROM audit_log WHERE idx = 5'],
          { index: 5, reason: 'truncated' },
        ],
      ];

      it.each(tampering)('names the entry after %s', async (_name, statements, expected) => {
        const store = await db.open();
        await appendMany(store, 6);
        expect(await store.verifyAudit()).toEqual({ ok: true, count: 6 });
        for (const statement of statements) await db.sql(statement);
        expect(await store.verifyAudit()).toEqual({ ok: false, ...expected });
        const entries = await store.auditEntries();
        expect(verifyChain(entries, { head: await store.auditHead() })).toEqual({
          ok: false,
          ...expected,
        });
      });

      it('refuses to verify without its head row', async () => {
        const store = await db.open();
        await appendMany(store, 2);
        await db.sql('DELETE FROM audit_head');
        await expect(store.verifyAudit()).rejects.toThrow(/head row is missing/);
      });
    });
  });
});

describe('PGlite data directory', () => {
  let dir: Awaited<ReturnType<typeof freshPgliteDir>>;
  beforeEach(async () => {
    dir = await freshPgliteDir();
  }, 120_000);
  afterEach(async () => {
    await dir.remove();
  });

  it('keeps jobs and the audit log across a restart', async () => {
    const first = await createPgliteStore({ dataDir: dir.dataDir });
    const interrupted = await first.createJob(newJob());
    await first.startJob(interrupted.id, at(1));
    await appendMany(first, 3);
    await first.close();

    const second = await createPgliteStore({ dataDir: dir.dataDir });
    try {
      expect(await second.recoverInterruptedJobs(at(2))).toHaveLength(1);
      expect(await second.getJob(interrupted.id)).toMatchObject({
        status: 'failed',
        errorCode: ERR_GATEWAY_RESTARTED,
      });
      expect(await second.verifyAudit()).toEqual({ ok: true, count: 3 });
    } finally {
      await second.close();
    }
  });

  it('has one owner at a time, and takes over after an owner that died', async () => {
    const owner = await createPgliteStore({ dataDir: dir.dataDir });
    await expect(createPgliteStore({ dataDir: dir.dataDir })).rejects.toThrow(/in use by process/);
    await owner.close();

    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(join(dir.dataDir, 'tessera.lock'), `${gone}\n`);
    const next = await createPgliteStore({ dataDir: dir.dataDir });
    await next.close();
  });
});
