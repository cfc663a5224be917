// Turns the rows of a compiled statement into a RawResult: fills in the
// strata SQL did not report (empty ones), in the fixed order of the plan.
import type { StratumKey } from '@tessera/schemas';
import { PART_STRATA, PART_TOTAL, type DimensionPlan, type ResultPlan } from './compile.ts';
import type { RawCell, RawMeasure, RawResult, RawStratum } from './raw-result.ts';

const EMPTY: RawCell = Object.freeze({ count: 0, cellKey: 0 });

/** A numeric column as a JS number: drivers return 64-bit integers as bigint or string. */
function toNumber(value: unknown, column: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return Number(value);
  }
  throw new TypeError(`column ${column}: expected a number, got ${typeof value}`);
}

function toNullableNumber(value: unknown, column: string): number | null {
  return value === null || value === undefined ? null : toNumber(value, column);
}

function cellOf(row: Record<string, unknown>): RawCell {
  return { count: toNumber(row.n, 'n'), cellKey: toNumber(row.ck, 'ck') };
}

function indexKey(indexes: readonly (number | null)[]): string {
  return indexes.map((i) => (i === null ? '' : String(i))).join(',');
}

/** Every stratum of the cross product, first dimension slowest, as label indexes. */
function crossProduct(dimensions: readonly DimensionPlan[]): number[][] {
  let combos: number[][] = [[]];
  for (const dimension of dimensions) {
    combos = combos.flatMap((prefix) => dimension.labels.map((_, i) => [...prefix, i]));
  }
  return combos;
}

function stratumKey(dimensions: readonly DimensionPlan[], indexes: readonly number[]): StratumKey {
  const key: Record<string, string> = {};
  dimensions.forEach((dimension, d) => {
    key[dimension.name] = dimension.labels[indexes[d]!]!;
  });
  return key;
}

/**
 * Decodes the rows of compileQuery's statement.
 * @example decodeRows(compiled.plan, await runner.all(compiled.sql, compiled.params))
 */
export function decodeRows(plan: ResultPlan, rows: readonly Record<string, unknown>[]): RawResult {
  const byPart = new Map<number, Record<string, unknown>[]>();
  for (const row of rows) {
    const part = toNumber(row.part, 'part');
    byPart.set(part, [...(byPart.get(part) ?? []), row]);
  }
  const totalRow = byPart.get(PART_TOTAL)?.[0];
  if (!totalRow) throw new TypeError('the statement returned no total row');

  let strata: RawStratum[] = [];
  if (plan.dimensions.length > 0) {
    const found = new Map<string, RawCell>();
    for (const row of byPart.get(PART_STRATA) ?? []) {
      const indexes = plan.dimensions.map((_, d) => toNullableNumber(row[`i${d}`], `i${d}`));
      found.set(indexKey(indexes), cellOf(row));
    }
    strata = crossProduct(plan.dimensions).map((indexes) => ({
      key: stratumKey(plan.dimensions, indexes),
      cell: found.get(indexKey(indexes)) ?? EMPTY,
    }));
  }

  const measures = plan.measures.map((measure): RawMeasure => {
    switch (measure.type) {
      case 'count':
        return { type: 'count' };
      case 'histogram': {
        const bins = new Map<number | null, RawCell>();
        for (const row of byPart.get(measure.part) ?? []) {
          bins.set(toNullableNumber(row.i0, 'i0'), cellOf(row));
        }
        return {
          type: 'histogram',
          unit: measure.unit,
          bins: measure.edges.map((from, i) => {
            const to = measure.edges[i + 1];
            const cell = bins.get(i) ?? EMPTY;
            return to === undefined ? { from, cell } : { from, to, cell };
          }),
          missing: bins.get(null) ?? EMPTY,
        };
      }
      case 'summary': {
        const row = byPart.get(measure.part)?.[0];
        if (!row)
          throw new TypeError(`the statement returned no row for measure part ${measure.part}`);
        return {
          type: 'summary',
          unit: measure.unit,
          n: cellOf(row),
          mean: toNullableNumber(row.f0, 'f0'),
          sd: toNullableNumber(row.f1, 'f1'),
          sumAbs: toNumber(row.f2, 'f2'),
          maxAbs: toNumber(row.f3, 'f3'),
          clampedSum: toNullableNumber(row.f4, 'f4'),
          clampedSumSquares: toNullableNumber(row.f5, 'f5'),
        };
      }
    }
  });

  return { total: cellOf(totalRow), strata, overlapping: plan.overlapping, measures };
}
