// A query's answer as it arrives and when it is done: each node's progress,
// a banner when nodes are missing (and why), the merged and per-node table
// with a chart, histograms and summaries, the disclosure each node applied
// in words, the budget, and the exports.
import type {
  Disclosure,
  MergedMeasure,
  MergedResult,
  NodeOutcome,
  NodeResult,
} from '@tessera/schemas';
import { atPointer } from '../builder/model.ts';
import { language, t } from '../i18n/index.ts';
import { type Bars, BarChart } from './Chart.tsx';
import {
  type AnyCell,
  binLabel,
  budgetRows,
  chartRange,
  chartValue,
  formatCell,
  formatCount,
  formatLevel,
  formatStat,
  keyId,
  stratumLabel,
} from './format.ts';

export interface RunState {
  readonly id: string | undefined;
  /** Nodes asked, in order; their outcome when it has come. */
  readonly nodes: readonly string[];
  readonly outcomes: ReadonlyMap<string, NodeOutcome>;
  readonly result: MergedResult | undefined;
  /** A failure of the job or of following it, in words. */
  readonly error: string | undefined;
  readonly finished: boolean;
  /** The query as it was sent: the warnings point into it. */
  readonly query?: unknown;
}

type NodeMeasure = NodeResult['measures'][number];

function Cell(props: { cell: AnyCell | undefined; merged?: boolean }) {
  const locale = language();
  const cell = props.cell;
  const title =
    cell === undefined
      ? t('results.notReported')
      : [
          cell.range
            ? t('results.guaranteed', {
                lo: formatCount(cell.range[0], locale),
                hi: formatCount(cell.range[1], locale),
              })
            : '',
          'suppressed' in cell && cell.suppressed ? t('results.noCount') : '',
        ]
          .filter((s) => s !== '')
          .join('; ');
  return (
    <td class={props.merged ? 'num merged' : 'num'} title={title}>
      {formatCell(cell, locale)}
    </td>
  );
}

function outcomeWords(outcome: NodeOutcome): string {
  const why = outcome.code ? t(`errors.${outcome.code}`, { defaultValue: outcome.code }) : '';
  return `${t(`status.${outcome.status}`)}${why ? ` (${why})` : ''}`;
}

function Progress(props: { run: RunState }) {
  const { run } = props;
  const locale = language();
  return (
    <ul id="node-progress" class="progress" aria-live="polite">
      {run.nodes.map((node) => {
        const outcome = run.outcomes.get(node);
        const state =
          outcome === undefined
            ? run.finished
              ? 'missing'
              : 'waiting'
            : outcome.status === 'ok'
              ? 'ok'
              : 'bad';
        return (
          <li key={node} class={state} data-node={node} data-status={outcome?.status ?? 'waiting'}>
            <strong>{node}</strong>{' '}
            {outcome === undefined
              ? run.finished
                ? t('status.noAnswer')
                : t('status.waiting')
              : outcomeWords(outcome)}
            {outcome?.elapsedMs !== undefined && ` · ${formatCount(outcome.elapsedMs, locale)} ms`}
          </li>
        );
      })}
    </ul>
  );
}

function IncompleteBanner(props: { result: MergedResult }) {
  const missing = props.result.nodes.filter((n) => n.status !== 'ok');
  return (
    <div id="incomplete" class="banner warn" role="alert">
      <strong>{t('results.incomplete')}</strong>
      <ul>
        {missing.map((n) => (
          <li key={n.node} data-node={n.node}>
            {n.node}: {outcomeWords(n)}
          </li>
        ))}
      </ul>
      <p>{t('results.incompleteHint')}</p>
    </div>
  );
}

function disclosureWords(d: Disclosure): string {
  const locale = language();
  const parts = [t('disclosure.threshold', { threshold: formatCount(d.threshold, locale) })];
  if (d.mechanism === 'laplace') {
    parts.push(
      t('disclosure.laplace', {
        maxNoise: formatCount(d.maxNoise, locale),
        epsilon: d.epsilon === undefined ? '–' : formatStat(d.epsilon, locale),
      }),
    );
  } else if (d.mechanism === 'cell-key') {
    parts.push(t('disclosure.cellKey', { maxNoise: formatCount(d.maxNoise, locale) }));
  } else {
    parts.push(t('disclosure.none'));
  }
  if (d.rounding > 1)
    parts.push(t('disclosure.rounding', { rounding: formatCount(d.rounding, locale) }));
  if (d.confidence !== undefined)
    parts.push(t('disclosure.confidence', { level: formatLevel(d.confidence, locale) }));
  if (d.secondarySuppression) parts.push(t('disclosure.secondary'));
  return parts.join(' ');
}

function Disclosures(props: { ok: readonly NodeOutcome[] }) {
  return (
    <section class="card" aria-labelledby="disclosure-h" id="disclosure">
      <h3 id="disclosure-h">{t('results.disclosure')}</h3>
      <ul>
        {props.ok.map((n) => (
          <li key={n.node}>
            <strong>{n.node}</strong>: {n.result ? disclosureWords(n.result.disclosure) : ''}
          </li>
        ))}
      </ul>
      <p class="hint">{t('disclosure.strataNeedNotAdd')}</p>
    </section>
  );
}

function CountTable(props: { result: MergedResult; ok: readonly NodeOutcome[] }) {
  const { result, ok } = props;
  const dims = Object.keys(result.strata[0]?.key ?? {});
  const locale = language();
  const nodeCells = (pick: (r: NodeResult) => AnyCell | undefined) =>
    ok.map((n) => <Cell key={n.node} cell={n.result ? pick(n.result) : undefined} />);
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="result-table-caption">
      <table id="result-table">
        <caption id="result-table-caption">
          {t('results.countCaption')}
          {result.confidence !== undefined &&
            ` ${t('results.level', { level: formatLevel(result.confidence, locale) })}`}
        </caption>
        <thead>
          <tr>
            {(dims.length > 0 ? dims : ['']).map((d) => (
              <th scope="col" key={d}>
                {d === '' ? '' : t(`dimension.${d}`, { defaultValue: d })}
              </th>
            ))}
            <th scope="col">{t('results.merged')}</th>
            {ok.map((n) => (
              <th scope="col" key={n.node}>
                {n.node}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr class="total">
            <th scope="row" colSpan={Math.max(1, dims.length)}>
              {t('results.total')}
            </th>
            <Cell cell={result.total} merged />
            {nodeCells((r) => r.total)}
          </tr>
          {result.strata.map((s) => {
            const id = keyId(s.key);
            return (
              <tr key={id}>
                {dims.map((d) => (
                  <td key={d}>{String((s.key as Record<string, string>)[d] ?? '')}</td>
                ))}
                <Cell cell={s.cell} merged />
                {nodeCells((r) => r.strata.find((own) => keyId(own.key) === id)?.cell)}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function nodeMeasure(n: NodeOutcome, index: number): NodeMeasure | undefined {
  return n.result?.measures[index];
}

function HistogramView(props: {
  measure: Extract<MergedMeasure, { type: 'histogram' }>;
  index: number;
  ok: readonly NodeOutcome[];
}) {
  const { measure, index, ok } = props;
  const locale = language();
  const labels = measure.bins.map((b) => binLabel(b, locale));
  const bars: Bars = {
    labels,
    series: [
      { label: t('results.merged'), values: measure.bins.map((b) => chartValue(b.cell)) },
      {
        label: t('results.rangeOnly'),
        values: measure.bins.map((b) => chartRange(b.cell)),
        faint: true,
      },
    ],
  };
  const nodeBins = (n: NodeOutcome) => {
    const m = nodeMeasure(n, index);
    return m?.type === 'histogram' ? m : undefined;
  };
  return (
    <section class="card histogram" aria-labelledby={`histogram-${index}-h`} data-measure={index}>
      <h3 id={`histogram-${index}-h`}>{t('results.histogram', { unit: measure.unit })}</h3>
      <BarChart
        bars={bars}
        id={`histogram-${index}-chart`}
        title={t('results.histogramChart', { unit: measure.unit })}
        yLabel={t('results.patients')}
      />
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby={`histogram-${index}-h`}>
        <table class="histogram-table">
          <thead>
            <tr>
              <th scope="col">{t('results.bin', { unit: measure.unit })}</th>
              <th scope="col">{t('results.merged')}</th>
              {ok.map((n) => (
                <th scope="col" key={n.node}>
                  {n.node}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {measure.bins.map((b, i) => (
              <tr key={labels[i]}>
                <th scope="row">{labels[i]}</th>
                <Cell cell={b.cell} merged />
                {ok.map((n) => (
                  <Cell key={n.node} cell={nodeBins(n)?.bins[i]?.cell} />
                ))}
              </tr>
            ))}
            <tr>
              <th scope="row">{t('results.missingValue')}</th>
              <Cell cell={measure.missing} merged />
              {ok.map((n) => (
                <Cell key={n.node} cell={nodeBins(n)?.missing} />
              ))}
            </tr>
          </tbody>
        </table>
      </div>
    </section>
  );
}

function SummaryView(props: {
  measure: Extract<MergedMeasure, { type: 'summary' }>;
  index: number;
  ok: readonly NodeOutcome[];
}) {
  const { measure, index, ok } = props;
  const locale = language();
  const stat = (x: number | undefined): string =>
    x === undefined ? t('results.withheld') : formatStat(x, locale);
  return (
    <section class="card summary" aria-labelledby={`summary-${index}-h`} data-measure={index}>
      <h3 id={`summary-${index}-h`}>{t('results.summary', { unit: measure.unit })}</h3>
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby={`summary-${index}-h`}>
        <table class="summary-table">
          <thead>
            <tr>
              <th scope="col"></th>
              <th scope="col">n</th>
              <th scope="col">{t('results.mean')}</th>
              <th scope="col">{t('results.sd')}</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">{t('results.merged')}</th>
              <Cell cell={measure.n} merged />
              <td class="num">{stat(measure.mean)}</td>
              <td class="num">{stat(measure.sd)}</td>
            </tr>
            {ok.map((n) => {
              const m = nodeMeasure(n, index);
              const own = m?.type === 'summary' ? m : undefined;
              return (
                <tr key={n.node}>
                  <th scope="row">{n.node}</th>
                  <Cell cell={own?.n} />
                  <td class="num">{stat(own?.mean)}</td>
                  <td class="num">{stat(own?.sd)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {measure.pooledFrom !== undefined && (
        <p class="hint">{t('results.pooledFrom', { nodes: measure.pooledFrom.join(', ') })}</p>
      )}
    </section>
  );
}

function Budget(props: { result: MergedResult }) {
  const rows = budgetRows(props.result, language());
  if (rows.length === 0) return null;
  return (
    <section class="card" aria-labelledby="budget-h">
      <h3 id="budget-h">{t('budget.title')}</h3>
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="budget-h">
        <table id="budget-table">
          <thead>
            <tr>
              <th scope="col">{t('budget.node')}</th>
              <th scope="col">{t('budget.cost')}</th>
              <th scope="col">{t('budget.project')}</th>
              <th scope="col">{t('budget.you')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.node}>
                <th scope="row">{r.node}</th>
                <td class="num">{r.cost}</td>
                <td class="num">
                  {t('budget.left', {
                    left: r.project[0],
                    limit: r.project[1],
                    days: r.periodDays,
                  })}
                </td>
                <td class="num">
                  {t('budget.left', {
                    left: r.researcher[0],
                    limit: r.researcher[1],
                    days: r.periodDays,
                  })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="hint">{t('budget.hint')}</p>
    </section>
  );
}

/** The answer's warnings (codings no node lists), each with the code it is about. */
function Warnings(props: { result: MergedResult; query: unknown }) {
  const warnings = props.result.warnings ?? [];
  if (warnings.length === 0) return null;
  return (
    <div class="banner warn" id="warnings" role="status">
      <p>{t('warnings.title')}</p>
      <ul>
        {warnings.map((w) => {
          const code = atPointer(props.query, w.pointer);
          return (
            <li key={w.pointer} data-code={w.code} data-pointer={w.pointer}>
              {t(`warnings.${w.code}`, {
                code: typeof code === 'string' ? code : w.pointer,
                defaultValue: w.detail,
              })}{' '}
              <code>{w.pointer}</code>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

export function Results(props: {
  run: RunState;
  onExport: (kind: 'csv' | 'json' | 'fhir') => void;
  onRequestAccess: () => void;
}) {
  const { run } = props;
  const result = run.result;
  const ok = result?.nodes.filter((n) => n.status === 'ok' && n.result) ?? [];
  const dims = Object.keys(result?.strata[0]?.key ?? {});
  const strataBars: Bars | undefined =
    result && result.strata.length > 0
      ? {
          labels: result.strata.map((s) => stratumLabel(s.key)),
          series: [
            { label: t('results.merged'), values: result.strata.map((s) => chartValue(s.cell)) },
            {
              label: t('results.rangeOnly'),
              values: result.strata.map((s) => chartRange(s.cell)),
              faint: true,
            },
          ],
        }
      : undefined;
  return (
    <section aria-labelledby="results-h" id="results" class="results">
      <h2 id="results-h">{t('results.title')}</h2>
      <p id="status" role="status" class={run.error ? 'bad' : ''}>
        {run.error ??
          (result
            ? result.complete
              ? t('results.allAnswered')
              : t('results.someMissing')
            : run.id
              ? t('results.waiting')
              : '')}
      </p>
      {run.nodes.length > 0 && <Progress run={run} />}
      {result && !result.complete && <IncompleteBanner result={result} />}
      {result && <Warnings result={result} query={run.query} />}
      {result && (
        <>
          <section class="card" aria-labelledby="counts-h">
            <h3 id="counts-h">{t('results.counts')}</h3>
            <CountTable result={result} ok={ok} />
            {strataBars && (
              <BarChart
                bars={strataBars}
                id="strata-chart"
                title={t('results.strataChart', {
                  dims: dims.map((d) => t(`dimension.${d}`, { defaultValue: d })).join(', '),
                })}
                yLabel={t('results.patients')}
              />
            )}
            <p class="hint">{t('results.readingHint')}</p>
          </section>
          {result.measures.map((m, i) =>
            m.type === 'histogram' ? (
              <HistogramView key={i} measure={m} index={i} ok={ok} />
            ) : m.type === 'summary' ? (
              <SummaryView key={i} measure={m} index={i} ok={ok} />
            ) : null,
          )}
          {ok.length > 0 && <Disclosures ok={ok} />}
          <Budget result={result} />
          <div class="row exports" id="downloads">
            <button type="button" id="csv" onClick={() => props.onExport('csv')}>
              {t('results.exportCsv')}
            </button>
            <button type="button" id="json" onClick={() => props.onExport('json')}>
              {t('results.exportJson')}
            </button>
            <button type="button" id="fhir" onClick={() => props.onExport('fhir')}>
              {t('results.exportFhir')}
            </button>
            <button type="button" id="request-access" onClick={props.onRequestAccess}>
              {t('request.open')}
            </button>
          </div>
        </>
      )}
    </section>
  );
}
