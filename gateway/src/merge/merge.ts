// Merging node answers into one table whose every range is guaranteed to
// contain the true sum over the nodes that answered. Pure: data in, data out.
//
// How one node's cell contributes to a merged cell (its "part"):
//
// | node cell                          | range part                                  | count part |
// | ---------------------------------- | ------------------------------------------- | ---------- |
// | released c, exact (rounding 1)     | [c, c]                                      | c          |
// | released c, perturbed              | [max(0, ceil(c - w)), floor(c + w)]         | c          |
// | released c, rounding r > 1         | same, w includes r - 1                      | c          |
// | suppressed, range [a, b]           | [a, b]                                      | a          |
// | absent (node lacks this stratum)   | [0, upper end of that node's total]         | 0          |
//
// w = (perturbed ? maxNoise : 0) + (rounding - 1). `r - 1` covers every way a
// node may round to a multiple of r (nearest, floor, ceiling, random), so the
// merge does not depend on which one a node uses. The bounds are rounded
// inwards (ceil/floor) because the true count is an integer. For laplace the
// node's maxNoise is a bound at its stated confidence, so the range holds at
// that confidence; for cell-key noise it holds always.
//
// A merged cell's `count` follows the schema: released counts plus the lower
// end of each suppressed part, so `count` always lies inside `range`. When no
// part was released the cell is `suppressed: true` and carries no `count`,
// because a figure built only from published ranges would look like data.
// `perturbed` is set when any released part carried noise or rounding.
import type {
  Cell,
  Disclosure,
  MeasureResult,
  MergedCell,
  MergedMeasure,
  MergedResult,
  NodeOutcome,
  NodeResult,
  StratumKey,
} from '@tessera/schemas';
import nodeResultSchema from '@tessera/schemas/json/node-result.schema.json' with { type: 'json' };

/** The largest count a node may report (the schema's Count maximum). */
export const MAX_NODE_COUNT: number = nodeResultSchema.$defs.Count.maximum;

export interface MergeInput {
  readonly queryHash: string;
  /** Every node asked, ok ones with their validated result. */
  readonly outcomes: readonly NodeOutcome[];
  /** Fewer ok nodes than this and no merged figure is released. Default 1. */
  readonly minNodes?: number;
  readonly queryId?: string;
  readonly asOf?: string;
}

/** One node's contribution to one merged cell. */
interface Part {
  readonly lo: number;
  readonly hi: number;
  /** What the part adds to `count`. */
  readonly count: number;
  readonly released: boolean;
  readonly perturbed: boolean;
}

/** An accepted node answer, in the order the merge visits them. */
interface Answer {
  readonly node: string;
  readonly result: NodeResult;
  /** Upper end of the node's total: bounds any of its cells that is absent. */
  readonly totalHi: number;
}

/**
 * Merges node outcomes into a MergedResult: sums with guaranteed ranges,
 * histograms bin by bin, summaries pooled from n, mean and sd.
 * The result does not depend on the order of `outcomes`.
 * @example mergeResults({ queryHash, outcomes: [{ node: 'a', status: 'ok', result }] }).total
 *   // { count: 120, range: [118, 122], perturbed: true }
 */
export function mergeResults(input: MergeInput): MergedResult {
  const minNodes = input.minNodes ?? 1;
  if (!Number.isInteger(minNodes) || minNodes < 1) {
    throw new RangeError('mergeResults: minNodes must be an integer >= 1');
  }
  const outcomes = normaliseOutcomes(input.outcomes, input.queryHash);
  const answers: Answer[] = [];
  for (const o of outcomes) {
    if (o.status !== 'ok' || o.result === undefined) continue;
    const total = partOf(o.result.total, o.result.disclosure);
    answers.push({ node: o.node, result: o.result, totalHi: total.hi });
  }
  const missing = outcomes.filter((o) => o.status !== 'ok').map((o) => o.node);
  const withheld = answers.length < minNodes;

  const cellOf = withheld
    ? (): MergedCell => withheldCell(answers.length)
    : (pick: (a: Answer) => Cell | undefined): MergedCell =>
        combine(answers.map((a) => contribution(a, pick(a))));

  const result: MergedResult = {
    ...(input.queryId === undefined ? {} : { queryId: input.queryId }),
    queryHash: input.queryHash,
    ...(input.asOf === undefined ? {} : { asOf: input.asOf }),
    complete: missing.length === 0,
    ...(missing.length === 0 ? {} : { missing }),
    // Below minNodes no figure leaves the gateway, not even per node.
    nodes: withheld ? outcomes.map(withoutResult) : outcomes,
    total: cellOf((a) => a.result.total),
    ...(answers.some((a) => a.result.overlapping === true) ? { overlapping: true } : {}),
    strata: mergeStrata(answers, cellOf),
    measures: mergeMeasures(answers, cellOf, withheld),
  };
  return result;
}

type CellOf = (pick: (a: Answer) => Cell | undefined) => MergedCell;

/**
 * Sorts outcomes by node, keeps one per node, and turns an ok outcome that is
 * not an answer to this query (no result, another node's name, another query's
 * hash) into an error, so it is listed as missing and never summed.
 */
function normaliseOutcomes(outcomes: readonly NodeOutcome[], queryHash: string): NodeOutcome[] {
  const sorted = outcomes
    .map((o) => ({ o, tie: JSON.stringify(o) }))
    .sort((x, y) => compare(x.o.node, y.o.node) || compare(x.tie, y.tie))
    .map(({ o }) => o);
  const seen = new Set<string>();
  const kept: NodeOutcome[] = [];
  for (const o of sorted) {
    if (seen.has(o.node)) continue;
    seen.add(o.node);
    const answers =
      o.result !== undefined && o.result.node === o.node && o.result.queryHash === queryHash;
    if (o.status !== 'ok') kept.push(withoutResult(o));
    else if (!answers) kept.push({ ...withoutResult(o), status: 'error' });
    else kept.push(o);
  }
  return kept;
}

function withoutResult(o: NodeOutcome): NodeOutcome {
  const rest = { ...o };
  delete rest.result;
  return rest;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One node cell as a part of a merged cell; see the table at the top. */
function partOf(cell: Cell, disclosure: Disclosure): Part {
  if ('suppressed' in cell) {
    const [a, b] = cell.range;
    const lo = Math.min(a, b);
    return { lo, hi: Math.max(a, b), count: lo, released: false, perturbed: false };
  }
  const c = cell.count;
  // Capped at the schema's count ceiling, which no true count exceeds, so an
  // absurd maxNoise cannot push a sum past what JSON numbers hold exactly.
  const width = Math.min(
    MAX_NODE_COUNT,
    (cell.perturbed === true ? disclosure.maxNoise : 0) + (disclosure.rounding - 1),
  );
  if (width <= 0) return { lo: c, hi: c, count: c, released: true, perturbed: false };
  return {
    lo: Math.max(0, Math.ceil(c - width)),
    hi: Math.floor(c + width),
    count: c,
    released: true,
    perturbed: true,
  };
}

function contribution(answer: Answer, cell: Cell | undefined): Part {
  if (cell === undefined) {
    return { lo: 0, hi: answer.totalHi, count: 0, released: false, perturbed: false };
  }
  return partOf(cell, answer.result.disclosure);
}

/** Sums parts into a merged cell. */
function combine(parts: readonly Part[]): MergedCell {
  let lo = 0;
  let hi = 0;
  let count = 0;
  let released = false;
  let perturbed = false;
  for (const p of parts) {
    lo += p.lo;
    hi += p.hi;
    count += p.count;
    released ||= p.released;
    perturbed ||= p.perturbed;
  }
  if (!released) return { range: [lo, hi], suppressed: true };
  return { count, range: [lo, hi], ...(perturbed ? { perturbed: true } : {}) };
}

/**
 * A figure withheld because too few nodes answered. Its range is still a true
 * statement, and one that says nothing about the data: each answering node's
 * count is at most MAX_NODE_COUNT (with no answer the sum is 0).
 */
function withheldCell(answered: number): MergedCell {
  return { range: [0, answered * MAX_NODE_COUNT], suppressed: true };
}

function stratumKeyId(key: StratumKey): string {
  return JSON.stringify([key.gender, key.ageBand, key.deceased, key.codes]);
}

function mergeStrata(answers: readonly Answer[], cellOf: CellOf): MergedResult['strata'] {
  const keys = new Map<string, StratumKey>();
  const cells = new Map<Answer, Map<string, Cell>>();
  for (const a of answers) {
    const own = new Map<string, Cell>();
    for (const s of a.result.strata) {
      const id = stratumKeyId(s.key);
      if (!keys.has(id)) keys.set(id, s.key);
      if (!own.has(id)) own.set(id, s.cell);
    }
    cells.set(a, own);
  }
  return [...keys].map(([id, key]) => ({ key, cell: cellOf((a) => cells.get(a)?.get(id)) }));
}

type HistogramResult = Extract<MeasureResult, { type: 'histogram' }>;
type SummaryResult = Extract<MeasureResult, { type: 'summary' }>;

/**
 * Measures are merged by position, in the shape of the first answer (nodes
 * sorted by name). A node whose measure at that position has another type or
 * unit cannot be added up with the others and counts as absent there.
 */
function mergeMeasures(
  answers: readonly Answer[],
  cellOf: CellOf,
  withheld: boolean,
): MergedMeasure[] {
  const reference = answers[0]?.result.measures ?? [];
  return reference.map((ref, i): MergedMeasure => {
    switch (ref.type) {
      case 'count':
        return { type: 'count' };
      case 'histogram': {
        const own = (a: Answer): HistogramResult | undefined => {
          const m = a.result.measures[i];
          return m?.type === 'histogram' && m.unit === ref.unit ? m : undefined;
        };
        return {
          type: 'histogram',
          unit: ref.unit,
          bins: mergeBins(answers, own, cellOf),
          missing: cellOf((a) => own(a)?.missing),
        };
      }
      case 'summary': {
        const own = (a: Answer): SummaryResult | undefined => {
          const m = a.result.measures[i];
          return m?.type === 'summary' && m.unit === ref.unit ? m : undefined;
        };
        const pooled = withheld ? undefined : poolSummaries(answers, own);
        return {
          type: 'summary',
          unit: ref.unit,
          n: cellOf((a) => own(a)?.n),
          ...(pooled ?? {}),
        };
      }
    }
  });
}

function binId(bin: { from: number; to?: number }): string {
  return JSON.stringify([bin.from, bin.to ?? null]);
}

function mergeBins(
  answers: readonly Answer[],
  own: (a: Answer) => HistogramResult | undefined,
  cellOf: CellOf,
): Extract<MergedMeasure, { type: 'histogram' }>['bins'] {
  const bins = new Map<string, { from: number; to?: number }>();
  for (const a of answers) {
    for (const b of own(a)?.bins ?? []) {
      const id = binId(b);
      if (!bins.has(id))
        bins.set(id, b.to === undefined ? { from: b.from } : { from: b.from, to: b.to });
    }
  }
  return [...bins]
    .sort(([, x], [, y]) => x.from - y.from || (x.to ?? Infinity) - (y.to ?? Infinity))
    .map(([id, bin]) => ({
      ...bin,
      cell: cellOf((a) => own(a)?.bins.find((b) => binId(b) === id)?.cell),
    }));
}

/**
 * Pools n, mean and sample sd over the nodes that released all three with a
 * released n:
 *   N = Σ nᵢ, mean = Σ nᵢ·meanᵢ / N,
 *   sd = sqrt((Σ (nᵢ - 1)·sdᵢ² + Σ nᵢ·(meanᵢ - mean)²) / (N - 1)),
 * which is exact when every nᵢ is exact. A perturbed or rounded nᵢ is used as
 * released, so the pooled figures are then approximate; the merged `n` cell
 * says so with `perturbed: true`. Nodes with a suppressed n, or that withheld
 * mean or sd, are left out and are not in `pooledFrom`.
 */
function poolSummaries(
  answers: readonly Answer[],
  own: (a: Answer) => SummaryResult | undefined,
): { mean: number; sd?: number; pooledFrom: string[] } | undefined {
  const parts: { node: string; n: number; mean: number; sd: number }[] = [];
  for (const a of answers) {
    const m = own(a);
    if (m === undefined || m.suppressed === true || 'suppressed' in m.n) continue;
    const { mean, sd } = m;
    const n = m.n.count;
    if (n < 1 || mean === undefined || sd === undefined) continue;
    if (!Number.isFinite(mean) || !Number.isFinite(sd)) continue;
    parts.push({ node: a.node, n, mean, sd });
  }
  if (parts.length === 0) return undefined;
  let total = 0;
  let weighted = 0;
  for (const p of parts) {
    total += p.n;
    weighted += p.n * p.mean;
  }
  const mean = weighted / total;
  let squares = 0;
  for (const p of parts) squares += (p.n - 1) * p.sd * p.sd + p.n * (p.mean - mean) ** 2;
  const sd = total >= 2 ? Math.sqrt(Math.max(0, squares) / (total - 1)) : undefined;
  const pooledFrom = parts.map((p) => p.node);
  if (!Number.isFinite(mean)) return undefined;
  return sd !== undefined && Number.isFinite(sd) ? { mean, sd, pooledFrom } : { mean, pooledFrom };
}
