// Saved queries: a researcher keeps a query under a name and shares it, by its
// id, with the members of one of their projects. A saved query is a question
// only: it never holds an answer's figures, so sharing it shares nothing that
// a member of the project could not ask for themselves. Another project's
// researcher cannot tell a saved query from one that does not exist.
import { type CohortQuery, DEFAULT_LIMITS, ProblemError, parseQuery } from '@tessera/schemas';
import type { Researcher } from '../auth/researcher.ts';
import { gatewayProblem } from '../errors.ts';
import type { SavedQueryRecord, Store } from '../store/store.ts';

export type SavedQueryStore = Pick<
  Store,
  'saveQuery' | 'getSavedQuery' | 'listSavedQueries' | 'deleteSavedQuery'
>;

export interface SavedQueryServiceDeps {
  readonly store: SavedQueryStore;
  /** The configured projects, with the strata limit their queries are checked against. */
  readonly projects: Readonly<Record<string, { readonly maxStrata: number } | undefined>>;
  readonly now?: () => Date;
}

export interface SavedQueryService {
  /** Saves `{ name, query, project? }`; the project defaults to the researcher's only one. */
  save(researcher: Researcher, body: unknown, project?: string): Promise<SavedQueryRecord>;
  /** A saved query of one of the researcher's projects; any other is ERR_NOT_FOUND. */
  get(id: string, researcher: Researcher): Promise<SavedQueryRecord>;
  list(researcher: Researcher): Promise<SavedQueryRecord[]>;
  /** Deletes one of the researcher's own saved queries; any other is ERR_NOT_FOUND. */
  remove(id: string, researcher: Researcher): Promise<void>;
}

const MAX_NAME = 200;
const FIELDS = new Set(['name', 'query', 'project']);

function invalid(detail: string, pointer: string): ProblemError {
  return gatewayProblem('ERR_SAVED_QUERY_INVALID', { detail, pointer });
}

function isMember(researcher: Researcher, project: string, deps: SavedQueryServiceDeps): boolean {
  return (
    Object.hasOwn(deps.projects, project) &&
    deps.projects[project] !== undefined &&
    researcher.projects.includes(project)
  );
}

/** @example const saved = createSavedQueryService({ store, projects: config.projects }); */
export function createSavedQueryService(deps: SavedQueryServiceDeps): SavedQueryService {
  const now = deps.now ?? (() => new Date());
  return {
    async save(researcher, body, headerProject) {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw invalid('send an object with a name and a query', '');
      }
      const fields = body as Record<string, unknown>;
      const unknown = Object.keys(fields).find((k) => !FIELDS.has(k));
      if (unknown !== undefined) {
        // Above all no answer: a saved query is a question only.
        throw invalid(`a saved query has a name, a query and a project only`, `/${unknown}`);
      }
      const name = typeof fields.name === 'string' ? fields.name.trim() : '';
      if (name.length === 0 || name.length > MAX_NAME) {
        throw invalid(`a name of 1 to ${MAX_NAME} characters`, '/name');
      }
      const requested =
        typeof fields.project === 'string' ? fields.project : (headerProject ?? undefined);
      const project =
        requested ?? (researcher.projects.length === 1 ? researcher.projects[0] : undefined);
      if (project === undefined) {
        throw gatewayProblem('ERR_PROJECT_REQUIRED', {
          detail: 'name the project to share it with (`project`)',
        });
      }
      if (!isMember(researcher, project, deps)) {
        throw gatewayProblem('ERR_FORBIDDEN', { detail: 'you are not a member of this project' });
      }
      let query: CohortQuery;
      try {
        query = parseQuery(fields.query, {
          ...DEFAULT_LIMITS,
          maxStrata: deps.projects[project]?.maxStrata ?? DEFAULT_LIMITS.maxStrata,
        });
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        throw new ProblemError(err.code, err.status, err.title, {
          ...(err.detail === undefined ? {} : { detail: err.detail }),
          pointer: `/query${err.pointer ?? ''}`,
        });
      }
      return deps.store.saveQuery({ owner: researcher.sub, project, name, query, now: now() });
    },

    async get(id, researcher) {
      const saved = await deps.store.getSavedQuery(id);
      // One answer for "not yours to see" and "no such query": the link's id
      // tells an outsider nothing, not even that it exists.
      if (saved === undefined || !isMember(researcher, saved.project, deps)) {
        throw gatewayProblem('ERR_NOT_FOUND');
      }
      return saved;
    },

    list(researcher) {
      return deps.store.listSavedQueries(researcher.sub);
    },

    async remove(id, researcher) {
      if (!(await deps.store.deleteSavedQuery(id, researcher.sub))) {
        throw gatewayProblem('ERR_NOT_FOUND');
      }
    },
  };
}
