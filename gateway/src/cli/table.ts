// Merged results as a text table for terminals: one row per stratum, the
// merged figure with its guaranteed range, then each node's figure.
import type { Cell, MergedCell, MergedResult } from '@tessera/schemas';

/** A cell as a researcher reads it: `120`, `~120` (perturbed), `<10` style ranges for suppressed parts. */
export function formatCell(cell: Cell | MergedCell | undefined): string {
  if (!cell) return '-';
  const suppressed = 'suppressed' in cell && cell.suppressed === true;
  const range = 'range' in cell ? cell.range : undefined;
  if (suppressed) return range ? `[${range[0]}-${range[1]}]` : 'suppressed';
  const count = 'count' in cell ? cell.count : undefined;
  const perturbed = 'perturbed' in cell && cell.perturbed === true;
  const base = `${perturbed ? '~' : ''}${count ?? '-'}`;
  return range && (range[0] !== count || range[1] !== count)
    ? `${base} [${range[0]}-${range[1]}]`
    : base;
}

/**
 * The merged count table.
 * @example console.log(renderTable(result));
 */
export function renderTable(result: MergedResult): string {
  const okNodes = result.nodes.filter((n) => n.status === 'ok' && n.result);
  const dims = Object.keys(result.strata[0]?.key ?? {});
  const header = [...(dims.length > 0 ? dims : ['']), 'merged', ...okNodes.map((n) => n.node)];
  const rows: string[][] = [];
  rows.push([
    ...(dims.length > 0 ? dims.map((_, i) => (i === 0 ? 'total' : '')) : ['total']),
    formatCell(result.total),
    ...okNodes.map((n) => formatCell(n.result!.total)),
  ]);
  result.strata.forEach((stratum, i) => {
    const key = stratum.key as Record<string, string | undefined>;
    rows.push([
      ...dims.map((d) => key[d] ?? ''),
      formatCell(stratum.cell),
      ...okNodes.map((n) => formatCell(n.result!.strata[i]?.cell)),
    ]);
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((v, c) => v.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  const missing = result.nodes.filter((n) => n.status !== 'ok');
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...(missing.length > 0
      ? [
          `incomplete: ${missing.map((n) => `${n.node} ${n.status}${n.code ? ` (${n.code})` : ''}`).join(', ')}`,
        ]
      : []),
  ].join('\n');
}
