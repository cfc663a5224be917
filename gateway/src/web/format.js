// How the researcher's page writes figures: pure functions, no DOM, shared
// by app.js and its tests. A cell without a count shows its guaranteed range
// alone; a count shows its interval at the stated level, with the guaranteed
// range in the cell's title (on hover).
const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** `1,204` */
export function formatCount(n) {
  return grouped.format(n);
}

/** A confidence as a percentage, rounded down: 0.95 → `95 %`, 0.9025 → `90.2 %`. */
export function formatLevel(confidence) {
  return `${Math.floor(confidence * 1000 + 1e-6) / 10} %`;
}

/** `≤ 48` when the range starts at 0, else `11–19`. */
export function formatRange([lo, hi]) {
  return lo === 0 ? `≤ ${formatCount(hi)}` : `${formatCount(lo)}–${formatCount(hi)}`;
}

function countOf(cell) {
  return cell.suppressed === true || cell.count === undefined ? undefined : cell.count;
}

/**
 * The text of a cell: `1,204 (1,190–1,218, 95 %)` for a count with an
 * interval at `confidence`; `~121 [119–131]` for a count with only a range;
 * `≤ 48` or `11–19` for a cell without a count (suppressed, or merged from a
 * suppressed or missing part), never a figure.
 */
export function formatCell(cell, confidence) {
  if (!cell) return '–';
  const count = countOf(cell);
  if (count === undefined) return cell.range ? formatRange(cell.range) : 'suppressed';
  if (cell.interval && confidence !== undefined) {
    const [a, b] = cell.interval;
    return `${formatCount(count)} (${formatCount(a)}–${formatCount(b)}, ${formatLevel(confidence)})`;
  }
  const base = `${cell.perturbed ? '~' : ''}${formatCount(count)}`;
  return cell.range && (cell.range[0] !== count || cell.range[1] !== count)
    ? `${base} [${formatCount(cell.range[0])}–${formatCount(cell.range[1])}]`
    : base;
}

/** The title (hover text) of a cell: its guaranteed range, and its interval. */
export function cellTitle(cell, confidence) {
  if (!cell) return 'not reported';
  const parts = [];
  if (countOf(cell) === undefined) parts.push('no count: a part was suppressed or not reported');
  else if (cell.perturbed) parts.push('perturbed');
  if (cell.range) {
    parts.push(`guaranteed range ${formatCount(cell.range[0])}–${formatCount(cell.range[1])}`);
  }
  if (cell.interval && confidence !== undefined) {
    parts.push(
      `${formatLevel(confidence)} interval ${formatCount(cell.interval[0])}–${formatCount(cell.interval[1])}`,
    );
  }
  return parts.join('; ');
}

/** Each node's budget as rows of text: cost, and what is left of each account. */
export function budgetRows(result) {
  const n = (x) => decimal.format(x);
  const left = (a) => `${n(Math.max(0, a.limit - a.spent))} of ${n(a.limit)}`;
  return (result.budget ?? []).map((b) => ({
    node: b.node,
    cost: n(b.cost),
    project: left(b.project),
    researcher: left(b.researcher),
    period: `${b.periodDays} days`,
  }));
}
