// DuckDB (the node's embedded analytic store).
import type { Dialect, SqlType } from './dialect.ts';

const TYPES: Readonly<Record<SqlType, string>> = {
  text: 'VARCHAR',
  double: 'DOUBLE',
  bigint: 'BIGINT',
  integer: 'INTEGER',
  date: 'DATE',
  boolean: 'BOOLEAN',
};

export const duckDbDialect: Dialect = Object.freeze({
  name: 'duckdb',
  placeholder: (index: number) => `$${index}`,
  cast: (expr: string, type: SqlType) => `CAST(${expr} AS ${TYPES[type]})`,
  dateKey: (expr: string) => `(year(${expr}) * 10000 + month(${expr}) * 100 + day(${expr}))`,
  // Subtracting years keeps month and day, moved back to the month's last day when it has none.
  yearsBefore: (expr: string, years: string) => `CAST(${expr} - to_years(${years}) AS DATE)`,
  startsWith: (expr: string, prefix: string) => `starts_with(${expr}, ${prefix})`,
  // record_key is UBIGINT; sum() widens to HUGEINT, so the modulo is exact.
  cellKey: (column: string) => `CAST(COALESCE(sum(${column}), 0) % 4294967296 AS BIGINT)`,
  stddevSample: (expr: string) => `stddev_samp(${expr})`,
  materializedCte: 'AS MATERIALIZED',
});
