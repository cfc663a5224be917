// The researcher's page: sign in, build a query (builder and JSON side by
// side), run it, follow each node and read the answer; the catalogue below.
// The query draft, never a token, is kept in sessionStorage so that a
// session that ends mid-build comes back to the same query after sign-in.
import type { CatalogueEntry, NodeOutcome } from '@tessera/schemas';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api, ProblemAnswer, SessionEnded, fetchCatalogue } from './api/client.ts';
import type { Session, SessionState } from './auth/session.ts';
import { Builder } from './builder/Builder.tsx';
import type { Bound } from './builder/fields.tsx';
import { type Json, type Path, setAt, unheldCodings } from './builder/model.ts';
import { Catalogue } from './catalogue/Catalogue.tsx';
import { LANGUAGES, type Language, language, switchLanguage, t } from './i18n/index.ts';
import { History, type LoadQuery, SavedQueries } from './queries/QueryLists.tsx';
import { AccessRequest } from './results/AccessRequest.tsx';
import { Attrition } from './results/Attrition.tsx';
import { type RunState, Results } from './results/Results.tsx';

const DRAFT_KEY = 'tessera.draft';
/** A shared saved query's id, from a `/?saved=<id>` link, kept through sign-in. */
export const OPEN_SAVED_KEY = 'tessera.open-saved';
const EMPTY_QUERY: Json = { version: 1, cohort: { all: [] } };
const IDLE_RUN: RunState = {
  id: undefined,
  nodes: [],
  outcomes: new Map(),
  result: undefined,
  error: undefined,
  finished: false,
};

interface Example {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly query: Json;
}

function loadDraft(): Json {
  try {
    const text = sessionStorage.getItem(DRAFT_KEY);
    return text === null ? EMPTY_QUERY : (JSON.parse(text) as Json);
  } catch {
    return EMPTY_QUERY;
  }
}

function problemText(err: unknown): { detail: string; pointer?: string } {
  if (err instanceof ProblemAnswer) {
    const p = err.problem;
    const words = t(`errors.${p.code}`, { defaultValue: p.title });
    return {
      detail: p.detail ? `${words}: ${p.detail}` : words,
      ...(p.pointer === undefined ? {} : { pointer: p.pointer }),
    };
  }
  return { detail: t('app.unexpected') };
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

export function App(props: { session: Session | undefined; signInError: string | undefined }) {
  const { session } = props;
  const [lang, setLang] = useState<Language>(language());
  const api = useMemo(() => (session ? new Api(session) : undefined), [session]);
  const [auth, setAuth] = useState<SessionState>(session?.state ?? { status: 'signed-out' });
  const [doc, setDoc] = useState<Json>(loadDraft);
  const [text, setText] = useState(() => JSON.stringify(loadDraft(), null, 2));
  const [textError, setTextError] = useState<string | undefined>();
  const [check, setCheck] = useState<{ pointer?: string; detail?: string } | undefined>();
  const [catalogue, setCatalogue] = useState<CatalogueEntry[]>([]);
  const [examples, setExamples] = useState<Example[]>([]);
  const [project, setProject] = useState('');
  const [run, setRun] = useState<RunState>(IDLE_RUN);
  const [importText, setImportText] = useState('');
  const [importError, setImportError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [linkError, setLinkError] = useState<string | undefined>();
  const [historyRefresh, setHistoryRefresh] = useState(0);
  const [access, setAccess] = useState<{ id: string; draft: Record<string, unknown> }>();
  const checkSeq = useRef(0);

  useEffect(() => session?.onChange(setAuth), [session]);
  useEffect(() => {
    fetchCatalogue().then(setCatalogue, () => setNotice(t('catalogue.failed')));
    fetch('/examples.json')
      .then((res) => (res.ok ? (res.json() as Promise<Example[]>) : []))
      .then(setExamples, () => undefined);
  }, []);
  const projects = auth.projects ?? [];
  useEffect(() => {
    if (!projects.includes(project)) setProject(projects[0] ?? '');
  }, [projects.join(' ')]);
  if (api) api.project = project;

  // The draft is kept for the tab's life; the builder and the JSON follow one document.
  const change = (next: Json, fromText = false): void => {
    setDoc(next);
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify(next));
    if (!fromText) {
      setText(JSON.stringify(next, null, 2));
      setTextError(undefined);
    }
  };
  const bound: Bound = {
    doc,
    set: (path: Path, value: Json | undefined) => change(setAt(doc, path, value)),
    error: check,
    warnings: useMemo(
      () =>
        new Map(
          unheldCodings(doc, catalogue).map((c) => [
            c.pointer,
            t('builder.unheld', { code: c.code }),
          ]),
        ),
      [doc, catalogue, lang],
    ),
  };

  // The server's own checks, a moment after the last change, before anything is sent.
  useEffect(() => {
    if (api === undefined || auth.status !== 'signed-in') return undefined;
    const seq = ++checkSeq.current;
    const timer = setTimeout(() => {
      api.check({ query: doc }).then(
        () => seq === checkSeq.current && setCheck(undefined),
        (err: unknown) => {
          if (seq !== checkSeq.current) return;
          if (err instanceof SessionEnded) return;
          setCheck(problemText(err));
        },
      );
    }, 400);
    return () => clearTimeout(timer);
  }, [doc, api, auth.status]);

  const failed = (err: unknown): void => {
    if (err instanceof SessionEnded) return; // the session banner says what to do
    setRun((r) => ({ ...r, error: problemText(err).detail, finished: true }));
  };

  const runQuery = async (query: Json = doc, inProject = project): Promise<void> => {
    if (api === undefined) return;
    setRun({ ...IDLE_RUN, nodes: [], query });
    api.project = inProject;
    try {
      const job = await api.submit(query);
      const outcomes = new Map<string, NodeOutcome>();
      setRun({ ...IDLE_RUN, id: job.id, nodes: job.nodes, query });
      const done =
        job.status === 'done' || job.status === 'failed' || job.status === 'cancelled'
          ? job
          : await api.follow(job.id, {
              node: (outcome) => {
                outcomes.set(outcome.node, outcome);
                setRun((r) => ({ ...r, outcomes: new Map(outcomes) }));
              },
            });
      for (const outcome of done.result?.nodes ?? []) outcomes.set(outcome.node, outcome);
      setRun({
        id: job.id,
        nodes: job.nodes,
        outcomes,
        result: done.result,
        error: done.result
          ? undefined
          : t('results.jobFailed', { status: t(`job.${done.status}`), code: done.error ?? '' }),
        finished: true,
        query,
      });
    } catch (err) {
      failed(err);
    } finally {
      setHistoryRefresh((n) => n + 1);
    }
  };

  /** A past or saved query into the builder, in its project; run at once when asked. */
  const loadQuery: LoadQuery = (query, inProject, runIt) => {
    const usable = projects.includes(inProject) ? inProject : project;
    setProject(usable);
    change(query as Json);
    setNotice(runIt ? t('history.rerunning') : t('history.loaded'));
    document.getElementById('query-section')?.scrollIntoView();
    if (runIt) void runQuery(query as Json, usable);
  };

  // A shared link, once signed in: the saved query into the builder, or why not.
  useEffect(() => {
    if (api === undefined || auth.status !== 'signed-in') return;
    const id = sessionStorage.getItem(OPEN_SAVED_KEY);
    if (id === null) return;
    sessionStorage.removeItem(OPEN_SAVED_KEY);
    api.savedQuery(id).then(
      (saved) => {
        setLinkError(undefined);
        setProject(saved.project);
        change(saved.query as Json);
        setNotice(t('saved.opened', { name: saved.name, project: saved.project }));
      },
      (err: unknown) => {
        if (err instanceof SessionEnded) return;
        setLinkError(
          err instanceof ProblemAnswer && err.problem.code === 'ERR_NOT_FOUND'
            ? t('saved.notShared')
            : problemText(err).detail,
        );
      },
    );
  }, [api, auth.status]);

  const requestAccess = (): void => {
    if (api === undefined || run.id === undefined) return;
    const id = run.id;
    api.accessRequest(id).then((draft) => {
      setAccess({ id, draft });
      window.scrollTo(0, 0);
    }, failed);
  };

  const exportAs = (kind: 'csv' | 'json' | 'fhir'): void => {
    if (api === undefined || run.id === undefined) return;
    const id = run.id;
    const accept = { csv: 'text/csv', json: 'application/json', fhir: 'application/fhir+json' }[
      kind
    ];
    const name = {
      csv: `tessera-${id}.csv`,
      json: `tessera-${id}.json`,
      fhir: `tessera-${id}.measure-report.json`,
    }[kind];
    api.export(id, accept).then((blob) => download(blob, name), failed);
  };

  const importDocument = async (): Promise<void> => {
    if (api === undefined) return;
    setImportError(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(importText);
    } catch {
      setImportError(t('builder.notJson'));
      return;
    }
    const isQuery = typeof parsed === 'object' && parsed !== null && 'cohort' in parsed;
    try {
      const { query } = await api.check(isQuery ? { query: parsed } : { ccdl: parsed });
      change(query as unknown as Json);
      setImportText('');
      setNotice(isQuery ? t('builder.importedQuery') : t('builder.importedCcdl'));
    } catch (err) {
      if (!(err instanceof SessionEnded)) setImportError(problemText(err).detail);
    }
  };

  const signedIn = auth.status === 'signed-in';
  return (
    <>
      <a class="skip" href="#main">
        {t('app.skip')}
      </a>
      <header class="top">
        <div class="brand">
          <h1>Tessera</h1>
          <p>{t('app.tagline')}</p>
        </div>
        <div class="account">
          <label>
            <span>{t('app.language')}</span>
            <select
              id="language"
              value={lang}
              onChange={(e) => {
                const next = e.currentTarget.value as Language;
                void switchLanguage(next).then(() => setLang(next));
              }}
            >
              {LANGUAGES.map((l) => (
                <option value={l.code} key={l.code} lang={l.code}>
                  {l.name}
                </option>
              ))}
            </select>
          </label>
          {signedIn && (
            <>
              <label>
                <span>{t('app.project')}</span>
                <select
                  id="project"
                  value={project}
                  onChange={(e) => setProject(e.currentTarget.value)}
                  disabled={projects.length === 0}
                >
                  {projects.length === 0 && <option value="">{t('app.noProject')}</option>}
                  {projects.map((p) => (
                    <option value={p} key={p}>
                      {p}
                    </option>
                  ))}
                </select>
              </label>
              <span id="who" class="who">
                {auth.subject}
              </span>
              <button type="button" id="sign-out" onClick={() => void session?.signOut()}>
                {t('app.signOut')}
              </button>
            </>
          )}
          {!signedIn && session && (
            <button
              type="button"
              id="sign-in"
              class="primary"
              onClick={() => void session.signIn()}
            >
              {auth.status === 'expired' ? t('app.signInAgain') : t('app.signIn')}
            </button>
          )}
        </div>
      </header>
      <main id="main">
        {props.signInError && (
          <div class="banner bad" role="alert">
            {props.signInError}
          </div>
        )}
        {session === undefined && (
          <div class="banner warn" role="alert">
            {t('app.noSignIn')}
          </div>
        )}
        {auth.status === 'expired' && (
          <div class="banner warn" id="session-ended" role="alert">
            {t('app.sessionEnded')}
          </div>
        )}
        {auth.status === 'signed-out' && session && <p class="banner">{t('app.signInFirst')}</p>}
        {signedIn && projects.length === 0 && (
          <div class="banner warn" role="alert" id="no-project">
            {t('app.noProjectHint')}
          </div>
        )}
        {linkError && (
          <div class="banner bad" role="alert" id="saved-link-error">
            {linkError}
          </div>
        )}
        {!signedIn && sessionStorage.getItem(OPEN_SAVED_KEY) !== null && (
          <p class="banner" id="saved-link-pending">
            {t('saved.signInToOpen')}
          </p>
        )}
        {notice && (
          <p class="banner" role="status">
            {notice}
          </p>
        )}

        {access && (
          <AccessRequest
            draft={access.draft}
            onBack={() => {
              setAccess(undefined);
              requestAnimationFrame(() => document.getElementById('results')?.scrollIntoView());
            }}
            onDownload={() =>
              download(
                new Blob([JSON.stringify(access.draft, null, 2)], { type: 'application/ld+json' }),
                `tessera-${access.id}.access-request.jsonld`,
              )
            }
          />
        )}
        <div class={access ? 'hidden' : 'page'}>
          <section aria-labelledby="query-h" id="query-section">
            <h2 id="query-h">{t('builder.title')}</h2>
            <div class="row toolbar">
              <label>
                <span>{t('builder.example')}</span>
                <select
                  id="example"
                  value=""
                  onChange={(e) => {
                    const example = examples.find((x) => x.id === e.currentTarget.value);
                    if (example) change(example.query);
                  }}
                >
                  <option value="">{t('builder.chooseExample')}</option>
                  {examples.map((x) => (
                    <option value={x.id} key={x.id} title={x.description}>
                      {x.title}
                    </option>
                  ))}
                </select>
              </label>
              <button type="button" id="clear-query" onClick={() => change(EMPTY_QUERY)}>
                {t('builder.clear')}
              </button>
            </div>
            <div class="side-by-side">
              <Builder bound={bound} catalogue={catalogue} />
              <div class="json-side">
                <label for="query-json">{t('builder.json')}</label>
                <textarea
                  id="query-json"
                  spellcheck={false}
                  rows={24}
                  value={text}
                  aria-invalid={textError ? 'true' : undefined}
                  aria-describedby={textError ? 'query-json-error' : undefined}
                  onInput={(e) => {
                    const typed = e.currentTarget.value;
                    setText(typed);
                    try {
                      change(JSON.parse(typed) as Json, true);
                      setTextError(undefined);
                    } catch {
                      setTextError(t('builder.notJson'));
                    }
                  }}
                />
                {textError && (
                  <p class="field-error" id="query-json-error">
                    {textError}
                  </p>
                )}
                <details class="import">
                  <summary>{t('builder.import')}</summary>
                  <label for="import-text">{t('builder.importHint')}</label>
                  <textarea
                    id="import-text"
                    rows={8}
                    spellcheck={false}
                    value={importText}
                    onInput={(e) => setImportText(e.currentTarget.value)}
                  />
                  <button
                    type="button"
                    id="import"
                    onClick={() => void importDocument()}
                    disabled={!signedIn}
                  >
                    {t('builder.importButton')}
                  </button>
                  {importError && (
                    <p class="field-error" id="import-error" role="alert">
                      {importError}
                    </p>
                  )}
                </details>
              </div>
            </div>
            <div class="run-bar">
              <p id="check" class={check ? 'bad' : 'hint'} role="status">
                {check
                  ? `${t('builder.invalid')} ${check.detail ?? ''}${check.pointer ? ` (${check.pointer})` : ''}`
                  : signedIn
                    ? t('builder.valid')
                    : ''}
              </p>
              <button
                type="button"
                id="run"
                class="primary"
                disabled={!signedIn || check !== undefined || textError !== undefined}
                onClick={() => void runQuery()}
              >
                {t('builder.run')}
              </button>
            </div>
            {signedIn && api && <Attrition api={api} query={doc} onError={failed} />}
          </section>

          {(run.id !== undefined || run.error !== undefined) && (
            <Results run={run} onExport={exportAs} onRequestAccess={requestAccess} />
          )}

          {signedIn && api && projects.length > 0 && (
            <SavedQueries
              api={api}
              query={doc}
              project={project}
              canSave={textError === undefined}
              onLoad={loadQuery}
              onError={(err) => problemText(err).detail}
            />
          )}
          {signedIn && api && <History api={api} refresh={historyRefresh} onLoad={loadQuery} />}

          <Catalogue entries={catalogue} />
        </div>
      </main>
    </>
  );
}
