// The node's query engine: a canonical query in, true counts with cell keys
// out, its codes read through the store's code-system aliases. At most two statements per evaluation: the unit probe (only when the
// query compares or summarises quantities, and only for code sets whose
// stored units are not known yet) and the query itself.
import {
  codeSetKey,
  compileQuery,
  compileUnitProbeFor,
  quantityCodeSets,
  readStoredUnits,
  type EvaluableQuery,
  type StoredUnit,
  type StoredUnits,
} from './compile.ts';
import type { SourceQuery } from './bounds.ts';
import { canonicalQuerySystems, restoreCodeLabels } from './code-systems.ts';
import { createCodeSystemAliases } from '../ingest/reading.ts';
import type { CodeSystemAliases } from '../ingest/reading.ts';
import { decodeRows } from './decode.ts';
import type { Dialect } from './dialect.ts';
import type { RawResult } from './raw-result.ts';
import type { SqlRunner } from './runner.ts';

export interface EngineOptions {
  readonly runner: SqlRunner;
  readonly dialect: Dialect;
  /**
   * True when the data the runner reads cannot change while the engine
   * lives (a store opened read-only; a new store gets a new engine). The
   * units stored per code set are then probed once and remembered.
   */
  readonly immutable?: boolean;
  /**
   * The code-system aliases the store was ingested with (its meta
   * `code_system_aliases`): a query's codes are read through them. Default:
   * the known aliases.
   */
  readonly aliases?: CodeSystemAliases;
}

export interface Engine {
  /**
   * Evaluates a canonical query whose asOf is pinned, with the clamping
   * bounds of its summaries; the result must pass disclosure control before
   * it leaves the node.
   */
  evaluate(query: SourceQuery): Promise<RawResult>;
}

/** Code sets remembered at most; past that the memory starts afresh. */
const UNIT_CACHE_ENTRIES = 1000;

/**
 * @example const engine = createEngine({ runner: createDuckDbRunner(connection), dialect: duckDbDialect });
 *          const raw = await engine.evaluate({ ...canonicalQuery(q), asOf: '2026-01-01' });
 */
export function createEngine(options: EngineOptions): Engine {
  const { runner, dialect } = options;
  const aliases = options.aliases ?? createCodeSystemAliases();
  const known = new Map<string, readonly StoredUnit[]>();

  async function storedUnitsOf(query: EvaluableQuery): Promise<StoredUnits | undefined> {
    const codeSets = quantityCodeSets(query);
    if (codeSets.length === 0) return undefined;
    const cached = options.immutable === true;
    const missing = cached ? codeSets.filter((codes) => !known.has(codeSetKey(codes))) : codeSets;
    const found = new Map<string, readonly StoredUnit[]>();
    const probe = compileUnitProbeFor(missing, dialect);
    if (probe) {
      for (const [key, units] of readStoredUnits(
        probe.codeSets,
        await runner.all(probe.sql, probe.params),
      )) {
        found.set(key, units);
      }
    }
    const units = new Map(
      codeSets.map((codes) => {
        const key = codeSetKey(codes);
        return [key, found.get(key) ?? known.get(key) ?? []] as const;
      }),
    );
    if (cached) {
      if (known.size + found.size > UNIT_CACHE_ENTRIES) known.clear();
      for (const [key, list] of found) known.set(key, list);
    }
    return units;
  }

  return {
    async evaluate(asked) {
      const query = canonicalQuerySystems(asked, aliases);
      const storedUnits = await storedUnitsOf(query);
      const compiled = compileQuery(query, storedUnits ? { dialect, storedUnits } : { dialect });
      const result = decodeRows(compiled.plan, await runner.all(compiled.sql, compiled.params));
      return restoreCodeLabels(result, asked);
    },
  };
}
