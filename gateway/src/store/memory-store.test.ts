// The memory store keeps the Store contract the SQL store keeps (the same
// suite runs on PGlite and PostgreSQL in store.int.test.ts), plus what is
// its own: stores on one database are replicas, separate databases share
// nothing, and a closed store answers nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  appendMany,
  at,
  auditFields,
  newJob,
  storeContract,
  T0,
  type ContractDatabase,
} from '../../test/support/store-contract.ts';
import { createMemoryDatabase, createMemoryStore, type MemoryDatabase } from './memory-store.ts';
import type { Store } from './store.ts';

const opened: Store[] = [];

function storeOn(database: MemoryDatabase): Store {
  const store = createMemoryStore({ database });
  opened.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

describe('memory store', () => {
  describe('store contract', () => {
    let db: ContractDatabase;
    beforeEach(() => {
      const database = createMemoryDatabase();
      db = { open: () => Promise.resolve(storeOn(database)) };
    });
    storeContract(() => db);
  });

  it('shares nothing between separate databases', async () => {
    const a = storeOn(createMemoryDatabase());
    const b = storeOn(createMemoryDatabase());
    const job = await a.createJob(newJob());
    await appendMany(a, 2);
    await a.hit('r-anna', 60, 1, T0);
    expect(await b.getJob(job.id)).toBeUndefined();
    expect(await b.auditEntries()).toEqual([]);
    expect(await b.hit('r-anna', 60, 1, T0)).toMatchObject({ ok: true, remaining: 0 });
  });

  it('opens on a database of its own when given none', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    opened.push(a, b);
    const job = await a.createJob(newJob());
    expect(await a.getJob(job.id)).toMatchObject({ id: job.id });
    expect(await b.getJob(job.id)).toBeUndefined();
    expect(a.instanceId).not.toBe(b.instanceId);
  });

  it('answers nothing once closed, and closes once', async () => {
    const database = createMemoryDatabase();
    const store = storeOn(database);
    const job = await store.createJob(newJob());
    await store.close();
    await store.close();
    await expect(store.getJob(job.id)).rejects.toThrow(/closed/);
    await expect(store.appendAudit(auditFields(0))).rejects.toThrow(/closed/);
    await expect(store.hit('k', 60, 1, T0)).rejects.toThrow(/closed/);
    // The database outlives it: the job is there for the next store, to recover.
    const next = storeOn(database);
    expect(await next.recoverInterruptedJobs(at(1))).toMatchObject([{ id: job.id }]);
  });

  it('keeps documents as JSON, as the SQL columns do', async () => {
    const store = storeOn(createMemoryDatabase());
    const value = { at: new Date(0), missing: undefined, list: [1, undefined] };
    await store.putCachedResult('sha256:q', 'v1', value, { now: T0, expiresAt: at(60) });
    expect((await store.getCachedResult('sha256:q', 'v1', T0))?.value).toEqual({
      at: '1970-01-01T00:00:00.000Z',
      list: [1, null],
    });
  });

  it('refuses a database it did not make', () => {
    expect(() => createMemoryStore({ database: {} as MemoryDatabase })).toThrow(TypeError);
  });
});
