// The federated catalogue: every node with its description, coverage, data
// version and access rights, and a search over the codes the nodes hold, by
// the start of a code (E11 finds E11.9) or words of its name ("diabet"),
// accents and case ignored, with each node's band (a rounded count, never an
// exact one) as GET /v1/catalogue/codes gives them.
import type { CatalogueEntry } from '@tessera/schemas';
import { useState } from 'preact/hooks';
import { type CodeSearch, searchCodes } from '../api/client.ts';
import { systemName } from '../builder/model.ts';
import { language, t } from '../i18n/index.ts';
import { formatCount } from '../results/format.ts';

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

function CodeResults(props: { found: CodeSearch }) {
  const locale = language();
  const { found } = props;
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="code-results-caption">
      <table class="codes-table" id="code-results">
        <caption id="code-results-caption">{t('catalogue.codesFound', { q: found.q })}</caption>
        <thead>
          <tr>
            <th scope="col">{t('catalogue.code')}</th>
            <th scope="col">{t('catalogue.display')}</th>
            <th scope="col">{t('catalogue.system')}</th>
            <th scope="col">{t('catalogue.kind')}</th>
            <th scope="col">{t('catalogue.heldAt')}</th>
          </tr>
        </thead>
        <tbody>
          {found.codes.map((c) => (
            <tr key={`${c.kind}|${c.system}|${c.code}`} data-code={c.code}>
              <th scope="row">{c.code}</th>
              <td>{c.display ?? ''}</td>
              <td>{systemName(c.system)}</td>
              <td>{t(`kind.${c.kind}`, { defaultValue: c.kind })}</td>
              <td>
                <ul class="bands">
                  {c.nodes.map((n) => (
                    <li key={n.node} data-node={n.node}>
                      {t('catalogue.band', {
                        node: n.node,
                        patients: formatCount(n.patients, locale),
                      })}
                    </li>
                  ))}
                </ul>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Catalogue(props: { entries: readonly CatalogueEntry[] }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState<CodeSearch | undefined>();
  const [error, setError] = useState<string | undefined>();
  return (
    <section aria-labelledby="catalogue-h" id="catalogue" class="catalogue">
      <h2 id="catalogue-h">{t('catalogue.title')}</h2>
      <form
        id="catalogue-form"
        class="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          const text = q.trim();
          if (text === '') return;
          searchCodes(text, { limit: 50 })
            .then(setFound)
            .catch(() => setError(t('catalogue.failed')));
        }}
      >
        <div class="field">
          <label>
            <span>{t('catalogue.searchLabel')}</span>
            <input
              id="cat-q"
              type="search"
              value={q}
              maxLength={200}
              placeholder={t('catalogue.searchPlaceholder')}
              onInput={(e) => setQ(e.currentTarget.value)}
            />
          </label>
        </div>
        <button type="submit" id="cat-search">
          {t('catalogue.search')}
        </button>
      </form>
      <p role="status" id="cat-status" class={error ? 'bad' : 'hint'}>
        {error ??
          (found
            ? found.codes.length === 0
              ? t('catalogue.nothing', { q: found.q })
              : found.truncated
                ? t('catalogue.foundMore', { count: found.codes.length, q: found.q })
                : t('catalogue.found', { count: found.codes.length, q: found.q })
            : '')}
      </p>
      {found && found.codes.length > 0 && <CodeResults found={found} />}
      <div class="cards">
        {props.entries.map((entry) => (
          <article class="card node-card" key={entry.node} data-node={entry.node}>
            <h3>{entry.title}</h3>
            <p>{entry.description}</p>
            <p class="hint">
              {entry.node} · {entry.spatial} · {entry.publisher.name}
            </p>
            <Coverage entry={entry} />
          </article>
        ))}
      </div>
    </section>
  );
}
