// Results as CSV: one row per node and stratum (and a `merged` row set for
// the gateway's answer), with the figure, its guaranteed range, how it was
// protected, and its interval with the interval's level. A cell without a
// count (suppressed, or merged from a suppressed or missing part) has an
// empty `count`: its range is all that is known.
import type { Cell, NodeResult } from '../generated/node-result.ts';
import type { MergedCell, MergedResult } from '../generated/merged-result.ts';

function field(value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  // Quote, and defuse spreadsheet formulas, for any text that could be read as one.
  const safe = /^[=+\-@\t\r]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function cellFields(
  cell: Cell | MergedCell,
  confidence: number | undefined,
): (string | number | boolean | undefined)[] {
  const suppressed = 'suppressed' in cell && cell.suppressed === true;
  const count = 'count' in cell && !suppressed ? cell.count : undefined;
  const range =
    'range' in cell && cell.range ? cell.range : count === undefined ? undefined : [count, count];
  // An interval means something only at a stated level.
  const interval = confidence === undefined ? undefined : cell.interval;
  return [
    count,
    range?.[0],
    range?.[1],
    'perturbed' in cell && cell.perturbed === true,
    suppressed,
    interval?.[0],
    interval?.[1],
    interval === undefined ? undefined : confidence,
  ];
}

/**
 * The count table of a node's or the merged result as CSV text.
 * @example toCsv(merged).split('\n')[0]
 *   // 'source,gender,count,low,high,perturbed,suppressed,interval_low,interval_high,confidence'
 */
export function toCsv(result: NodeResult | MergedResult): string {
  const tables: {
    source: string;
    result: NodeResult | MergedResult;
    confidence: number | undefined;
  }[] =
    'nodes' in result
      ? [
          { source: 'merged', result, confidence: result.confidence },
          ...result.nodes.flatMap((n) =>
            n.result
              ? [{ source: n.node, result: n.result, confidence: n.result.disclosure.confidence }]
              : [],
          ),
        ]
      : [{ source: result.node, result, confidence: result.disclosure.confidence }];
  const dims = Object.keys(result.strata[0]?.key ?? {});
  const lines = [
    [
      'source',
      ...dims,
      'count',
      'low',
      'high',
      'perturbed',
      'suppressed',
      'interval_low',
      'interval_high',
      'confidence',
    ].join(','),
  ];
  for (const { source, result: table, confidence } of tables) {
    lines.push(
      [source, ...dims.map(() => 'total'), ...cellFields(table.total, confidence)]
        .map(field)
        .join(','),
    );
    for (const stratum of table.strata) {
      const key = stratum.key as Record<string, string | undefined>;
      lines.push(
        [source, ...dims.map((d) => key[d]), ...cellFields(stratum.cell, confidence)]
          .map(field)
          .join(','),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
