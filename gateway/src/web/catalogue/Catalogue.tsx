// The federated catalogue: every node with its description, coverage, data
// version and access rights, and a search by code or words over today's
// catalogue API (codes held by at least a node's threshold of patients,
// with rounded patient counts).
import type { CatalogueEntry } from '@tessera/schemas';
import { useState } from 'preact/hooks';
import { ProblemAnswer } from '../api/client.ts';
import { language, t } from '../i18n/index.ts';
import { formatCount } from '../results/format.ts';

async function search(code: string, q: string): Promise<CatalogueEntry[]> {
  const params = new URLSearchParams();
  if (code !== '') params.set('code', code);
  if (q !== '') params.set('q', q);
  const res = await fetch(`/v1/catalogue?${params}`);
  if (!res.ok)
    throw new ProblemAnswer({
      code: `HTTP_${res.status}`,
      title: res.statusText,
      status: res.status,
    });
  return ((await res.json()) as { entries: CatalogueEntry[] }).entries;
}

function matchingCodes(
  entry: CatalogueEntry,
  code: string,
  q: string,
): NonNullable<CatalogueEntry['codes']> {
  const [system, value] = code.includes('|') ? code.split('|', 2) : [undefined, code];
  const words = q.toLowerCase();
  return (entry.codes ?? []).filter(
    (c) =>
      (code === '' ||
        (c.code === value && (system === undefined || system === '' || c.system === system))) &&
      (q === '' || `${c.code} ${c.display ?? ''}`.toLowerCase().includes(words)),
  );
}

function Coverage(props: { entry: CatalogueEntry }) {
  const { entry } = props;
  const locale = language();
  return (
    <dl class="coverage">
      <dt>{t('catalogue.people')}</dt>
      <dd>{formatCount(entry.numberOfUniqueIndividuals, locale)}</dd>
      {entry.temporalCoverage && (
        <>
          <dt>{t('catalogue.timeSpan')}</dt>
          <dd>
            {entry.temporalCoverage.start ?? '…'} – {entry.temporalCoverage.end ?? '…'}
          </dd>
        </>
      )}
      {(entry.minTypicalAge !== undefined || entry.maxTypicalAge !== undefined) && (
        <>
          <dt>{t('catalogue.ages')}</dt>
          <dd>
            {entry.minTypicalAge ?? '…'}–{entry.maxTypicalAge ?? '…'}
          </dd>
        </>
      )}
      <dt>{t('catalogue.systems')}</dt>
      <dd>{entry.hasCodingSystem.join(', ') || '–'}</dd>
      <dt>{t('catalogue.dataVersion')}</dt>
      <dd>{entry.dataVersion}</dd>
      <dt>{t('catalogue.access')}</dt>
      <dd>{t(`access.${entry.accessRights}`)}</dd>
    </dl>
  );
}

export function Catalogue(props: { entries: readonly CatalogueEntry[] }) {
  const [code, setCode] = useState('');
  const [q, setQ] = useState('');
  const [found, setFound] = useState<
    { entries: CatalogueEntry[]; code: string; q: string } | undefined
  >();
  const [error, setError] = useState<string | undefined>();
  const locale = language();
  const shown = found?.entries ?? props.entries;
  return (
    <section aria-labelledby="catalogue-h" id="catalogue" class="catalogue">
      <h2 id="catalogue-h">{t('catalogue.title')}</h2>
      <form
        id="catalogue-form"
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          search(code.trim(), q.trim())
            .then((entries) => setFound({ entries, code: code.trim(), q: q.trim() }))
            .catch(() => setError(t('catalogue.failed')));
        }}
      >
        <div class="field">
          <label>
            <span>{t('catalogue.code')}</span>
            <input
              id="cat-code"
              value={code}
              placeholder="http://hl7.org/fhir/sid/icd-10|E11"
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </label>
        </div>
        <div class="field">
          <label>
            <span>{t('catalogue.words')}</span>
            <input id="cat-q" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
          </label>
        </div>
        <button type="submit">{t('catalogue.search')}</button>
      </form>
      <p role="status" class={error ? 'bad' : 'hint'}>
        {error ??
          (found
            ? found.entries.length === 0
              ? t('catalogue.nothing')
              : t('catalogue.found', { count: found.entries.length })
            : '')}
      </p>
      <div class="cards">
        {shown.map((entry) => {
          const codes =
            found && (found.code !== '' || found.q !== '')
              ? matchingCodes(entry, found.code, found.q)
              : [];
          return (
            <article class="card node-card" key={entry.node} data-node={entry.node}>
              <h3>{entry.title}</h3>
              <p>{entry.description}</p>
              <p class="hint">
                {entry.node} · {entry.spatial} · {entry.publisher.name}
              </p>
              <Coverage entry={entry} />
              {codes.length > 0 && (
                <div
                  class="table-scroll"
                  tabIndex={0}
                  role="region"
                  aria-label={t('catalogue.codesHeld', { node: entry.node })}
                >
                  <table class="codes-table">
                    <caption>{t('catalogue.codesHeld', { node: entry.node })}</caption>
                    <thead>
                      <tr>
                        <th scope="col">{t('catalogue.code')}</th>
                        <th scope="col">{t('catalogue.display')}</th>
                        <th scope="col">{t('catalogue.kind')}</th>
                        <th scope="col">{t('catalogue.patients')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {codes.slice(0, 50).map((c) => (
                        <tr key={`${c.system}|${c.code}|${c.kind}`}>
                          <td>{c.code}</td>
                          <td>{c.display ?? ''}</td>
                          <td>{t(`kind.${c.kind}`)}</td>
                          <td class="num">{formatCount(c.patients, locale)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </article>
          );
        })}
      </div>
    </section>
  );
}
