// The researcher's own queries: the history of what she asked (label,
// status, date), each to edit in the builder or run again; and the queries
// saved under a name, shared with the members of their project by a link
// that carries only the saved query's id, never a figure.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Api, type PastQuery, type SavedQuery, SessionEnded } from '../api/client.ts';
import { language, t } from '../i18n/index.ts';

/** Where a query goes when the researcher picks one: into the builder, and run or not. */
export type LoadQuery = (query: unknown, project: string, run: boolean) => void;

function dateOf(iso: string): string {
  return new Date(iso).toLocaleString(language(), { dateStyle: 'medium', timeStyle: 'short' });
}

/** The query's label, or what it asks in a few words when it has none. */
function titleOf(past: { label?: string; query: unknown }): string {
  if (past.label !== undefined && past.label !== '') return past.label;
  const text = JSON.stringify((past.query as { cohort?: unknown } | null)?.cohort ?? past.query);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function useList<T>(load: () => Promise<T[]>, refresh: number): [T[] | undefined, boolean] {
  const [list, setList] = useState<T[] | undefined>();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    load().then(
      (items) => live && (setList(items), setFailed(false)),
      (err: unknown) => live && !(err instanceof SessionEnded) && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [refresh]);
  return [list, failed];
}

/**
 * A list as it loads: why it could not be read, that it is empty, or its
 * table (scrolling inside its card) with a caption and column headings.
 */
function ListTable<T>(props: {
  id: string;
  list: readonly T[] | undefined;
  failed: boolean;
  failedText: string;
  emptyText: string;
  caption: string;
  headings: readonly string[];
  row: (item: T) => ComponentChildren;
}) {
  const { list, id } = props;
  return (
    <>
      {props.failed && (
        <p class="bad" role="alert">
          {props.failedText}
        </p>
      )}
      {list !== undefined && list.length === 0 && <p class="hint">{props.emptyText}</p>}
      {list !== undefined && list.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby={`${id}-caption`}>
          <table id={`${id}-table`}>
            <caption id={`${id}-caption`}>{props.caption}</caption>
            <thead>
              <tr>
                {props.headings.map((h) => (
                  <th scope="col" key={h}>
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>{list.map(props.row)}</tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function History(props: { api: Api; refresh: number; onLoad: LoadQuery }) {
  const { api, onLoad } = props;
  const [again, setAgain] = useState(0);
  const [list, failed] = useList(() => api.history(), props.refresh + again);
  return (
    <section aria-labelledby="history-h" id="history" class="card">
      <div class="row spread">
        <h2 id="history-h">{t('history.title')}</h2>
        <button type="button" id="history-refresh" onClick={() => setAgain((n) => n + 1)}>
          {t('history.refresh')}
        </button>
      </div>
      <ListTable
        id="history"
        list={list}
        failed={failed}
        failedText={t('history.failed')}
        emptyText={t('history.empty')}
        caption={t('history.caption')}
        headings={[
          t('history.query'),
          t('app.project'),
          t('history.status'),
          t('history.date'),
          t('history.actions'),
        ]}
        row={(past: PastQuery) => (
          <tr key={past.id} data-job={past.id} data-status={past.status}>
            <th scope="row" class="query-title">
              {titleOf(past)}
            </th>
            <td>{past.project}</td>
            <td>{t(`job.${past.status}`)}</td>
            <td>{dateOf(past.createdAt)}</td>
            <td class="actions">
              <button
                type="button"
                data-action="edit"
                aria-label={t('history.editWhat', { query: titleOf(past) })}
                onClick={() => onLoad(past.query, past.project, false)}
              >
                {t('history.edit')}
              </button>
              <button
                type="button"
                data-action="rerun"
                aria-label={t('history.rerunWhat', { query: titleOf(past) })}
                onClick={() => onLoad(past.query, past.project, true)}
              >
                {t('history.rerun')}
              </button>
            </td>
          </tr>
        )}
      />
    </section>
  );
}

export function SavedQueries(props: {
  api: Api;
  query: unknown;
  project: string;
  canSave: boolean;
  onLoad: LoadQuery;
  onError: (err: unknown) => string;
}) {
  const { api, onLoad } = props;
  const [name, setName] = useState('');
  const [refresh, setRefresh] = useState(0);
  const [list, failed] = useList(() => api.savedQueries(), refresh);
  const [saved, setSaved] = useState<SavedQuery | undefined>();
  const [deleted, setDeleted] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const remove = (s: SavedQuery): void => {
    setError(undefined);
    setDeleted(undefined);
    api.deleteSaved(s.id).then(
      () => {
        setDeleted(s.name);
        if (saved?.id === s.id) setSaved(undefined);
        setRefresh((n) => n + 1);
      },
      (err: unknown) => setError(props.onError(err)),
    );
  };
  return (
    <section aria-labelledby="saved-h" id="saved" class="card">
      <h2 id="saved-h">{t('saved.title')}</h2>
      <form
        id="save-form"
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          setSaved(undefined);
          api.save(name.trim(), props.query).then(
            (record) => {
              setSaved(record);
              setName('');
              setRefresh((n) => n + 1);
            },
            (err: unknown) => setError(props.onError(err)),
          );
        }}
      >
        <div class="field">
          <label>
            <span>{t('saved.name')}</span>
            <input
              id="save-name"
              value={name}
              maxLength={200}
              required
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
        </div>
        <button type="submit" id="save" disabled={!props.canSave || name.trim() === ''}>
          {t('saved.save')}
        </button>
      </form>
      <p class="hint">{t('saved.hint', { project: props.project })}</p>
      {error && (
        <p class="bad" role="alert" id="save-error">
          {error}
        </p>
      )}
      {deleted !== undefined && (
        <p role="status" id="saved-deleted">
          {t('saved.deleted', { name: deleted })}
        </p>
      )}
      {saved && (
        <p role="status" id="save-done">
          {t('saved.done', { name: saved.name, project: saved.project })}{' '}
          <a href={saved.links.share} class="share-link">
            {saved.links.share}
          </a>
        </p>
      )}
      <ListTable
        id="saved"
        list={list}
        failed={failed}
        failedText={t('saved.failed')}
        emptyText={t('saved.empty')}
        caption={t('saved.caption')}
        headings={[
          t('saved.name'),
          t('app.project'),
          t('history.date'),
          t('saved.link'),
          t('history.actions'),
        ]}
        row={(s: SavedQuery) => (
          <tr key={s.id} data-saved={s.id}>
            <th scope="row">{s.name}</th>
            <td>{s.project}</td>
            <td>{dateOf(s.createdAt)}</td>
            <td>
              <a href={s.links.share} class="share-link">
                {t('saved.linkText', { name: s.name })}
              </a>
            </td>
            <td class="actions">
              <button
                type="button"
                data-action="open"
                aria-label={t('saved.openWhat', { name: s.name })}
                onClick={() => onLoad(s.query, s.project, false)}
              >
                {t('saved.open')}
              </button>
              <button
                type="button"
                data-action="delete"
                aria-label={t('saved.deleteWhat', { name: s.name })}
                onClick={() => remove(s)}
              >
                {t('saved.delete')}
              </button>
            </td>
          </tr>
        )}
      />
    </section>
  );
}
