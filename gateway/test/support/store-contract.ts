// The Store contract, backend-independent: what every implementation must
// do, the SQL store on PGlite and on PostgreSQL (gateway/src/store/store.int.test.ts)
// and the memory store (gateway/src/store/memory-store.test.ts) alike,
// including when several stores (replicas) share one database. What only SQL
// can show (migrations, group commit, tampering behind the store's back, the
// PGlite data directory) stays in store.int.test.ts.
import { describe, expect, it } from 'vitest';
import {
  verifyChain,
  type AuditFields,
  type AuditOutcome,
  type CanonicalQuery,
  type MergedResult,
} from '@tessera/schemas';
import { ERR_GATEWAY_RESTARTED } from '../../src/errors.ts';
import type {
  GenerateSigningKey,
  NewJob,
  PurgeCounts,
  PurgeOptions,
  Store,
} from '../../src/store/store.ts';

/** One database under test: each open() is one more gateway replica on it. */
export interface ContractDatabase {
  open(): Promise<Store>;
}

export const T0 = new Date('2026-03-02T10:00:00.000Z');
export const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

export const QUERY: CanonicalQuery = {
  version: 1,
  cohort: { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
  stratify: [],
  measures: [{ count: 'patients' }],
};

export function newJob(overrides: Partial<NewJob> = {}): NewJob {
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
export function merged(count: number): MergedResult {
  return {
    queryHash: `sha256:${'ab'.repeat(32)}`,
    complete: true,
    nodes: [],
    total: { range: [count, count], count },
    strata: [],
    measures: [],
  };
}

export function auditFields(i: number, outcome: AuditOutcome = 'accepted'): AuditFields {
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

const DAY_SEC = 24 * 60 * 60;
/** The gateway's default: finished jobs are kept for 30 days. */
const KEEP_JOBS: PurgeOptions = { jobRetentionSec: 30 * DAY_SEC };

/** A purge's counts: zero but for those given. */
export function purged(counts: Partial<PurgeCounts> = {}): PurgeCounts {
  return { cache: 0, rateLimits: 0, jobs: 0, instances: 0, signingKeys: 0, ...counts };
}

export async function appendMany(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) await store.appendAudit(auditFields(i));
}

/** A key generator that takes a while, so racing callers all find no key before any inserts. */
export const signingKey =
  (kid: string, delayMs = 20): GenerateSigningKey =>
  async () => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { kid, privateJwk: { kty: 'OKP', crv: 'Ed25519', x: kid, d: `secret-${kid}` } };
  };

/**
 * Registers the contract's tests; `database` gives the fresh database of the
 * running test (the caller makes one per test and disposes of it).
 * @example describe('memory', () => { let db; beforeEach(() => { db = fresh(); }); storeContract(() => db); });
 */
export function storeContract(database: () => ContractDatabase): void {
  const open = (): Promise<Store> => database().open();

  describe('jobs', () => {
    it('go queued -> running -> done, and refuse moves from a finished state', async () => {
      const store = await open();
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
      expect(await store.getJob(job.id)).toMatchObject({ status: 'done', result });
    });

    it('can be cancelled or failed while unfinished', async () => {
      const store = await open();
      const a = await store.createJob(newJob());
      const b = await store.createJob(newJob());
      await store.startJob(b.id, at(1));
      expect(await store.cancelJob(a.id, at(2))).toMatchObject({ status: 'cancelled' });
      expect(await store.failJob(b.id, 'ERR_NODE_TIMEOUT', at(2))).toMatchObject({
        status: 'failed',
        errorCode: 'ERR_NODE_TIMEOUT',
      });
      expect(await store.getJob(b.id)).toMatchObject({
        status: 'failed',
        result: null,
        errorCode: 'ERR_NODE_TIMEOUT',
      });
      expect(await store.startJob(a.id, at(3))).toBeUndefined();
    });

    it('are created running, or done with their result, and never done without one', async () => {
      const store = await open();
      const [running, done] = await Promise.all([
        store.createJob(newJob({ status: 'running' })),
        store.createJob(newJob({ status: 'done', result: merged(7) })),
      ]);
      expect(running).toMatchObject({ status: 'running', result: null });
      expect(done).toMatchObject({ status: 'done', result: merged(7) });
      expect(await store.getJob(done.id)).toMatchObject({ status: 'done', result: merged(7) });
      await expect(store.createJob(newJob({ status: 'done' }))).rejects.toThrow(RangeError);
      await expect(store.createJob(newJob({ result: merged(1) }))).rejects.toThrow(RangeError);
    });

    it('are created already ended, in one write, with when they ended', async () => {
      const store = await open();
      const ended = at(3);
      const [done, failed] = await Promise.all([
        store.createJob(newJob({ status: 'done', result: merged(7), endedAt: ended })),
        store.createJob(newJob({ status: 'failed', errorCode: 'ERR_INTERNAL', endedAt: ended })),
      ]);
      for (const job of [done, failed]) {
        expect(await store.getJob(job.id)).toEqual(job);
        expect(job).toMatchObject({ createdAt: T0, updatedAt: ended });
      }
      expect(failed).toMatchObject({ status: 'failed', errorCode: 'ERR_INTERNAL', result: null });
      // An ended job is not recovered, and cannot be moved on.
      expect(await store.completeJob(failed.id, merged(1), at(4))).toBeUndefined();
      await expect(store.createJob(newJob({ status: 'failed' }))).rejects.toThrow(RangeError);
      await expect(store.createJob(newJob({ errorCode: 'ERR_INTERNAL' }))).rejects.toThrow(
        RangeError,
      );
    });

    it('refuse a second job with the same id and keep the first', async () => {
      const store = await open();
      const first = await store.createJob(newJob());
      await expect(
        store.createJob(newJob({ id: first.id, researcher: 'r-other' })),
      ).rejects.toThrow();
      expect(await store.getJob(first.id)).toMatchObject({ researcher: 'r-anna' });
    });

    it('are listed per researcher, newest first', async () => {
      const store = await open();
      const first = await store.createJob(newJob({ now: at(1) }));
      const second = await store.createJob(newJob({ now: at(2) }));
      await store.createJob(newJob({ researcher: 'r-other', now: at(3) }));
      const listed = await store.listJobs('r-anna');
      expect(listed.map((j) => j.id)).toEqual([second.id, first.id]);
      expect(await store.listJobs('r-anna', { limit: 1 })).toHaveLength(1);
      await expect(store.listJobs('r-anna', { limit: 0 })).rejects.toThrow(RangeError);
    });

    it('answer undefined for unknown or malformed ids', async () => {
      const store = await open();
      expect(await store.getJob('00000000-0000-4000-8000-000000000000')).toBeUndefined();
      expect(await store.getJob("1'; DROP TABLE jobs; --")).toBeUndefined();
      expect(await store.startJob('not-a-uuid', T0)).toBeUndefined();
      expect(await store.completeJob('not-a-uuid', merged(1), T0)).toBeUndefined();
      expect(await store.nodeOutcomes('not-a-uuid')).toEqual([]);
      await expect(store.createJob(newJob({ id: 'not-a-uuid' }))).rejects.toThrow(/UUID/);
    });

    it('keep one outcome per node, the latest', async () => {
      const store = await open();
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

    it('refuse an outcome for a job they do not hold', async () => {
      const store = await open();
      const timeout = { node: 'lombardia', status: 'timeout' } as const;
      await expect(
        store.recordNodeOutcome('00000000-0000-4000-8000-000000000000', timeout, T0),
      ).rejects.toThrow();
      await expect(store.recordNodeOutcome('not-a-uuid', timeout, T0)).rejects.toThrow(RangeError);
    });

    it('keep what was written, whatever the caller does with its objects afterwards', async () => {
      const store = await open();
      const nodes = ['lombardia'];
      const job = await store.createJob(newJob({ nodes }));
      nodes.push('galicia');
      const read = await store.getJob(job.id);
      expect(read?.nodes).toEqual(['lombardia']);
      (read?.nodes as string[]).push('sachsen');
      expect((await store.getJob(job.id))?.nodes).toEqual(['lombardia']);
    });
  });

  describe('submitted and saved queries', () => {
    const SUBMITTED = {
      version: 1 as const,
      cohort: QUERY.cohort,
      nodes: ['lombardia'] as [string],
      label: 'Women 40-79, Lombardia only',
    };

    it('keep the query as submitted beside its canonical form, whatever the job becomes', async () => {
      const store = await open();
      const job = await store.createJob(newJob({ submittedQuery: SUBMITTED }));
      expect(job.submittedQuery).toEqual(SUBMITTED);
      expect(await store.getJob(job.id)).toMatchObject({ submittedQuery: SUBMITTED, query: QUERY });
      await store.startJob(job.id, at(1));
      expect(await store.completeJob(job.id, merged(5), at(2))).toMatchObject({
        submittedQuery: SUBMITTED,
      });
      const [listed] = await store.listJobs('r-anna');
      expect(listed).toMatchObject({ status: 'done', submittedQuery: SUBMITTED });
      const bare = await store.createJob(newJob());
      expect((await store.getJob(bare.id))?.submittedQuery).toBeNull();
    });

    it('are saved with a name and read back by id, by any store on the database', async () => {
      const store = await open();
      const saved = await store.saveQuery({
        owner: 'r-anna',
        project: 'diabetes-2026',
        name: 'Lombardia women',
        query: SUBMITTED,
        now: at(1),
      });
      expect(saved).toMatchObject({
        owner: 'r-anna',
        project: 'diabetes-2026',
        name: 'Lombardia women',
      });
      expect(saved.id).toMatch(/^[0-9a-f-]{36}$/);
      const other = await open();
      expect(await other.getSavedQuery(saved.id)).toEqual(saved);
      expect(await other.getSavedQuery('not-a-uuid')).toBeUndefined();
      expect(await other.getSavedQuery('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('are listed per owner, newest first, and deleted by their owner only', async () => {
      const store = await open();
      const save = (owner: string, name: string, seconds: number) =>
        store.saveQuery({
          owner,
          project: 'diabetes-2026',
          name,
          query: SUBMITTED,
          now: at(seconds),
        });
      const first = await save('r-anna', 'first', 1);
      const second = await save('r-anna', 'second', 2);
      const theirs = await save('r-other', 'theirs', 3);
      expect((await store.listSavedQueries('r-anna')).map((q) => q.name)).toEqual([
        'second',
        'first',
      ]);
      expect((await store.listSavedQueries('r-anna', { limit: 1 })).map((q) => q.id)).toEqual([
        second.id,
      ]);
      expect(await store.deleteSavedQuery(theirs.id, 'r-anna')).toBe(false);
      expect(await store.getSavedQuery(theirs.id)).toBeDefined();
      expect(await store.deleteSavedQuery(first.id, 'r-anna')).toBe(true);
      expect(await store.deleteSavedQuery(first.id, 'r-anna')).toBe(false);
      expect(await store.getSavedQuery(first.id)).toBeUndefined();
    });
  });

  describe('restart recovery (threat 31)', () => {
    it('keeps every job and fails the interrupted ones after a restart', async () => {
      const before = await open();
      const queued = await before.createJob(newJob());
      const running = await before.createJob(newJob());
      await before.startJob(running.id, at(1));
      const done = await before.createJob(newJob());
      await before.completeJob(done.id, merged(7), at(2));
      await before.close();

      const after = await open();
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
      const a = await open();
      const b = await open();
      const ofA = await a.createJob(newJob({ now: T0 }));
      const ofB = await b.createJob(newJob({ now: at(20) }));

      expect(await b.recoverInterruptedJobs(at(10))).toEqual([]);
      await a.heartbeat(at(25));
      expect(await b.recoverInterruptedJobs(at(50), { staleAfterSec: 30 })).toEqual([]);
      // a stops heartbeating (crashed without closing)
      const recovered = await b.recoverInterruptedJobs(at(56), { staleAfterSec: 30 });
      expect(recovered.map((j) => j.id)).toEqual([ofA.id]);
      expect((await b.getJob(ofB.id))?.status).toBe('queued');
      await expect(b.recoverInterruptedJobs(at(60), { staleAfterSec: 0 })).rejects.toThrow(
        RangeError,
      );
    });

    it('never fails its own jobs, however long since its last heartbeat', async () => {
      const store = await open();
      const job = await store.createJob(newJob());
      expect(await store.recoverInterruptedJobs(at(3600))).toEqual([]);
      expect((await store.getJob(job.id))?.status).toBe('queued');
    });
  });

  describe('result cache', () => {
    it('answers only for the same data versions and until expiry', async () => {
      const store = await open();
      const value = { measures: [{ count: { low: 10, high: 19 } }] };
      await store.putCachedResult('sha256:q', 'v1', value, { now: T0, expiresAt: at(60) });
      const cached = await store.getCachedResult('sha256:q', 'v1', at(59));
      expect(cached).toEqual({ value, createdAt: T0, expiresAt: at(60) });
      expect(await store.getCachedResult('sha256:q', 'v2', at(1))).toBeUndefined();
      expect(await store.getCachedResult('sha256:other', 'v1', at(1))).toBeUndefined();
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
      expect(await store.purgeExpired(at(121), KEEP_JOBS)).toEqual(purged({ cache: 1 }));
      expect(await store.purgeExpired(at(121), KEEP_JOBS)).toEqual(purged());
    });
  });

  describe('rate limits', () => {
    // A limit of `limit` per `windowSec` is a rate (one hit every
    // windowSec/limit seconds) with a burst of `limit`; never a fixed window
    // whose boundary a caller can straddle.
    const accepted = (hits: readonly { ok: boolean }[]) => hits.filter((h) => h.ok).length;

    it('let exactly `limit` of 50 simultaneous hits through, across replicas', async () => {
      const a = await open();
      const b = await open();
      const hits = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).hit('r-anna', 60, 10, T0)),
      );
      expect(accepted(hits)).toBe(10);
      expect(hits.map((h) => h.remaining).sort((x, y) => x - y)).toEqual([
        ...Array.from({ length: 41 }, () => 0),
        ...Array.from({ length: 9 }, (_, i) => i + 1),
      ]);
      // Refused: the next hit is allowed once one hit's worth (6 s) has refilled.
      for (const h of hits.filter((x) => !x.ok)) expect(h.resetAt).toEqual(at(6));
    });

    it('accept at most the limit plus the refill from a burst straddling a minute boundary', async () => {
      const store = await open();
      // The attacker waits until just before a boundary, fires twice the
      // limit, and fires twice the limit again just after it.
      const before = await Promise.all(
        Array.from({ length: 120 }, () => store.hit('r-anna', 60, 60, at(59.9))),
      );
      const after = await Promise.all(
        Array.from({ length: 120 }, () => store.hit('r-anna', 60, 60, at(60.1))),
      );
      // 0.2 s at one hit a second refills nothing whole; allow one for rounding.
      expect(accepted(before) + accepted(after)).toBeLessThanOrEqual(61);
      expect(accepted(before)).toBe(60);
      // And at the rate, no more: 10 s later ten more, not a fresh minute's worth.
      const later = await Promise.all(
        Array.from({ length: 60 }, () => store.hit('r-anna', 60, 60, at(69.95))),
      );
      expect(accepted(later)).toBe(10);
    });

    it('hold the rate for a steady attacker', async () => {
      const store = await open();
      const times: number[] = [];
      // Ten hits every second for three minutes, starting mid-window.
      for (let t = 30; t < 210; t += 0.1) {
        const hit = await store.hit('r-anna', 60, 60, at(t));
        if (hit.ok) times.push(t);
      }
      // In any d seconds: at most the burst plus d seconds' refill.
      for (const d of [1, 10, 60]) {
        for (const start of times) {
          const inside = times.filter((t) => t >= start && t < start + d).length;
          expect(inside).toBeLessThanOrEqual(60 + d + 1);
        }
      }
      // Once the burst is spent, one a second: never a fresh minute's worth.
      const late = times.filter((t) => t >= 150 && t < 210).length;
      expect(late).toBeGreaterThanOrEqual(59);
      expect(late).toBeLessThanOrEqual(61);
      // Roughly the burst plus one a second after it.
      expect(times.length).toBeGreaterThanOrEqual(60 + 179);
      expect(times.length).toBeLessThanOrEqual(60 + 181);
    });

    it('tell when the next hit is allowed, and refill at the rate', async () => {
      const store = await open();
      expect(await store.hit('k', 60, 2, at(0))).toEqual({
        ok: true,
        remaining: 1,
        resetAt: at(0),
      });
      expect(await store.hit('k', 60, 2, at(1))).toEqual({
        ok: true,
        remaining: 0,
        resetAt: at(30),
      });
      // Refused hits consume nothing: retrying early does not push the time back.
      expect(await store.hit('k', 60, 2, at(2))).toEqual({
        ok: false,
        remaining: 0,
        resetAt: at(30),
      });
      expect(await store.hit('k', 60, 2, at(29))).toEqual({
        ok: false,
        remaining: 0,
        resetAt: at(30),
      });
      expect(await store.hit('k', 60, 2, at(30))).toEqual({
        ok: true,
        remaining: 0,
        resetAt: at(60),
      });
      // A hit stamped earlier (a replica's clock slightly behind) is no way round it.
      expect((await store.hit('k', 60, 2, at(20))).ok).toBe(false);
      // Separate windows on one key are separate limits.
      expect(await store.hit('k', 3600, 100, at(60))).toMatchObject({ ok: true, remaining: 99 });
      // Fully refilled state is nothing worth keeping.
      expect(await store.purgeExpired(at(90), KEEP_JOBS)).toEqual(purged({ rateLimits: 1 }));
      expect(await store.hit('k', 60, 2, at(90))).toMatchObject({ ok: true, remaining: 1 });
    });

    it('refuse nonsense limits', async () => {
      const store = await open();
      await expect(store.hit('k', 0, 1, T0)).rejects.toThrow(RangeError);
      await expect(store.hit('k', 60, -1, T0)).rejects.toThrow(RangeError);
      expect((await store.hit('k', 60, 0, T0)).ok).toBe(false);
    });
  });

  describe('signing keys', () => {
    it('end up as one key when replicas race to create it', async () => {
      const stores = await Promise.all([open(), open(), open()]);
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
      const a = await open();
      const b = await open();
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

    it('are listed newest first, retired ones included', async () => {
      const store = await open();
      await store.getOrCreateSigningKey(signingKey('k1', 0), T0);
      await store.rotateSigningKey(signingKey('k2', 0), at(10));
      const keys = await store.listSigningKeys();
      expect(keys.map((k) => [k.kid, k.retiredAt?.getTime() ?? null])).toEqual([
        ['k2', null],
        ['k1', at(10).getTime()],
      ]);
      expect(keys[0]?.createdAt.getTime()).toBe(at(10).getTime());
    });
  });

  describe('purge', () => {
    it('deletes finished jobs past their retention with their outcomes, never an unfinished one', async () => {
      const store = await open();
      const ended = (status: 'done' | 'failed', now: Date): NewJob =>
        status === 'done'
          ? newJob({ status, result: merged(3), now })
          : newJob({ status, errorCode: 'ERR_NODE_TIMEOUT', now });
      const [oldDone, oldFailed, oldCancelled, oldQueued, oldRunning] = await Promise.all([
        store.createJob(ended('done', T0)),
        store.createJob(ended('failed', T0)),
        store.createJob(newJob()),
        store.createJob(newJob()),
        store.createJob(newJob({ status: 'running' })),
      ]);
      await store.cancelJob(oldCancelled.id, at(1));
      await store.recordNodeOutcome(oldDone.id, { node: 'galicia', status: 'timeout' }, T0);
      const recent = await store.createJob(ended('done', at(5 * DAY_SEC)));
      await store.recordNodeOutcome(recent.id, { node: 'galicia', status: 'timeout' }, T0);

      // 31 days on: the three ended on the first day are past 30 days' retention.
      const later = at(31 * DAY_SEC);
      expect(await store.purgeExpired(later, KEEP_JOBS)).toEqual(purged({ jobs: 3 }));
      for (const gone of [oldDone, oldFailed, oldCancelled]) {
        expect(await store.getJob(gone.id)).toBeUndefined();
      }
      expect(await store.nodeOutcomes(oldDone.id)).toEqual([]);
      expect((await store.getJob(oldQueued.id))?.status).toBe('queued');
      expect((await store.getJob(oldRunning.id))?.status).toBe('running');
      expect(await store.getJob(recent.id)).toMatchObject({ status: 'done' });
      expect(await store.nodeOutcomes(recent.id)).toHaveLength(1);
      expect(await store.purgeExpired(later, KEEP_JOBS)).toEqual(purged());
      await expect(store.purgeExpired(later, { jobRetentionSec: 0 })).rejects.toThrow(RangeError);
    });

    it('deletes more finished jobs than one batch holds', async () => {
      const store = await open();
      const n = 2500;
      for (let i = 0; i < n; i += 250) {
        await Promise.all(
          Array.from({ length: 250 }, () =>
            store.createJob(newJob({ status: 'done', result: merged(1) })),
          ),
        );
      }
      const later = at(31 * DAY_SEC);
      expect(await store.purgeExpired(later, KEEP_JOBS)).toEqual(purged({ jobs: n }));
      expect(await store.listJobs('r-anna')).toEqual([]);
    });

    it('forgets other instances silent for a day, never itself', async () => {
      const [a, b] = await Promise.all([open(), open()]);
      await Promise.all([a.heartbeat(T0), b.heartbeat(T0)]);
      expect(await b.purgeExpired(at(DAY_SEC - 1), KEEP_JOBS)).toEqual(purged());
      expect(await b.purgeExpired(at(DAY_SEC + 1), KEEP_JOBS)).toEqual(purged({ instances: 1 }));
      expect(await b.purgeExpired(at(DAY_SEC + 1), KEEP_JOBS)).toEqual(purged());
      // Forgotten is the same as dead: its unfinished jobs are still recovered.
      const orphan = await a.createJob(newJob({ now: T0 }));
      await a.heartbeat(T0);
      await b.purgeExpired(at(DAY_SEC + 2), KEEP_JOBS);
      expect((await b.recoverInterruptedJobs(at(DAY_SEC + 2))).map((j) => j.id)).toEqual([
        orphan.id,
      ]);
    });

    it('deletes retired signing keys only when asked, never the active one', async () => {
      const store = await open();
      await store.getOrCreateSigningKey(signingKey('k1', 0), T0);
      await store.rotateSigningKey(signingKey('k2', 0), at(10));
      await store.rotateSigningKey(signingKey('k3', 0), at(20));
      expect(await store.purgeExpired(at(100), KEEP_JOBS)).toEqual(purged());
      const keepFor = (sec: number): PurgeOptions => ({
        ...KEEP_JOBS,
        retiredKeyRetentionSec: sec,
      });
      // k1 was retired 90 s before, k2 80 s before.
      expect(await store.purgeExpired(at(100), keepFor(85))).toEqual(purged({ signingKeys: 1 }));
      expect((await store.listSigningKeys()).map((k) => k.kid)).toEqual(['k3', 'k2']);
      expect(await store.purgeExpired(at(10_000), keepFor(1))).toEqual(purged({ signingKeys: 1 }));
      expect((await store.listSigningKeys()).map((k) => k.kid)).toEqual(['k3']);
    });
  });

  describe('audit log', () => {
    it('chains appends from concurrent replicas without forking', async () => {
      const a = await open();
      const b = await open();
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
      const store = await open();
      expect(await store.auditEntries()).toEqual([]);
      expect(await store.auditHead()).toBeUndefined();
      expect(await store.verifyAudit()).toEqual({ ok: true, count: 0 });
    });

    it('survives a restart of the store on the same database', async () => {
      const first = await open();
      await appendMany(first, 3);
      await first.close();
      const second = await open();
      await second.appendAudit(auditFields(3, 'refused'));
      expect(await second.verifyAudit()).toEqual({ ok: true, count: 4 });
      expect((await second.auditEntries()).map((e) => e.outcome)).toEqual([
        'accepted',
        'accepted',
        'accepted',
        'refused',
      ]);
    });
  });
}
