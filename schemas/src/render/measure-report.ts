// Results as a FHIR R4 MeasureReport (summary): one group per measure, one
// stratifier over the query's dimensions (components when cross-tabulated).
// A cell without a count (suppressed, or merged from a suppressed or missing
// part) carries no count, only an extension with its range, so a FHIR client
// can never mistake a range for a figure. A cell's interval is a second
// range extension; its level is the report's confidence extension.
import type { Cell, MeasureResult, NodeResult } from '../generated/node-result.ts';
import type { MergedCell, MergedMeasure, MergedResult } from '../generated/merged-result.ts';

export const EXT_RANGE = 'https://tessera.eu/fhir/StructureDefinition/count-range';
export const EXT_PERTURBED = 'https://tessera.eu/fhir/StructureDefinition/perturbed';
export const EXT_SUPPRESSED = 'https://tessera.eu/fhir/StructureDefinition/suppressed';
export const EXT_INTERVAL = 'https://tessera.eu/fhir/StructureDefinition/count-interval';
export const EXT_CONFIDENCE = 'https://tessera.eu/fhir/StructureDefinition/interval-confidence';
const POPULATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/measure-population';

type AnyCell = Cell | MergedCell;
type AnyMeasure = MeasureResult | MergedMeasure;
type Json = Record<string, unknown>;

function population(cell: AnyCell, withInterval: boolean, code = 'initial-population'): Json {
  const extension: Json[] = [];
  if ('range' in cell && cell.range) {
    extension.push({
      url: EXT_RANGE,
      valueRange: { low: { value: cell.range[0] }, high: { value: cell.range[1] } },
    });
  }
  if (withInterval && cell.interval) {
    extension.push({
      url: EXT_INTERVAL,
      valueRange: { low: { value: cell.interval[0] }, high: { value: cell.interval[1] } },
    });
  }
  if ('perturbed' in cell && cell.perturbed)
    extension.push({ url: EXT_PERTURBED, valueBoolean: true });
  if ('suppressed' in cell && cell.suppressed) {
    extension.push({ url: EXT_SUPPRESSED, valueBoolean: true });
  }
  return {
    code: { coding: [{ system: POPULATION_SYSTEM, code }] },
    ...('count' in cell && cell.count !== undefined && !('suppressed' in cell && cell.suppressed)
      ? { count: cell.count }
      : {}),
    ...(extension.length > 0 ? { extension } : {}),
  };
}

interface Table {
  /** Whether cells' intervals are given: only at a stated level. */
  readonly withInterval: boolean;
  readonly total: AnyCell;
  readonly strata: readonly {
    readonly key: Record<string, string | undefined>;
    readonly cell: AnyCell;
  }[];
  readonly measures: readonly AnyMeasure[];
}

function stratifier(strata: Table['strata'], withInterval: boolean): Json[] {
  const first = strata[0];
  if (!first) return [];
  const dims = Object.keys(first.key);
  return [
    {
      code: dims.map((d) => ({ text: d })),
      stratum: strata.map((s) => ({
        ...(dims.length === 1
          ? { value: { text: s.key[dims[0]!] } }
          : { component: dims.map((d) => ({ code: { text: d }, value: { text: s.key[d] } })) }),
        population: [population(s.cell, withInterval)],
      })),
    },
  ];
}

function group(measure: AnyMeasure, table: Table): Json {
  switch (measure.type) {
    case 'count':
      return {
        code: { text: 'count of patients' },
        population: [population(table.total, table.withInterval)],
        stratifier: stratifier(table.strata, table.withInterval),
      };
    case 'histogram':
      return {
        code: { text: `histogram (${measure.unit})` },
        population: [population(table.total, table.withInterval)],
        stratifier: [
          {
            code: [{ text: 'bin' }],
            stratum: [
              ...measure.bins.map((bin) => ({
                value: {
                  text: bin.to === undefined ? `[${bin.from},)` : `[${bin.from},${bin.to})`,
                },
                population: [population(bin.cell, table.withInterval, 'measure-population')],
              })),
              {
                value: { text: 'missing' },
                population: [population(measure.missing, table.withInterval, 'measure-population')],
              },
            ],
          },
        ],
      };
    case 'summary':
      return {
        code: { text: `summary (${measure.unit})` },
        population: [population(measure.n, table.withInterval, 'measure-population')],
        ...(measure.mean === undefined
          ? {}
          : {
              measureScore: {
                value: measure.mean,
                unit: measure.unit,
                system: 'http://unitsofmeasure.org',
                code: measure.unit,
              },
            }),
        ...(measure.sd === undefined
          ? {}
          : {
              extension: [
                {
                  url: 'https://tessera.eu/fhir/StructureDefinition/standard-deviation',
                  valueDecimal: measure.sd,
                },
              ],
            }),
      };
  }
}

/**
 * A node's or the gateway's result as a FHIR R4 MeasureReport.
 * @example toMeasureReport(result, { date: result.evaluatedAt, reporter: 'lombardia' }).resourceType // 'MeasureReport'
 */
export function toMeasureReport(
  result: NodeResult | MergedResult,
  options: {
    readonly date: string;
    readonly reporter?: string;
    readonly asOf?: string | undefined;
  },
): Json {
  const confidence = 'nodes' in result ? result.confidence : result.disclosure.confidence;
  const table = { ...(result as unknown as Table), withInterval: confidence !== undefined };
  const measures = table.measures.length > 0 ? table.measures : [{ type: 'count' as const }];
  return {
    resourceType: 'MeasureReport',
    status: 'complete' in result && !result.complete ? 'pending' : 'complete',
    type: 'summary',
    measure: `urn:tessera:query:${result.queryHash}`,
    date: options.date,
    period: {
      start: options.asOf ?? options.date.slice(0, 10),
      end: options.asOf ?? options.date.slice(0, 10),
    },
    ...(options.reporter ? { reporter: { display: options.reporter } } : {}),
    ...(confidence === undefined
      ? {}
      : { extension: [{ url: EXT_CONFIDENCE, valueDecimal: confidence }] }),
    group: measures.map((m) => group(m, table)),
  };
}
