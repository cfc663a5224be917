// The gateway's state store: one interface, PGlite by default, PostgreSQL
// for replicas, or in memory for tests and single-process tools.
import { createPgliteStore } from './pglite-store.ts';
import { createPostgresStore } from './postgres-store.ts';
import type { SqlStoreOptions } from './sql-store.ts';
import type { Store } from './store.ts';

export * from './store.ts';
export { DataDirInUseError, createPgliteStore, type PgliteStoreOptions } from './pglite-store.ts';
export { createPostgresStore, type PostgresStoreOptions } from './postgres-store.ts';
export {
  createMemoryDatabase,
  createMemoryStore,
  type MemoryDatabase,
  type MemoryStoreOptions,
} from './memory-store.ts';
export type { SqlStoreOptions } from './sql-store.ts';

/** Where the state lives: a PGlite data directory or a PostgreSQL URL. */
export type StoreTarget = { readonly dataDir: string } | { readonly databaseUrl: string };

/**
 * Opens the store a configuration names.
 * @example const store = await openStore(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : { dataDir: '.data/gateway' });
 */
export function openStore(
  target: StoreTarget,
  options: Pick<SqlStoreOptions, 'migrate'> = {},
): Promise<Store> {
  return 'databaseUrl' in target
    ? createPostgresStore({ connectionString: target.databaseUrl, ...options })
    : createPgliteStore({ dataDir: target.dataDir, ...options });
}
