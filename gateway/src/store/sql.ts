// The seam between the store's SQL and a database driver. Drivers only run
// statements; everything else lives in sql-store.ts and migrate.ts, once.

/** What a bound parameter may be; JSON travels as text cast with `::json` or `::jsonb`. */
export type SqlParam = string | number | boolean | null | Date;

/** A result row as the driver decoded it; read columns with the helpers below. */
export type Row = Readonly<Record<string, unknown>>;

export interface SqlRunner {
  /** One statement with bound parameters. */
  query(sql: string, params?: readonly SqlParam[]): Promise<Row[]>;
  /** A script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SqlDriver extends SqlRunner {
  /**
   * Runs `fn` in one transaction on one connection: committed when it
   * resolves, rolled back when it throws.
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// Column readers. The drivers decode some types differently (PGlite gives
// bigint as a number, pg as a string), so every read goes through these and
// fails loudly on a shape the schema cannot produce.

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw columnError(column, 'text', value);
  return value;
}

export function textOrNull(row: Row, column: string): string | null {
  return row[column] === null ? null : text(row, column);
}

export function integer(row: Row, column: string): number {
  const value = row[column];
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw columnError(column, 'integer', value);
  return n;
}

/** A double precision column. */
export function float(row: Row, column: string): number {
  const value = row[column];
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw columnError(column, 'float', value);
  return n;
}

export function timestamp(row: Row, column: string): Date {
  const value = row[column];
  if (!(value instanceof Date)) throw columnError(column, 'timestamp', value);
  return value;
}

export function timestampOrNull(row: Row, column: string): Date | null {
  return row[column] === null ? null : timestamp(row, column);
}

/** A json or jsonb column, as decoded by the driver. */
export function json(row: Row, column: string): unknown {
  const value = row[column];
  if (value === undefined) throw columnError(column, 'json', value);
  return value;
}

function columnError(column: string, expected: string, value: unknown): Error {
  return new TypeError(`store: column ${column} is not ${expected} (got ${typeof value})`);
}

/** Parameter for a `$n::json` or `$n::jsonb` placeholder. */
export function jsonParam(value: unknown): string {
  return JSON.stringify(value ?? null);
}
