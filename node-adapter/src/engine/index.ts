// The engine's public surface for the rest of the node adapter.
export { createEngine, type Engine, type EngineOptions } from './engine.ts';
export { clamp, summaryBoundsAt, type SourceQuery, type SummaryBounds } from './bounds.ts';
export {
  codeSetKey,
  compileQuery,
  compileUnitProbe,
  compileUnitProbeFor,
  quantityCodeSets,
  readStoredUnits,
  type CompileOptions,
  type CompiledQuery,
  type CompiledSql,
  type EvaluableQuery,
  type StoredUnit,
  type StoredUnits,
} from './compile.ts';
export { decodeRows } from './decode.ts';
export type { Dialect, SqlType } from './dialect.ts';
export { duckDbDialect } from './duckdb-dialect.ts';
export { postgresDialect } from './postgres-dialect.ts';
export type * from './raw-result.ts';
export type { SqlRunner, SqlValue } from './runner.ts';
