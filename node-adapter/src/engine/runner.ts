// The engine's only view of a database: SQL text with positional parameters
// in, rows out. DuckDB implements it today; PostgreSQL or Trino can tomorrow.
export type SqlValue = string | number | bigint | boolean | null;

export interface SqlRunner {
  /** Runs one statement with `?`-free positional parameters as the dialect writes them. */
  all(sql: string, params: readonly SqlValue[]): Promise<Record<string, unknown>[]>;
}
