// Schema migrations: the SQL files in ./migrations, named NNN-name.sql and
// applied in order, each recorded in schema_migrations with its checksum.
//
// All pending migrations run in one transaction under an advisory lock keyed
// by the current schema, so replicas starting together apply them exactly
// once and a failing migration leaves nothing half-done. Consequence: a
// migration cannot use statements that refuse to run in a transaction
// (CREATE INDEX CONCURRENTLY).
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { integer, text, type SqlDriver } from './sql.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const FILE_NAME = /^(\d{3})-([a-z0-9-]+)\.sql$/;

/** The migrations shipped with the gateway, in order. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (match === null) throw new Error(`store: migration file name ${file} is not NNN-name.sql`);
    const sql = await readFile(new URL(file, dir), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new Error(`store: two migrations numbered ${match[1]}`);
    }
    migrations.push({
      version,
      name: match[2] ?? file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return migrations;
}

/**
 * Brings the database up to date; returns the versions it applied (empty when
 * another replica got there first). Refuses to start when an applied
 * migration's file has changed since.
 */
export async function migrate(
  driver: SqlDriver,
  migrations: readonly Migration[],
): Promise<number[]> {
  return driver.transaction(async (tx) => {
    await tx.query(
      `SELECT pg_advisory_xact_lock(hashtext('tessera.migrate:' || coalesce(current_schema(), '')))`,
    );
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = await tx.query('SELECT version, checksum FROM schema_migrations');
    const applied = new Map(rows.map((r) => [integer(r, 'version'), text(r, 'checksum')]));
    const done: number[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(
            `store: migration ${migration.version}-${migration.name} changed after it was applied`,
          );
        }
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query(
        'INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [migration.version, migration.name, migration.checksum],
      );
      done.push(migration.version);
    }
    return done;
  });
}
