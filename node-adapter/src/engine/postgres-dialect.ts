// PostgreSQL (12 or later: starts_with, AS MATERIALIZED). The store's tables
// keep their names and columns; record_key is a BIGINT there (PostgreSQL has
// no unsigned types, and a 32-bit key fits).
import type { Dialect, SqlType } from './dialect.ts';

const TYPES: Readonly<Record<SqlType, string>> = {
  text: 'TEXT',
  double: 'DOUBLE PRECISION',
  bigint: 'BIGINT',
  integer: 'INTEGER',
  date: 'DATE',
  boolean: 'BOOLEAN',
};

const part = (field: 'YEAR' | 'MONTH' | 'DAY', expr: string): string =>
  `CAST(EXTRACT(${field} FROM ${expr}) AS INTEGER)`;

export const postgresDialect: Dialect = Object.freeze({
  name: 'postgres',
  placeholder: (index: number) => `$${index}`,
  cast: (expr: string, type: SqlType) => `CAST(${expr} AS ${TYPES[type]})`,
  dateKey: (expr: string) =>
    `(${part('YEAR', expr)} * 10000 + ${part('MONTH', expr)} * 100 + ${part('DAY', expr)})`,
  // Subtracting years keeps month and day, moved back to the month's last day when it has none.
  yearsBefore: (expr: string, years: string) =>
    `CAST(${expr} - make_interval(years => ${years}) AS DATE)`,
  startsWith: (expr: string, prefix: string) => `starts_with(${expr}, ${prefix})`,
  // sum(bigint) is NUMERIC, so the modulo is exact before the cast back.
  cellKey: (column: string) => `CAST(COALESCE(sum(${column}), 0) % 4294967296 AS BIGINT)`,
  stddevSample: (expr: string) => `stddev_samp(${expr})`,
  materializedCte: 'AS MATERIALIZED',
});
