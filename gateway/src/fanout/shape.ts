// The shape of the table a query asks for, and whether a node's answer has it.
//
// A node's answer is valid NodeResult JSON and still may not be an answer to
// this query: strata the query never asked for (`{ "codes": "=HYPERLINK(…)" }`
// to an unstratified query), a measure of another kind, histogram bins on
// other edges. The merge would take such rows into the researcher's table and
// its CSV, so the fan-out checks every answer against the shape the query
// implies before it is `ok` (threat 51). Pure: data in, data out.
//
// | the query says                 | every node answer must have                             |
// | ------------------------------ | ------------------------------------------------------- |
// | no `stratify`                  | no strata                                               |
// | `stratify: [d1, …, dn]`        | strata keyed by exactly d1 … dn, each value one of the  |
// |                                | dimension's labels below, no key twice                  |
// | `gender`                       | female, male, other, unknown                            |
// | `deceased`                     | true, false                                             |
// | `ageBand: [e0, …, ek]`         | e0-(e1-1), …, ek+ (the node's band labels)              |
// | `codes: { in: [c…] }`          | `system` and `code` of a listed code, joined by a bar   |
// | `measures: [m1, …, mn]`        | n measures, in order, each of the same kind; histogram  |
// | (default: one count)           | and summary in the asked unit; histogram bins on the    |
// |                                | asked edges (the last open-ended)                       |
//
// A node may leave out strata (the merge treats an absent stratum as such);
// it may not add any.
import type { CohortQuery, Dimension, NodeResult, StratumKey } from '@tessera/schemas';

type DimensionName = keyof StratumKey;

interface DimensionShape {
  readonly name: DimensionName;
  readonly labels: ReadonlySet<string>;
}

export type MeasureShape =
  | { readonly type: 'count' }
  | { readonly type: 'histogram'; readonly unit: string; readonly edges: readonly number[] }
  | { readonly type: 'summary'; readonly unit: string };

export interface ResultShape {
  readonly dimensions: readonly DimensionShape[];
  readonly measures: readonly MeasureShape[];
}

const GENDER_LABELS = ['female', 'male', 'other', 'unknown'] as const;
const DECEASED_LABELS = ['true', 'false'] as const;

/**
 * Stratum labels of an age band dimension, as nodes write them.
 * @example ageBandLabels([0, 18, 40, 65, 80]) // ['0-17', '18-39', '40-64', '65-79', '80+']
 */
export function ageBandLabels(edges: readonly number[]): string[] {
  return edges.map((edge, i) => {
    const next = edges[i + 1];
    return next === undefined ? `${edge}+` : `${edge}-${next - 1}`;
  });
}

function dimensionShape(dimension: Dimension): DimensionShape {
  if (dimension === 'gender') return { name: 'gender', labels: new Set(GENDER_LABELS) };
  if (dimension === 'deceased') return { name: 'deceased', labels: new Set(DECEASED_LABELS) };
  if ('ageBand' in dimension) {
    return { name: 'ageBand', labels: new Set(ageBandLabels(dimension.ageBand)) };
  }
  return {
    name: 'codes',
    labels: new Set(dimension.codes.in.map((c) => `${c.system}|${c.code}`)),
  };
}

/**
 * The shape of the answer to `query` (best given the canonical query the
 * nodes are sent, whose codes are normalised as the nodes key them).
 * @example resultShape({ version: 1, cohort, stratify: ['gender'] }).dimensions[0]?.name // 'gender'
 */
export function resultShape(query: CohortQuery): ResultShape {
  return {
    dimensions: (query.stratify ?? []).map(dimensionShape),
    measures: (query.measures ?? [{ count: 'patients' }]).map((m): MeasureShape => {
      if ('histogram' in m) {
        return { type: 'histogram', unit: m.histogram.unit, edges: [...m.histogram.edges] };
      }
      if ('summary' in m) return { type: 'summary', unit: m.summary.unit };
      return { type: 'count' };
    }),
  };
}

/**
 * True when a (schema-valid) node answer has exactly the shape asked for.
 * @example fitsShape(result, resultShape(query)) // false for strata an unstratified query never asked for
 */
export function fitsShape(result: NodeResult, shape: ResultShape): boolean {
  return strataFit(result.strata, shape.dimensions) && measuresFit(result.measures, shape.measures);
}

function strataFit(strata: NodeResult['strata'], dimensions: readonly DimensionShape[]): boolean {
  if (dimensions.length === 0) return strata.length === 0;
  const seen = new Set<string>();
  for (const { key } of strata) {
    const names = Object.keys(key);
    if (names.length !== dimensions.length) return false;
    const values: string[] = [];
    for (const { name, labels } of dimensions) {
      const value = Object.hasOwn(key, name) ? key[name] : undefined;
      if (typeof value !== 'string' || !labels.has(value)) return false;
      values.push(value);
    }
    const id = JSON.stringify(values);
    if (seen.has(id)) return false;
    seen.add(id);
  }
  return true;
}

function measuresFit(measures: NodeResult['measures'], expected: readonly MeasureShape[]): boolean {
  if (measures.length !== expected.length) return false;
  return measures.every((m, i) => {
    const want = expected[i]!;
    if (m.type !== want.type) return false;
    if (m.type === 'summary' && want.type === 'summary') return m.unit === want.unit;
    if (m.type === 'histogram' && want.type === 'histogram') {
      if (m.unit !== want.unit || m.bins.length !== want.edges.length) return false;
      return m.bins.every((bin, b) => {
        const to = want.edges[b + 1];
        return bin.from === want.edges[b] && (to === undefined ? !('to' in bin) : bin.to === to);
      });
    }
    return true;
  });
}
