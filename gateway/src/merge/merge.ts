// Merging node answers into one table. Every merged cell carries a range
// guaranteed to contain the true sum over the nodes that answered and, when
// the nodes state a confidence, an interval that contains it at the level
// the result states. Pure: data in, data out.
//
// How one node's cell contributes to a merged cell (its "part"):
//
// | node cell                        | range part                          | interval part | count |
// | -------------------------------- | ----------------------------------- | ------------- | ----- |
// | released c with a range [a, b]   | [a, b], widened to hold c           | its interval  | c     |
// | released c, exact, no range      | [c, c]                              | range         | c     |
// | released c, perturbed, no range  | [max(0, ceil(c - w)), floor(c + w)] | range         | c     |
// | released c, rounding r > 1       | the same, w includes r - 1          | range         | c     |
// | suppressed, range [a, b]         | [a, b]                              | its interval  | none  |
// | absent (node lacks this stratum) | [0, upper end of the node's total]  | [0, see left] | none  |
//
// "its interval" is the cell's own interval when it has one and its node
// states `disclosure.confidence`, cut to the part's range (no part of an
// interval outside a guaranteed range can hold the truth); otherwise the
// range. An absent part's interval ends at the upper end of the node's
// total's interval: no stratum, bin or measure of a cohort holds more
// patients than the cohort.
//
// A node that states its cells' ranges (the current disclosure model) is
// taken at its word: the range always holds, the interval holds at the
// node's confidence. Nodes of earlier versions release counts without a
// range; for them w = (perturbed ? maxNoise : 0) + (rounding - 1). `r - 1`
// covers every way a node may round to a multiple of r (nearest, floor,
// ceiling, random), so the merge does not depend on which one a node uses.
// (An earlier laplace node's maxNoise was a bound at its confidence, so a
// range made from it held at that confidence only; maxNoise is now a hard
// bound, noise being truncated there.) Bounds are rounded inwards
// (ceil/floor) because true counts are integers, and kept within
// [0, MAX_NODE_COUNT], where every true count lies.
//
// The merged range is the sum of the parts' ranges and the merged interval
// the sum of their intervals. The interval holds whenever every node's
// interval for that cell holds, so by the Bonferroni inequality its level is
//   confidence = 1 - Σᵢ (1 - cᵢ)
// over the answering nodes i that state a confidence cᵢ, stated once on the
// result. A node that states none gives ranges only, which always hold, and
// takes nothing from the level. When no node states a confidence, or the
// level would be 0 or less, the result has no interval at all.
//
// A merged cell has a `count` only when every answering node released its
// part: the sum of the released counts. With any part suppressed or absent
// the cell is `suppressed: true` with its range (and interval) alone: a
// count made from the low ends of published ranges (`0 + [1, 9]` shown as 1)
// would be a figure no node released. `perturbed` is set on a count when
// any part carried noise or rounding.
//
// `budget` lists, per answering node that reported one, what the answer
// cost there and what the project and the researcher have spent of their
// limits, copied from the node's result. It says nothing about patients, so
// it is given even when the figures are withheld below minNodes.
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
  /** Fewer ok nodes than this and no merged figure is released (config `merge.minNodes`; 1: no minimum). */
  readonly minNodes: number;
  readonly queryId?: string;
  readonly asOf?: string;
}

/** One node's contribution to one merged cell. */
interface Part {
  /** Guaranteed bounds on the node's true count. */
  readonly lo: number;
  readonly hi: number;
  /** Bounds at the node's confidence, inside [lo, hi]. */
  readonly intervalLo: number;
  readonly intervalHi: number;
  /** The released count; undefined when suppressed or absent. */
  readonly count: number | undefined;
  readonly perturbed: boolean;
}

/** An accepted node answer, in the order the merge visits them. */
interface Answer {
  readonly node: string;
  readonly result: NodeResult;
  /** The node's total as a part: bounds any of its cells that is absent. */
  readonly total: Part;
}

type NodeBudget = NonNullable<MergedResult['budget']>[number];

/**
 * Merges node outcomes into a MergedResult: sums with guaranteed ranges and
 * intervals, histograms bin by bin, summaries pooled from n, mean and sd, and
 * each node's budget. The result does not depend on the order of `outcomes`.
 * @example mergeResults({ queryHash, outcomes: [{ node: 'a', status: 'ok', result }], minNodes: 1 }).total
 *   // { count: 120, range: [81, 159], interval: [114, 126], perturbed: true }
 */
export function mergeResults(input: MergeInput): MergedResult {
  const { minNodes } = input;
  if (!Number.isInteger(minNodes) || minNodes < 1) {
    throw new RangeError('mergeResults: minNodes must be an integer >= 1');
  }
  const outcomes = normaliseOutcomes(input.outcomes, input.queryHash);
  const answers: Answer[] = [];
  for (const o of outcomes) {
    if (o.status !== 'ok' || o.result === undefined) continue;
    answers.push({ node: o.node, result: o.result, total: partOf(o.result.total, o.result) });
  }
  const missing = outcomes.filter((o) => o.status !== 'ok').map((o) => o.node);
  const withheld = answers.length < minNodes;
  const confidence = withheld ? undefined : mergedConfidence(answers);
  const budget = answers.flatMap((a) => budgetOf(a));

  const cellOf = withheld
    ? (): MergedCell => withheldCell(answers.length)
    : (pick: (a: Answer) => Cell | undefined): MergedCell =>
        combine(
          answers.map((a) => contribution(a, pick(a))),
          confidence !== undefined,
        );

  const result: MergedResult = {
    ...(input.queryId === undefined ? {} : { queryId: input.queryId }),
    queryHash: input.queryHash,
    ...(input.asOf === undefined ? {} : { asOf: input.asOf }),
    complete: missing.length === 0,
    ...(missing.length === 0 ? {} : { missing }),
    // Below minNodes no figure leaves the gateway, not even per node.
    nodes: withheld ? outcomes.map(withoutResult) : outcomes,
    ...(budget.length === 0 ? {} : { budget }),
    ...(confidence === undefined ? {} : { confidence }),
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

/** A node's stated confidence, when it is a usable level. */
function confidenceOf(disclosure: Disclosure): number | undefined {
  const c = disclosure.confidence;
  return c !== undefined && Number.isFinite(c) && c > 0 && c < 1 ? c : undefined;
}

/**
 * The level of every merged interval: 1 - Σ (1 - cᵢ) over the answering nodes
 * that state a confidence (Bonferroni); undefined when none does or the level
 * is not above 0. Rounded down to 1e-9 once float error (far below that) is
 * discounted, so 0.95 and 0.9 give 0.85, not 0.8499999999999999.
 */
function mergedConfidence(answers: readonly Answer[]): number | undefined {
  let miss = 0;
  let stated = false;
  for (const a of answers) {
    const c = confidenceOf(a.result.disclosure);
    if (c === undefined) continue;
    stated = true;
    miss += 1 - c;
  }
  if (!stated) return undefined;
  const level = Math.floor((1 - miss) * 1e9 + 1e-6) / 1e9;
  return level > 0 && level < 1 ? level : undefined;
}

function budgetOf(answer: Answer): NodeBudget[] {
  const b = answer.result.budget;
  if (b === undefined) return [];
  return [
    {
      node: answer.node,
      cost: b.cost,
      periodDays: b.periodDays,
      project: { spent: b.project.spent, limit: b.project.limit },
      researcher: { spent: b.researcher.spent, limit: b.researcher.limit },
    },
  ];
}

/** Integer bounds [ceil(lo), floor(hi)] within [0, MAX_NODE_COUNT]. */
function clampBounds(lo: number, hi: number): [number, number] {
  return [
    Math.min(MAX_NODE_COUNT, Math.max(0, Math.ceil(lo))),
    Math.max(0, Math.min(MAX_NODE_COUNT, Math.floor(hi))),
  ];
}

/**
 * The part of a cell's interval inside its range [lo, hi]; the range itself
 * when the cell has no interval, its node states no confidence, or the
 * interval misses the range (a malformed cell).
 */
function intervalWithin(
  interval: readonly [number, number] | undefined,
  disclosure: Disclosure,
  lo: number,
  hi: number,
): [number, number] {
  if (interval === undefined || confidenceOf(disclosure) === undefined) return [lo, hi];
  const [a, b] = clampBounds(
    Math.min(interval[0], interval[1]),
    Math.max(interval[0], interval[1]),
  );
  const from = Math.max(lo, a);
  const to = Math.min(hi, b);
  return from <= to ? [from, to] : [lo, hi];
}

/** One node cell as a part of a merged cell; see the table at the top. */
function partOf(cell: Cell, result: NodeResult): Part {
  const { disclosure } = result;
  if ('suppressed' in cell) {
    const [a, b] = cell.range;
    const [lo, hi] = clampBounds(Math.min(a, b), Math.max(a, b));
    const [intervalLo, intervalHi] = intervalWithin(cell.interval, disclosure, lo, hi);
    return { lo, hi, intervalLo, intervalHi, count: undefined, perturbed: false };
  }
  const c = cell.count;
  if (cell.range !== undefined) {
    const [a, b] = cell.range;
    // Widened to hold the count, so that a count always lies in its range.
    const [lo, hi] = clampBounds(Math.min(a, b, c), Math.max(a, b, c));
    const [intervalLo, intervalHi] = intervalWithin(cell.interval, disclosure, lo, hi);
    const perturbed = cell.perturbed === true || lo !== c || hi !== c;
    return { lo, hi, intervalLo, intervalHi, count: c, perturbed };
  }
  // A node of an earlier version: the range follows from its disclosure.
  // Capped at the schema's count ceiling, which no true count exceeds, so an
  // absurd maxNoise cannot push a sum past what JSON numbers hold exactly.
  const width = Math.min(
    MAX_NODE_COUNT,
    (cell.perturbed === true ? disclosure.maxNoise : 0) + (disclosure.rounding - 1),
  );
  if (!(width > 0)) {
    return { lo: c, hi: c, intervalLo: c, intervalHi: c, count: c, perturbed: false };
  }
  const [lo, hi] = clampBounds(c - width, c + width);
  return { lo, hi, intervalLo: lo, intervalHi: hi, count: c, perturbed: true };
}

function contribution(answer: Answer, cell: Cell | undefined): Part {
  if (cell === undefined) {
    const { total } = answer;
    return {
      lo: 0,
      hi: total.hi,
      intervalLo: 0,
      intervalHi: total.intervalHi,
      count: undefined,
      perturbed: false,
    };
  }
  return partOf(cell, answer.result);
}

/** Sums parts into a merged cell, with its interval when `withInterval`. */
function combine(parts: readonly Part[], withInterval: boolean): MergedCell {
  let lo = 0;
  let hi = 0;
  let intervalLo = 0;
  let intervalHi = 0;
  let count: number | undefined = 0;
  let perturbed = false;
  for (const p of parts) {
    lo += p.lo;
    hi += p.hi;
    intervalLo += p.intervalLo;
    intervalHi += p.intervalHi;
    count = count === undefined || p.count === undefined ? undefined : count + p.count;
    perturbed ||= p.perturbed;
  }
  const interval: Pick<MergedCell, 'interval'> = withInterval
    ? { interval: [intervalLo, intervalHi] }
    : {};
  // No answering node at all: nothing was released, so no count either.
  if (count === undefined || parts.length === 0) {
    return { range: [lo, hi], ...interval, suppressed: true };
  }
  return { count, range: [lo, hi], ...interval, ...(perturbed ? { perturbed: true } : {}) };
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
 * which is exact when every nᵢ is exact. The weights nᵢ are the released
 * counts: a perturbed or rounded nᵢ is used as released, so the pooled
 * figures are then approximate; the merged `n` cell says so with
 * `perturbed: true`. Nodes with a suppressed n, or that withheld mean or sd,
 * are left out and are not in `pooledFrom`; the merged `n` then has no count,
 * and `pooledFrom` says which nodes the mean and sd describe.
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
