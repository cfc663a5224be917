// The seam between the query compiler and a SQL engine. The compiler decides
// what to compute; a dialect only says how one engine spells it. Every method
// returns SQL text built from the expressions it is given, never from values:
// values reach the database only as bound parameters.

/** The SQL types the compiler needs to name. */
export type SqlType = 'text' | 'double' | 'bigint' | 'integer' | 'date' | 'boolean';

export interface Dialect {
  readonly name: string;
  /** The placeholder of the 1-based `index`-th bound parameter. */
  placeholder(index: number): string;
  /** `expr` cast to `type`; parameters are always cast, so no engine has to guess their type. */
  cast(expr: string, type: SqlType): string;
  /**
   * A DATE as the integer yyyymmdd. Whole-year ages are
   * floor((yyyymmdd(at) - yyyymmdd(birth)) / 10000), so comparisons of ages
   * become integer comparisons with no calendar arithmetic in the engine.
   */
  dateKey(expr: string): string;
  /**
   * The DATE `years` calendar years before DATE `expr`, 29 February
   * becoming 28 February in common years: exactly latestBirthDateForAge
   * (age.ts) of that date, so `birth <= yearsBefore(d, n)` says "at least n
   * whole years old on d" for a date known only per row.
   */
  yearsBefore(expr: string, years: string): string;
  /** True when text `expr` starts with text `prefix` (both SQL expressions; no pattern syntax). */
  startsWith(expr: string, prefix: string): string;
  /**
   * Aggregate: the sum of an unsigned 32-bit key column modulo 2^32, as a
   * 64-bit integer, 0 over no rows (the cell key of the aggregated patients).
   */
  cellKey(column: string): string;
  /** Aggregate: sample standard deviation, NULL for fewer than two values. */
  stddevSample(expr: string): string;
  /** Introduces a CTE the statement reads more than once and that must be computed once. */
  readonly materializedCte: string;
}
