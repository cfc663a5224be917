// The gateway's API as the page uses it: every call carries the session's
// access token and the chosen project; a 401 renews the token once and
// tries again; a stream of job events is read with fetch (EventSource cannot
// send an Authorization header) and always ends: with the result, with an
// error, or when the researcher moves on.
import type { CatalogueEntry, CohortQuery, MergedResult, NodeOutcome } from '@tessera/schemas';
import type { CodeSearchResult } from '../../catalogue/catalogue.ts';
import type { Session } from '../auth/session.ts';

/** An answer in application/problem+json, as the gateway writes it. */
export interface Problem {
  readonly code: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly pointer?: string;
}

export class ProblemAnswer extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.problem = problem;
  }
}

/** The session has ended; the page sends the researcher through sign-in. */
export class SessionEnded extends Error {}

export interface Job {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  readonly nodes: readonly string[];
  readonly result?: MergedResult;
  readonly error?: string;
}

/** A past query as the history lists it: what was asked, never its figures. */
export interface PastQuery {
  readonly id: string;
  readonly status: Job['status'];
  readonly label?: string;
  readonly query: unknown;
  readonly project: string;
  readonly createdAt: string;
}

/** A query kept under a name, shared with the members of its project by its id. */
export interface SavedQuery {
  readonly id: string;
  readonly name: string;
  readonly project: string;
  readonly owner: string;
  readonly query: unknown;
  readonly createdAt: string;
  readonly links: { readonly share: string };
}

/** A code search's answer as the gateway gives it (type only: nothing of the server is bundled). */
export type { CodeMatch, CodeSearchResult as CodeSearch } from '../../catalogue/catalogue.ts';
export interface StreamHandlers {
  node(outcome: NodeOutcome): void;
}

async function problemOf(res: Response): Promise<Problem> {
  try {
    const body = (await res.json()) as Partial<Problem>;
    if (typeof body.code === 'string' && typeof body.title === 'string') return body as Problem;
  } catch {
    // not problem+json: fall through to the status alone
  }
  return {
    code: `HTTP_${res.status}`,
    title: res.statusText || `HTTP ${res.status}`,
    status: res.status,
  };
}

export class Api {
  readonly #session: Session;
  project = '';

  constructor(session: Session) {
    this.#session = session;
  }

  async #fetch(path: string, init: RequestInit = {}, retried = false): Promise<Response> {
    const token = this.#session.accessToken;
    if (token === undefined) throw new SessionEnded();
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (this.project !== '') headers.set('x-tessera-project', this.project);
    const res = await fetch(path, { ...init, headers });
    if (res.status === 401 && !retried) {
      if (!(await this.#session.renew())) throw new SessionEnded();
      return this.#fetch(path, init, true);
    }
    if (res.status === 401) throw new SessionEnded();
    return res;
  }

  async #json<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await this.#fetch(path, init);
    if (!res.ok) throw new ProblemAnswer(await problemOf(res));
    return (await res.json()) as T;
  }

  /** The server's checks on a query v1 or a CCDL document: the query, or a problem. */
  check(document: { query: unknown } | { ccdl: unknown }): Promise<{ query: CohortQuery }> {
    return this.#json('/v1/query-check', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(document),
    });
  }

  submit(query: unknown, wait = false): Promise<Job> {
    return this.#json('/v1/queries', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(wait ? { prefer: 'wait=30' } : {}) },
      body: JSON.stringify(query),
    });
  }

  job(id: string): Promise<Job> {
    return this.#json(`/v1/queries/${encodeURIComponent(id)}`);
  }

  /** The researcher's past queries, newest first. */
  async history(): Promise<PastQuery[]> {
    return (await this.#json<{ queries: PastQuery[] }>('/v1/queries?limit=50')).queries;
  }

  async savedQueries(): Promise<SavedQuery[]> {
    return (await this.#json<{ savedQueries: SavedQuery[] }>('/v1/saved-queries')).savedQueries;
  }

  /** A saved query of one of the researcher's projects; any other is ERR_NOT_FOUND. */
  savedQuery(id: string): Promise<SavedQuery> {
    return this.#json(`/v1/saved-queries/${encodeURIComponent(id)}`);
  }

  /** Saves the query under a name, shared with the chosen project. */
  save(name: string, query: unknown): Promise<SavedQuery> {
    return this.#json('/v1/saved-queries', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        query,
        ...(this.project === '' ? {} : { project: this.project }),
      }),
    });
  }

  /** Deletes one of the researcher's own saved queries (another's is ERR_NOT_FOUND). */
  async deleteSaved(id: string): Promise<void> {
    const res = await this.#fetch(`/v1/saved-queries/${encodeURIComponent(id)}`, {
      method: 'DELETE',
    });
    if (!res.ok) throw new ProblemAnswer(await problemOf(res));
  }

  /** The data-request draft of a finished query, as JSON-LD. */
  accessRequest(id: string): Promise<Record<string, unknown>> {
    return this.#json(`/v1/queries/${encodeURIComponent(id)}/access-request`, {
      headers: { accept: 'application/ld+json' },
    });
  }

  nodes(): Promise<{ nodes: { id: string; title?: string; status?: string }[] }> {
    return this.#json('/v1/nodes');
  }

  /** An export of a finished job, as a file's bytes. */
  async export(id: string, accept: string): Promise<Blob> {
    const res = await this.#fetch(`/v1/queries/${encodeURIComponent(id)}`, { headers: { accept } });
    if (!res.ok) throw new ProblemAnswer(await problemOf(res));
    return res.blob();
  }

  /**
   * Follows a job: each node's outcome as it arrives, then the finished job.
   * A stream that breaks off before the result is read once more as a job,
   * so the page never waits on a dead stream.
   */
  async follow(id: string, handlers: StreamHandlers, signal?: AbortSignal): Promise<Job> {
    const res = await this.#fetch(`/v1/queries/${encodeURIComponent(id)}/events`, {
      headers: { accept: 'text/event-stream' },
      ...(signal ? { signal } : {}),
    });
    if (!res.ok || res.body === null) throw new ProblemAnswer(await problemOf(res));
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === undefined || data === undefined) continue;
        if (event === 'node') handlers.node(JSON.parse(data) as NodeOutcome);
        if (event === 'result') {
          await reader.cancel().catch(() => undefined);
          return JSON.parse(data) as Job;
        }
      }
    }
    const job = await this.job(id);
    if (job.status === 'done' || job.status === 'failed' || job.status === 'cancelled') return job;
    throw new ProblemAnswer({
      code: 'ERR_STREAM_ENDED',
      title: 'The progress stream ended before the result',
      status: 0,
    });
  }
}

async function publicJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, signal ? { signal } : {});
  if (!res.ok) throw new ProblemAnswer(await problemOf(res));
  return (await res.json()) as T;
}

/** The federated catalogue (public). */
export async function fetchCatalogue(): Promise<CatalogueEntry[]> {
  return (await publicJson<{ entries: CatalogueEntry[] }>('/v1/catalogue')).entries;
}

/**
 * Codes the nodes hold, by the start of their code or words of their name,
 * accents and case ignored (public).
 */
export function searchCodes(
  q: string,
  options: { system?: string; limit?: number; signal?: AbortSignal } = {},
): Promise<CodeSearchResult> {
  const params = new URLSearchParams({ q });
  if (options.system) params.set('system', options.system);
  if (options.limit !== undefined) params.set('limit', String(options.limit));
  return publicJson(`/v1/catalogue/codes?${params}`, options.signal);
}
