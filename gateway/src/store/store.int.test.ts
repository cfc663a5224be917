// The SQL store on both backends, PGlite and PostgreSQL: first the Store
// contract every backend must keep (test/support/store-contract.ts, run on
// the memory store as a unit test too), then what only SQL can show:
// migrations, group commit, tampering behind the store's back, and the
// PGlite data directory.
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyChain } from '@tessera/schemas';
import { loadMigrations, migrate } from './migrate.ts';
import { createPgliteStore } from './pglite-store.ts';
import { ERR_GATEWAY_RESTARTED } from '../errors.ts';
import type { JobRecord } from './store.ts';
import {
  appendMany,
  at,
  auditFields,
  merged,
  newJob,
  storeContract,
  T0,
} from '../../test/support/store-contract.ts';
import {
  freshPgliteDir,
  testBackends,
  type TestDatabase,
} from '../../test/support/test-databases.ts';

const backends = await testBackends();

describe.each(backends)('SQL store: $backend.name', ({ backend, skip }) => {
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

    describe('store contract', () => {
      storeContract(() => db);
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

    describe('group commit', () => {
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
        expect(await store.hit('r-anna', 60, 5, T0)).toMatchObject({ ok: true, remaining: 3 });
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

    describe('audit log tampering', () => {
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

  it('keeps the rate limits, the cache and the audit chain it holds in memory across a restart', async () => {
    const first = await createPgliteStore({ dataDir: dir.dataDir });
    for (let i = 0; i < 3; i += 1) expect((await first.hit('r-anna', 60, 3, at(i))).ok).toBe(true);
    expect((await first.hit('r-anna', 60, 3, at(3))).ok).toBe(false);
    await first.putCachedResult('sha256:q', 'a=1', { n: 1 }, { now: at(0), expiresAt: at(600) });
    await appendMany(first, 2);
    // Written behind, and at the latest when the store closes.
    await first.close();

    const second = await createPgliteStore({ dataDir: dir.dataDir });
    try {
      expect(await second.hit('r-anna', 60, 3, at(4))).toMatchObject({ ok: false });
      expect(await second.getCachedResult('sha256:q', 'a=1', at(5))).toMatchObject({
        value: { n: 1 },
      });
      // The chain goes on from the head the first run left.
      await appendMany(second, 2);
      expect(await second.verifyAudit()).toEqual({ ok: true, count: 4 });
    } finally {
      await second.close();
    }
  });

  it('fails at once the jobs of an owner that died, however recent its last heartbeat', async () => {
    const first = await createPgliteStore({ dataDir: dir.dataDir });
    const interrupted = await first.createJob(newJob());
    await first.startJob(interrupted.id, at(1));
    const dead = first.instanceId;
    await first.close();
    // Killed rather than closed: its heartbeat row stays, one second old.
    const db = await PGlite.create(dir.dataDir);
    try {
      await db.query('INSERT INTO gateway_instances (id, seen_at) VALUES ($1, $2)', [dead, at(1)]);
    } finally {
      await db.close();
    }

    const second = await createPgliteStore({ dataDir: dir.dataDir });
    try {
      const recovered = await second.recoverInterruptedJobs(at(2), { staleAfterSec: 30 });
      expect(recovered.map((job) => job.id)).toEqual([interrupted.id]);
      expect(await second.getJob(interrupted.id)).toMatchObject({
        status: 'failed',
        errorCode: ERR_GATEWAY_RESTARTED,
      });
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
