// Opening the DuckDB store, and the engine's SqlRunner over a connection.
// The runner hands the engine plain JavaScript values only, so nothing above
// this file needs to know DuckDB's value classes.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import {
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBStructValue,
} from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { SqlRunner, SqlValue } from '../engine/runner.ts';
import { nodeProblem } from '../errors.ts';
import { DDL } from './layout.ts';

export interface OpenStoreOptions {
  /** Open without write access; the tables must already exist. */
  readonly readOnly?: boolean;
  /** Extra DuckDB settings (`threads`, `memory_limit`, ...). */
  readonly config?: Readonly<Record<string, string>>;
}

export interface Store {
  readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;
  /** Closes the connection and the database; safe to call twice. */
  close(): void;
}

/**
 * Opens (or creates) the store at `path`; a writable open also creates any
 * missing table of the layout, so a fresh file is a valid empty store.
 * @example const store = await openStore('lombardia.duckdb', { readOnly: true });
 */
export async function openStore(path: string, options: OpenStoreOptions = {}): Promise<Store> {
  const config: Record<string, string> = { ...options.config };
  if (options.readOnly === true) {
    config.access_mode = 'READ_ONLY';
    await checkReadable(path);
  }
  const instance = await DuckDBInstance.create(path, config);
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
    if (options.readOnly !== true) await connection.run(DDL);
    else await checkLayout(connection, path);
  } catch (err) {
    instance.closeSync();
    throw err;
  }
  let open = true;
  return {
    instance,
    connection,
    close() {
      if (!open) return;
      open = false;
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** `table.column` → type of every column a connection's database holds. */
async function columnsOf(connection: DuckDBConnection): Promise<Map<string, string>> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main'`,
  );
  return new Map(
    reader
      .getRowObjects()
      .map((row) => [
        `${String(row.table_name)}.${String(row.column_name)}`,
        String(row.data_type),
      ]),
  );
}

let layout: Promise<Map<string, string>> | undefined;

/** The columns the layout defines: the DDL run on an empty database, once per process. */
function layoutColumns(): Promise<Map<string, string>> {
  layout ??= (async () => {
    const instance = await DuckDBInstance.create(':memory:');
    try {
      const connection = await instance.connect();
      await connection.run(DDL);
      const columns = await columnsOf(connection);
      connection.closeSync();
      return columns;
    } finally {
      instance.closeSync();
    }
  })();
  // A failure is not remembered: the next open tries again.
  layout.catch(() => (layout = undefined));
  return layout;
}

/**
 * Throws ERR_STORE_MISSING when there is no readable store file at `path`:
 * DuckDB's own error says neither what the file is for nor how to make it,
 * and a node started before its first ingest or sync is the usual case.
 */
async function checkReadable(path: string): Promise<void> {
  const make = `create it with "tessera-node ingest --source <export> --db ${path}" or "tessera-node sync --config <file>"`;
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const detail =
      code === 'ENOENT'
        ? `${path} does not exist: ${make}`
        : `${path} cannot be read (${code}): check its owner and mode`;
    throw nodeProblem('ERR_STORE_MISSING', { detail });
  }
  if (!isFile) throw nodeProblem('ERR_STORE_MISSING', { detail: `${path} is not a file: ${make}` });
  try {
    await access(path, constants.R_OK);
  } catch {
    throw nodeProblem('ERR_STORE_MISSING', {
      detail: `${path} cannot be read by this user: check its owner and mode`,
    });
  }
}

/**
 * Throws ERR_STORE_LAYOUT when the store lacks a column of the layout or
 * holds it with another type (a store written by another version of ingest);
 * served as it is, such a store would fail its queries one by one instead of
 * once, at opening.
 */
async function checkLayout(connection: DuckDBConnection, path: string): Promise<void> {
  const [expected, found] = await Promise.all([layoutColumns(), columnsOf(connection)]);
  for (const [column, type] of expected) {
    const actual = found.get(column);
    if (actual !== type) {
      const what = actual === undefined ? 'has no' : `has ${actual} for the ${type}`;
      throw nodeProblem('ERR_STORE_LAYOUT', {
        detail: `${path}: it ${what} column ${column}; ingest or sync it again`,
      });
    }
  }
}

/**
 * The engine's SqlRunner over one DuckDB connection. Rows come back as plain
 * objects: integers as numbers when they fit exactly (else bigint), DATEs as
 * `YYYY-MM-DD`, DECIMALs as numbers, lists and structs converted recursively.
 * @example const rows = await createDuckDbRunner(store.connection).all('SELECT count(*) AS n FROM patients', []);
 */
export function createDuckDbRunner(connection: DuckDBConnection): SqlRunner {
  return {
    async all(sql: string, params: readonly SqlValue[]): Promise<Record<string, unknown>[]> {
      const reader = await connection.runAndReadAll(
        sql,
        params.length > 0 ? [...params] : undefined,
      );
      return reader.getRowObjects().map((row) => {
        const out: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(row)) out[key] = plainValue(value);
        return out;
      });
    },
  };
}

/** A DuckDB value as a plain JavaScript value. */
export function plainValue(value: DuckDBValue): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : value;
    }
    return value;
  }
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBDecimalValue) return value.toDouble();
  if (value instanceof DuckDBListValue) return value.items.map(plainValue);
  if (value instanceof DuckDBStructValue) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value.entries)) out[key] = plainValue(item);
    return out;
  }
  return value.toString();
}
