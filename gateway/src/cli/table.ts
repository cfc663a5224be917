// Merged results as a text table for terminals: one row per stratum, the
// merged figure with its interval, its guaranteed range, then each node's
// figure; then a table per histogram (a row per bin) and per summary (n,
// mean and sd); below them what the answer cost at each node and what is left.
import type {
  Cell,
  MeasureResult,
  MergedCell,
  MergedMeasure,
  MergedResult,
  StratumKey,
} from '@tessera/schemas';

type AnyCell = Cell | MergedCell;

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** A count with thousands separators: `1,204`. */
export function formatCount(n: number): string {
  return grouped.format(n);
}

/**
 * A confidence as a percentage, rounded down so it never claims more than
 * stated: 0.95 → `95 %`, 0.9025 → `90.2 %`.
 */
export function formatLevel(confidence: number): string {
  return `${Math.floor(confidence * 1000 + 1e-6) / 10} %`;
}

/** A range as a researcher reads it: `<= 48` when it starts at 0, else `11-19`. */
export function formatRange([lo, hi]: readonly [number, number]): string {
  return lo === 0 ? `<= ${formatCount(hi)}` : `${formatCount(lo)}-${formatCount(hi)}`;
}

function countOf(cell: AnyCell): number | undefined {
  if ('suppressed' in cell && cell.suppressed === true) return undefined;
  return 'count' in cell ? cell.count : undefined;
}

/**
 * A cell as a researcher reads it. A count comes with its interval at
 * `confidence` (`1,204 (1,190-1,218, 95 %)`) when it has one, else with its
 * range when that is wider than the count (`~121 [119-131]`, `~` marking
 * noise or rounding). A cell without a count (suppressed, or merged from a
 * suppressed or missing part) shows its guaranteed range alone (`<= 48`,
 * `11-19`), never a figure.
 */
export function formatCell(cell: AnyCell | undefined, confidence?: number): string {
  if (!cell) return '-';
  const range = 'range' in cell ? cell.range : undefined;
  const count = countOf(cell);
  if (count === undefined) return range ? formatRange(range) : 'suppressed';
  const interval = 'interval' in cell ? cell.interval : undefined;
  if (interval && confidence !== undefined) {
    return `${formatCount(count)} (${formatCount(interval[0])}-${formatCount(interval[1])}, ${formatLevel(confidence)})`;
  }
  const perturbed = 'perturbed' in cell && cell.perturbed === true;
  const base = `${perturbed ? '~' : ''}${formatCount(count)}`;
  return range && (range[0] !== count || range[1] !== count)
    ? `${base} [${formatCount(range[0])}-${formatCount(range[1])}]`
    : base;
}

function keyId(key: StratumKey): string {
  return JSON.stringify([key.gender, key.ageBand, key.deceased, key.codes]);
}

/** What each node's answer cost and what is left there, one line per node. */
export function renderBudget(result: MergedResult): string[] {
  const budget = result.budget ?? [];
  if (budget.length === 0) return [];
  const n = decimal.format.bind(decimal);
  const left = (a: { spent: number; limit: number }): string =>
    `${n(Math.max(0, a.limit - a.spent))} of ${n(a.limit)} left`;
  const rows = budget.map((b) => [
    b.node,
    n(b.cost),
    left(b.project),
    left(b.researcher),
    `${b.periodDays} days`,
  ]);
  return ['', ...table(['budget', 'cost (epsilon)', 'project', 'researcher', 'period'], rows)];
}

/**
 * Rows as text columns, each as wide as its widest cell, under the header and a rule.
 * @example table(['node', 'cost'], [['lombardia', '0.25']]) // ['node       cost', '---------  ----', 'lombardia  0.25']
 */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((v, c) => v.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** A mean or sd to sensible precision: three significant digits, at most two decimals. */
export function formatStatistic(value: number): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toFixed(digits);
}

function binLabel(bin: { from: number; to?: number | undefined }, unit: string): string {
  return bin.to === undefined ? `>= ${bin.from} ${unit}` : `${bin.from}-<${bin.to} ${unit}`;
}

type OkNode = {
  node: string;
  result: { measures: MeasureResult[]; disclosure: { confidence?: number } };
};

/**
 * One table per histogram and summary measure, in the query's order: the
 * merged figure then each answering node's, as the count table has them.
 */
export function renderMeasures(result: MergedResult, okNodes: readonly OkNode[]): string[] {
  const lines: string[] = [];
  const nodeMeasure = <T extends MeasureResult['type']>(
    n: OkNode,
    i: number,
    type: T,
  ): Extract<MeasureResult, { type: T }> | undefined => {
    const m = n.result.measures[i];
    return m?.type === type ? (m as Extract<MeasureResult, { type: T }>) : undefined;
  };
  result.measures.forEach((measure: MergedMeasure, i) => {
    if (measure.type === 'histogram') {
      const rows = measure.bins.map((bin, b) => [
        binLabel(bin, measure.unit),
        formatCell(bin.cell, result.confidence),
        ...okNodes.map((n) =>
          formatCell(nodeMeasure(n, i, 'histogram')?.bins[b]?.cell, n.result.disclosure.confidence),
        ),
      ]);
      rows.push([
        'no value',
        formatCell(measure.missing, result.confidence),
        ...okNodes.map((n) =>
          formatCell(nodeMeasure(n, i, 'histogram')?.missing, n.result.disclosure.confidence),
        ),
      ]);
      lines.push(
        '',
        ...table([`histogram (${measure.unit})`, 'merged', ...okNodes.map((n) => n.node)], rows),
      );
    } else if (measure.type === 'summary') {
      const stat = (m: { mean?: number; sd?: number } | undefined, key: 'mean' | 'sd'): string =>
        m?.[key] === undefined ? 'withheld' : formatStatistic(m[key]);
      const nodes = okNodes.map((n) => nodeMeasure(n, i, 'summary'));
      lines.push(
        '',
        ...table(
          [`summary (${measure.unit})`, 'merged', ...okNodes.map((n) => n.node)],
          [
            [
              'n',
              formatCell(measure.n, result.confidence),
              ...nodes.map((m, k) => formatCell(m?.n, okNodes[k]!.result.disclosure.confidence)),
            ],
            ['mean', stat(measure, 'mean'), ...nodes.map((m) => stat(m, 'mean'))],
            ['sd', stat(measure, 'sd'), ...nodes.map((m) => stat(m, 'sd'))],
          ],
        ),
      );
    }
  });
  return lines;
}

/**
 * The merged count table, the missing nodes and the warnings, its histograms
 * and summaries, then each node's budget.
 * @example console.log(renderTable(result));
 */
export function renderTable(result: MergedResult): string {
  const okNodes = result.nodes.flatMap((n) =>
    n.status === 'ok' && n.result ? [{ node: n.node, result: n.result }] : [],
  );
  const dims = Object.keys(result.strata[0]?.key ?? {});
  const header = [
    ...(dims.length > 0 ? dims : ['']),
    'merged',
    'guaranteed',
    ...okNodes.map((n) => n.node),
  ];
  const merged = (cell: MergedCell): string[] => [
    formatCell(cell, result.confidence),
    `${formatCount(cell.range[0])}-${formatCount(cell.range[1])}`,
  ];
  const rows: string[][] = [];
  rows.push([
    ...(dims.length > 0 ? dims.map((_, i) => (i === 0 ? 'total' : '')) : ['total']),
    ...merged(result.total),
    ...okNodes.map((n) => formatCell(n.result.total, n.result.disclosure.confidence)),
  ]);
  for (const stratum of result.strata) {
    const key = stratum.key as Record<string, string | undefined>;
    const id = keyId(stratum.key);
    rows.push([
      ...dims.map((d) => key[d] ?? ''),
      ...merged(stratum.cell),
      ...okNodes.map((n) =>
        formatCell(
          n.result.strata.find((s) => keyId(s.key) === id)?.cell,
          n.result.disclosure.confidence,
        ),
      ),
    ]);
  }
  const missing = result.nodes.filter((n) => n.status !== 'ok');
  return [
    ...table(header, rows),
    ...(missing.length > 0
      ? [
          `incomplete: ${missing.map((n) => `${n.node} ${n.status}${n.code ? ` (${n.code})` : ''}`).join(', ')}`,
        ]
      : []),
    ...(result.warnings ?? []).map((w) => `warning ${w.code} at ${w.pointer}: ${w.detail}`),
    ...renderMeasures(result, okNodes),
    ...renderBudget(result),
  ].join('\n');
}
