// The next step after a result: the data-request draft a data access body
// reads, as a page to print (or save as PDF) and as JSON-LD to download. It
// shows what the gateway's draft holds and nothing more: the HealthDCAT-AP
// datasets of the nodes that answered, the cohort definition (query v1 and
// its hash), the protected counts the researcher was given, and the dates.
import type { MergedCell, StratumKey } from '@tessera/schemas';
import { language, t } from '../i18n/index.ts';
import { formatCell, formatLevel, stratumLabel } from './format.ts';

/** The parts of the gateway's JSON-LD draft the page shows. */
interface Draft {
  readonly 'dct:title'?: string;
  readonly 'dct:created'?: { '@value': string };
  readonly 'tessera:answeredAt'?: { '@value': string };
  readonly 'tessera:project'?: string;
  readonly 'tessera:requestedBy'?: string;
  readonly 'tessera:queryHash'?: string;
  readonly 'tessera:missingNodes'?: readonly string[];
  readonly 'dct:requires'?: readonly {
    '@id': string;
    'dct:identifier': string;
    'dct:hasVersion'?: string;
  }[];
  readonly cohortDefinition?: unknown;
  readonly protectedCounts?: {
    readonly confidence?: number;
    readonly merged?: {
      readonly total: MergedCell;
      readonly strata: readonly { key: StratumKey; cell: MergedCell }[];
    };
    readonly nodes?: readonly { node: string; total: MergedCell; disclosure?: string }[];
  };
}

function dateOf(value: { '@value': string } | undefined): string {
  return value
    ? new Date(value['@value']).toLocaleString(language(), {
        dateStyle: 'long',
        timeStyle: 'short',
      })
    : '–';
}

export function AccessRequest(props: {
  draft: Record<string, unknown>;
  onDownload: () => void;
  onBack: () => void;
}) {
  const draft = props.draft as Draft;
  const locale = language();
  const counts = draft.protectedCounts;
  const missing = draft['tessera:missingNodes'] ?? [];
  return (
    <article id="access-request" class="card access-request" aria-labelledby="access-request-h">
      <div class="row no-print">
        <button type="button" id="access-back" onClick={props.onBack}>
          {t('request.back')}
        </button>
        <button type="button" id="access-print" class="primary" onClick={() => window.print()}>
          {t('request.print')}
        </button>
        <button type="button" id="access-jsonld" onClick={props.onDownload}>
          {t('request.downloadJsonLd')}
        </button>
      </div>
      <h2 id="access-request-h">{t('request.title')}</h2>
      <p class="request-title">{draft['dct:title']}</p>
      <dl class="coverage request-facts">
        <dt>{t('request.created')}</dt>
        <dd id="request-created">{dateOf(draft['dct:created'])}</dd>
        <dt>{t('request.answeredAt')}</dt>
        <dd>{dateOf(draft['tessera:answeredAt'])}</dd>
        <dt>{t('app.project')}</dt>
        <dd>{draft['tessera:project']}</dd>
        <dt>{t('request.requestedBy')}</dt>
        <dd>{draft['tessera:requestedBy']}</dd>
      </dl>

      <section aria-labelledby="request-datasets-h">
        <h3 id="request-datasets-h">{t('request.datasets')}</h3>
        <ul id="request-datasets">
          {(draft['dct:requires'] ?? []).map((d) => (
            <li key={d['@id']} data-node={d['dct:identifier']}>
              <strong>{d['dct:identifier']}</strong> <span class="identifier">{d['@id']}</span>
              {d['dct:hasVersion'] && (
                <span class="hint">
                  {' '}
                  · {t('request.version', { version: d['dct:hasVersion'] })}
                </span>
              )}
            </li>
          ))}
        </ul>
        {missing.length > 0 && (
          <p class="hint">{t('request.missing', { nodes: missing.join(', ') })}</p>
        )}
      </section>

      <section aria-labelledby="request-cohort-h">
        <h3 id="request-cohort-h">{t('request.cohort')}</h3>
        <p>
          {t('request.hash')} <code id="request-hash">{draft['tessera:queryHash']}</code>
        </p>
        <pre id="request-query" class="query-text">
          {JSON.stringify(draft.cohortDefinition, null, 2)}
        </pre>
      </section>

      <section aria-labelledby="request-counts-h">
        <h3 id="request-counts-h">{t('request.counts')}</h3>
        {counts?.confidence !== undefined && (
          <p class="hint">
            {t('results.level', { level: formatLevel(counts.confidence, locale) })}
          </p>
        )}
        <div
          class="table-scroll"
          tabIndex={0}
          role="region"
          aria-labelledby="request-counts-caption"
        >
          <table id="request-counts">
            <caption id="request-counts-caption">{t('request.countsCaption')}</caption>
            <tbody>
              {counts?.merged && (
                <tr class="total">
                  <th scope="row">{t('results.merged')}</th>
                  <td class="num merged">{formatCell(counts.merged.total, locale)}</td>
                </tr>
              )}
              {(counts?.merged?.strata ?? []).map((s) => (
                <tr key={stratumLabel(s.key)}>
                  <th scope="row">{stratumLabel(s.key)}</th>
                  <td class="num">{formatCell(s.cell, locale)}</td>
                </tr>
              ))}
              {(counts?.nodes ?? []).map((n) => (
                <tr key={n.node} data-node={n.node}>
                  <th scope="row">{n.node}</th>
                  <td class="num">{formatCell(n.total, locale)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p class="hint">{t('results.readingHint')}</p>
      </section>
    </article>
  );
}
