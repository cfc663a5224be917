// The node's query engine: a canonical query in, true counts with cell keys
// out. At most two statements per evaluation: the unit probe (only when the
// query compares or summarises quantities) and the query itself.
import { compileQuery, compileUnitProbe, readStoredUnits, type EvaluableQuery } from './compile.ts';
import { decodeRows } from './decode.ts';
import type { Dialect } from './dialect.ts';
import type { RawResult } from './raw-result.ts';
import type { SqlRunner } from './runner.ts';

export interface EngineOptions {
  readonly runner: SqlRunner;
  readonly dialect: Dialect;
}

export interface Engine {
  /** Evaluates a canonical query whose asOf is pinned; the result must pass disclosure control before it leaves the node. */
  evaluate(query: EvaluableQuery): Promise<RawResult>;
}

/**
 * @example const engine = createEngine({ runner: createDuckDbRunner(connection), dialect: duckDbDialect });
 *          const raw = await engine.evaluate({ ...canonicalQuery(q), asOf: '2026-01-01' });
 */
export function createEngine(options: EngineOptions): Engine {
  const { runner, dialect } = options;
  return {
    async evaluate(query) {
      const probe = compileUnitProbe(query, dialect);
      const storedUnits = probe
        ? readStoredUnits(probe.codeSets, await runner.all(probe.sql, probe.params))
        : undefined;
      const compiled = compileQuery(query, storedUnits ? { dialect, storedUnits } : { dialect });
      return decodeRows(compiled.plan, await runner.all(compiled.sql, compiled.params));
    },
  };
}
