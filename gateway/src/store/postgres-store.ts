// The store on a PostgreSQL server, shared by any number of gateway replicas.
import pg from 'pg';
import type { SqlDriver, SqlParam, SqlRunner } from './sql.ts';
import { openSqlStore, type SqlStoreOptions } from './sql-store.ts';
import type { Store } from './store.ts';

export interface PostgresStoreOptions extends Pick<SqlStoreOptions, 'migrate'> {
  /** e.g. `postgres://tessera@db:5432/tessera` (DATABASE_URL). */
  readonly connectionString: string;
  /** Schema to use instead of the server's search_path; must already exist. */
  readonly schema?: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /**
   * Errors of idle pooled connections (server restart, network). The pool
   * drops such a connection either way; without a listener they would stop
   * the process.
   */
  readonly onIdleError?: (err: Error) => void;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

function runner(client: pg.Pool | pg.PoolClient): SqlRunner {
  return {
    async query(sql, params: readonly SqlParam[] = []) {
      const result = await client.query<Record<string, unknown>>(sql, [...params]);
      return result.rows;
    },
    async exec(sql) {
      // No parameters: the simple protocol, which runs several statements.
      await client.query(sql);
    },
  };
}

/** A SqlDriver over a pg Pool; a transaction holds one pooled connection. */
export function postgresDriver(pool: pg.Pool): SqlDriver {
  return {
    ...runner(pool),
    async transaction(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(runner(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          // A connection that cannot roll back is not handed out again.
          broken = rollbackError instanceof Error ? rollbackError : new Error('rollback failed');
        });
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Opens (and migrates) a PostgreSQL store.
 * @example const store = await createPostgresStore({ connectionString: process.env.DATABASE_URL });
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  if (options.schema !== undefined && !IDENTIFIER.test(options.schema)) {
    throw new RangeError('store: schema must be a lower-case SQL identifier');
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    // Set at connection start-up, so no query can run before it applies.
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  pool.on('error', options.onIdleError ?? (() => undefined));
  return openSqlStore(postgresDriver(pool), { migrate: options.migrate });
}
