// How the page writes figures: pure functions, no DOM, no words (the
// message catalogue has those). A count with an interval reads
// `250 (245–258)`; a cell without a count shows only its guaranteed range,
// `< 10` when it starts at 0; means are shown to three significant digits.
import type { Cell, MergedCell, MergedResult, StratumKey } from '@tessera/schemas';

export type AnyCell = Cell | MergedCell;

const counts = new Map<string, Intl.NumberFormat>();
function countFormat(locale: string): Intl.NumberFormat {
  let format = counts.get(locale);
  if (format === undefined) {
    format = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    counts.set(locale, format);
  }
  return format;
}

/** `1,204` in English, `1.204` in German. */
export function formatCount(n: number, locale = 'en'): string {
  return countFormat(locale).format(n);
}

/** A statistic such as a mean, to three significant digits: `7.24`, `143`. */
export function formatStat(x: number, locale = 'en'): string {
  return new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 }).format(x);
}

/** A confidence as a percentage, rounded down: 0.95 → `95 %`, 0.9025 → `90.2 %`. */
export function formatLevel(confidence: number, locale = 'en'): string {
  const value = Math.floor(confidence * 1000 + 1e-6) / 10;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(value)} %`;
}

/** `< 10` for a range that starts at 0 (true count 0 to 9), else `11–19`. */
export function formatRange([lo, hi]: readonly [number, number], locale = 'en'): string {
  return lo === 0
    ? `< ${formatCount(hi + 1, locale)}`
    : `${formatCount(lo, locale)}–${formatCount(hi, locale)}`;
}

function countOf(cell: AnyCell): number | undefined {
  if ('suppressed' in cell && cell.suppressed === true) return undefined;
  return 'count' in cell ? cell.count : undefined;
}

/**
 * The text of a cell: `250 (245–258)` for a count with its interval;
 * `~121 [119–131]` for a noisy count with only a range; `< 10` or `11–19`
 * for a cell without a count, never a figure; `–` for none.
 */
export function formatCell(cell: AnyCell | undefined, locale = 'en'): string {
  if (cell === undefined) return '–';
  const count = countOf(cell);
  if (count === undefined) return cell.range ? formatRange(cell.range, locale) : '–';
  if (cell.interval) {
    const [a, b] = cell.interval;
    return `${formatCount(count, locale)} (${formatCount(a, locale)}–${formatCount(b, locale)})`;
  }
  const base = `${'perturbed' in cell && cell.perturbed ? '~' : ''}${formatCount(count, locale)}`;
  return cell.range && (cell.range[0] !== count || cell.range[1] !== count)
    ? `${base} [${formatCount(cell.range[0], locale)}–${formatCount(cell.range[1], locale)}]`
    : base;
}

/** A bar for a chart: the count, or null for a cell without one. */
export function chartValue(cell: AnyCell | undefined): number | null {
  return cell === undefined ? null : (countOf(cell) ?? null);
}

/** A floating bar for a cell without a count: its guaranteed range; null for a counted cell. */
export function chartRange(cell: AnyCell | undefined): [number, number] | null {
  if (cell === undefined || countOf(cell) !== undefined || cell.range === undefined) return null;
  return [cell.range[0], cell.range[1]];
}

/** One label per dimension, in order: `female · 40-64`. */
export function stratumLabel(key: StratumKey): string {
  return Object.values(key).join(' · ');
}

export const keyId = (key: StratumKey): string =>
  JSON.stringify([key.gender, key.ageBand, key.deceased, key.codes]);

/** A bin's edges: `[0, 5.7)` or `[10, ∞)`. */
export function binLabel(bin: { from: number; to?: number }, locale = 'en'): string {
  const f = (x: number): string => formatStat(x, locale);
  return `[${f(bin.from)}, ${bin.to === undefined ? '∞' : f(bin.to)})`;
}

/** Each node's budget: cost, and what is left of each account. */
export function budgetRows(
  result: MergedResult,
  locale = 'en',
): {
  node: string;
  cost: string;
  project: [string, string];
  researcher: [string, string];
  periodDays: number;
}[] {
  const n = (x: number): string =>
    new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(x);
  const left = (a: { spent: number; limit: number }): [string, string] => [
    n(Math.max(0, a.limit - a.spent)),
    n(a.limit),
  ];
  return (result.budget ?? []).map((b) => ({
    node: b.node,
    cost: n(b.cost),
    project: left(b.project),
    researcher: left(b.researcher),
    periodDays: b.periodDays,
  }));
}
