// Throwaway databases for the store's integration tests: a fresh schema per
// test, in a PGlite shared by the suite or on the PostgreSQL server, dropped
// afterwards. PGlite data directories are copied from a template made once
// per process, since initdb takes seconds.
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { createPgliteStore, pgliteDriver } from '../../src/store/pglite-store.ts';
import { createPostgresStore, postgresDriver } from '../../src/store/postgres-store.ts';
import type { Row, SqlDriver, SqlParam } from '../../src/store/sql.ts';
import type { Store } from '../../src/store/store.ts';

export interface TestDatabase {
  /** A store on this database, as one more gateway replica would open it. */
  open(): Promise<Store>;
  /** A driver on this database with no store around it (migration tests). */
  readonly driver: SqlDriver;
  /** Direct SQL, for checking and tampering behind the store's back. */
  sql(text: string, params?: readonly SqlParam[]): Promise<Row[]>;
  /** A URL that reaches this database, schema included (PostgreSQL only). */
  readonly databaseUrl: string | undefined;
  /** Closes its stores and drops the schema. */
  dispose(): Promise<void>;
}

export interface TestBackend {
  readonly name: 'pglite' | 'postgres';
  /** Why this backend cannot run here, when it cannot. */
  readonly unavailable: string | undefined;
  fresh(): Promise<TestDatabase>;
  teardown(): Promise<void>;
}

export const TEST_DATABASE_URL =
  process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Undefined when PostgreSQL answers, else the reason it does not. */
export async function probePostgres(url: string = TEST_DATABASE_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err instanceof Error && err.message !== '' ? err.message : 'connection failed';
  } finally {
    await client.end().catch(() => undefined);
  }
}

function tracked(): { add(store: Store): Store; closeAll(): Promise<void> } {
  const stores: Store[] = [];
  return {
    add(store) {
      stores.push(store);
      return store;
    },
    async closeAll() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

let template: Promise<string> | undefined;

/** An initialised, unmigrated PGlite data directory to copy from. */
function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'tessera-pglite-template-')), 'db');
    const db = await PGlite.create(dir);
    await db.close();
    return dir;
  })();
  return template;
}

/** A fresh, unmigrated PGlite data directory (the parent is removed by dispose). */
export async function freshPgliteDir(): Promise<{ dataDir: string; remove: () => Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), 'tessera-pglite-'));
  const dataDir = join(parent, 'db');
  await cp(await pgliteTemplate(), dataDir, { recursive: true });
  return { dataDir, remove: () => rm(parent, { recursive: true, force: true }) };
}

/** A fresh schema name: hex only, so it is a safe identifier. */
function freshSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

export function pgliteBackend(): TestBackend {
  // One PGlite for the whole suite (starting one costs seconds), a fresh
  // schema per database. Replicas share it, as a data directory has one owner.
  let shared: Promise<{ pglite: PGlite; remove: () => Promise<void> }> | undefined;
  return {
    name: 'pglite',
    unavailable: undefined,
    async fresh() {
      shared ??= (async () => {
        const dir = await freshPgliteDir();
        return { pglite: await PGlite.create(dir.dataDir), remove: dir.remove };
      })();
      const { pglite } = await shared;
      const schema = freshSchema();
      await pglite.exec(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
      const stores = tracked();
      return {
        open: async () => stores.add(await createPgliteStore({ pglite })),
        driver: pgliteDriver(pglite, { owned: false }),
        sql: async (text, params = []) =>
          (await pglite.query<Record<string, unknown>>(text, [...params])).rows,
        databaseUrl: undefined,
        async dispose() {
          await stores.closeAll();
          await pglite.exec(`SET search_path TO public; DROP SCHEMA ${schema} CASCADE`);
        },
      };
    },
    async teardown() {
      if (shared !== undefined) {
        const { pglite, remove } = await shared;
        shared = undefined;
        await pglite.close();
        await remove();
      }
      if (template !== undefined) {
        const dir = await template;
        template = undefined;
        await rm(join(dir, '..'), { recursive: true, force: true });
      }
    },
  };
}

export function postgresBackend(unavailable: string | undefined): TestBackend {
  let admin: pg.Pool | undefined;
  return {
    name: 'postgres',
    unavailable,
    async fresh() {
      if (unavailable !== undefined) {
        throw new Error(`PostgreSQL is unreachable: ${unavailable}`);
      }
      admin ??= new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
      const adminPool = admin;
      const schema = freshSchema();
      await adminPool.query(`CREATE SCHEMA ${schema}`);
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
      const stores = tracked();
      return {
        open: async () =>
          stores.add(await createPostgresStore({ connectionString: TEST_DATABASE_URL, schema })),
        driver: postgresDriver(pool),
        sql: async (text, params = []) =>
          (await pool.query<Record<string, unknown>>(text, [...params])).rows,
        databaseUrl: url.toString(),
        async dispose() {
          await stores.closeAll();
          await pool.end();
          await adminPool.query(`DROP SCHEMA ${schema} CASCADE`);
        },
      };
    },
    async teardown() {
      await admin?.end();
      admin = undefined;
    },
  };
}

/**
 * The backends to run: PGlite always; PostgreSQL when it answers, and when
 * it does not, a failure under CI=true or a skip with its reason elsewhere.
 */
export async function testBackends(): Promise<
  { backend: TestBackend; skip: string | undefined }[]
> {
  const unavailable = await probePostgres();
  const mustRun = process.env.CI === 'true';
  const where = new URL(TEST_DATABASE_URL);
  where.password = '';
  const skip =
    unavailable !== undefined && !mustRun
      ? `PostgreSQL unreachable at ${where.host}${where.pathname} (${unavailable})`
      : undefined;
  if (skip !== undefined) console.warn(`store tests: skipping PostgreSQL: ${skip}`);
  return [
    { backend: pgliteBackend(), skip: undefined },
    {
      backend: postgresBackend(unavailable),
      skip,
    },
  ];
}
