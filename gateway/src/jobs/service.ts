// The gateway's query pipeline, free of HTTP: authorise, validate, limit,
// pin, record the job, fan out, merge, audit. Routes call it; tests drive it.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  type AuditFields,
  type AuditJson,
  type CanonicalQuery,
  type CohortQuery,
  DEFAULT_LIMITS,
  type MergedResult,
  type NodeOutcome,
  ProblemError,
  canonicalQuery,
  ccdlToQuery,
  parseQuery,
  pinAsOf,
  queryHash,
} from '@tessera/schemas';
import { authorize } from '../auth/authorize.ts';
import type { Researcher } from '../auth/researcher.ts';
import { ERR_GATEWAY_RESTARTED, gatewayProblem } from '../errors.ts';
import type { Admission, Ticket } from './admission.ts';
import type { BackgroundRunner } from './supervisor.ts';
import type { JobFields, JobRecord, NewJob, Store } from '../store/store.ts';

/** A project's rules, from the gateway configuration. */
export interface ProjectRules {
  readonly nodes: readonly string[];
  readonly measures: readonly ('count' | 'histogram' | 'summary')[];
  readonly maxStrata: number;
  readonly queriesPerMinute: number;
  readonly queriesPerDay: number;
  readonly repeatsPerWindow: number;
  readonly repeatWindowSec: number;
}

export interface FanoutRun {
  readonly body: { readonly query: CanonicalQuery; readonly requestId: string };
  readonly nodes: readonly string[];
  readonly requestId: string;
  readonly caller: { readonly sub: string; readonly project: string };
  /** Answers must carry this hash: a node answering another query is an error. */
  readonly queryHash: string;
  readonly traceparent?: string | undefined;
  readonly signal: AbortSignal;
  readonly onNodeOutcome: (outcome: NodeOutcome) => void;
}

export interface QueryServiceDeps {
  readonly store: Store;
  /** Whether this replica takes one more query: decided in memory, before any store call. */
  readonly admission: Admission;
  readonly projects: Readonly<Record<string, ProjectRules>>;
  readonly runFanout: (run: FanoutRun) => Promise<NodeOutcome[]>;
  readonly merge: (input: {
    queryHash: string;
    outcomes: NodeOutcome[];
    minNodes: number;
  }) => MergedResult;
  readonly minNodes: number;
  readonly resultTtlSec: number;
  /** The data version each node last reported; undefined when unknown. */
  readonly dataVersionOf: (node: string) => string | undefined;
  readonly noteDataVersion: (node: string, version: string) => void;
  /** A query refused at submission (audited too), by reason and kind. */
  readonly onRefusal?: (reason: string, kind: RefusalKind) => void;
  readonly onCacheHit?: () => void;
  /**
   * Warnings for a query as submitted (codings no node lists, from the
   * catalogue), added to its merged answer; a failure here adds none.
   */
  readonly warningsFor?: (query: unknown) => Promise<NonNullable<MergedResult['warnings']>>;
  readonly now?: () => Date;
  /** A new job id (default: a random UUID). */
  readonly newId?: () => string;
  /** Runs each recorded query; a run that cannot even record its own failure is logged and counted there. */
  readonly background: BackgroundRunner;
}

export type QueryMediaType = 'query' | 'ccdl';

/** How a job that ran came to its end. */
type JobEnd = { readonly result: MergedResult } | { readonly errorCode: string };

/** A job this process runs. */
interface RunningJob {
  readonly controller: AbortController;
  /** Its node outcomes so far, as progress: event streams on this replica replay them. */
  readonly outcomes: NodeOutcome[];
  /** Set once the job is stored running (its id was handed out before it ended). */
  stored?: Promise<JobRecord>;
  /** Set once its end is being written. */
  final?: Promise<JobRecord | undefined>;
}

/**
 * Why a query was turned away, as the refusals metric labels it:
 * `rate-limit` (per-minute, per-day, repeat), `authorisation` (project,
 * node, measure), `invalid` (no project named, an invalid query, a CCDL
 * document query v1 cannot express), `capacity` (the replica is full, or the
 * researcher has her share of it running).
 */
export type RefusalKind = 'rate-limit' | 'authorisation' | 'invalid' | 'capacity';

/** The query hash of an audit entry for a query refused before it could be read. */
const UNREAD_QUERY = 'sha256:unknown';

/**
 * The one answer to a project that does not exist and to one the researcher
 * is not in: a different answer would let anyone with a token probe project
 * names (threat 53).
 */
const notAMember = (): ProblemError =>
  gatewayProblem('ERR_FORBIDDEN', { detail: 'You are not a member of this project' });

export interface SubmitRequest {
  readonly researcher: Researcher;
  readonly body: unknown;
  readonly mediaType: QueryMediaType;
  /** Chosen project; defaults to the researcher's only project. */
  readonly project: string | undefined;
  readonly requestId: string;
  readonly traceparent?: string | undefined;
  /**
   * How long to wait for the answer before returning the job still running
   * (`Prefer: wait`); 0, the default, returns it at once. A query answered
   * within it is written once, finished.
   */
  readonly waitMs?: number;
}

export type JobEvent =
  | { readonly type: 'node'; readonly outcome: NodeOutcome }
  | { readonly type: 'result'; readonly job: JobRecord };

/**
 * A node's outcome as progress: its status and timing, without its figures.
 * Figures leave the gateway only inside the merged answer, which withholds
 * them all when fewer nodes answered than the policy requires; a per-node
 * event carrying them would get round that rule.
 */
export function progressOf(outcome: NodeOutcome): NodeOutcome {
  const progress = { ...outcome };
  delete progress.result;
  return progress;
}

/** Released figures as audit detail (plain JSON). */
const figures = (value: unknown): AuditJson => JSON.parse(JSON.stringify(value)) as AuditJson;

const TERMINAL = new Set(['done', 'failed', 'cancelled']);

/** True once a job can no longer change. */
export function isFinished(job: JobRecord): boolean {
  return TERMINAL.has(job.status);
}

/**
 * A merged answer as the project's cache keeps it: without budgets. A cache
 * hit asks no node, so it is charged nothing, and one researcher's spending is
 * not another's to see. Nor warnings: their pointers are into one researcher's
 * wording of the question, so each hit gets its own.
 */
function withoutBudgets(result: MergedResult): MergedResult {
  const shared: MergedResult = {
    ...result,
    nodes: result.nodes.map((outcome) => {
      if (outcome.result?.budget === undefined) return outcome;
      const answer = { ...outcome.result };
      delete answer.budget;
      return { ...outcome, result: answer };
    }),
  };
  delete shared.budget;
  delete shared.warnings;
  return shared;
}

/** A job as the store creates it, from the fields it was given at submission. */
function newJob(job: JobFields): NewJob {
  const { id, researcher, project, queryHash: hash, query, nodes, createdAt } = job;
  return {
    id,
    researcher,
    project,
    queryHash: hash,
    query,
    ...(job.submittedQuery === null ? {} : { submittedQuery: job.submittedQuery }),
    nodes,
    now: createdAt,
  };
}

/** The key under which identical question-and-data pairs share a cached answer. */
function dataVersionsKey(
  nodes: readonly string[],
  versionOf: (node: string) => string | undefined,
): string | undefined {
  const parts: string[] = [];
  for (const node of [...nodes].sort()) {
    const version = versionOf(node);
    if (version === undefined) return undefined;
    parts.push(`${node}=${version}`);
  }
  return parts.join(';');
}

function chooseProject(researcher: Researcher, requested: string | undefined): string | undefined {
  if (requested !== undefined) return requested;
  if (researcher.projects.length === 1) return researcher.projects[0]!;
  return undefined;
}

function measureKinds(query: CohortQuery): ('count' | 'histogram' | 'summary')[] {
  return (query.measures ?? [{ count: 'patients' }]).map((m) =>
    'histogram' in m ? 'histogram' : 'summary' in m ? 'summary' : 'count',
  );
}

/**
 * The query service.
 * @example const queries = createQueryService(deps); const job = await queries.submit(request);
 */
export function createQueryService(deps: QueryServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;
  const events = new EventEmitter();
  events.setMaxListeners(0);
  /** Jobs this process is running. */
  const running = new Map<string, RunningJob>();

  /**
   * A refusal's one audit entry. The same question asked more often than
   * the project allows may be an attempt to average noise away (threat 9):
   * its refusal is an alert.
   */
  const refusalEntry = (
    error: ProblemError,
    researcher: Researcher,
    project: string,
    hash: string,
    reason: string,
  ): AuditFields => ({
    at: now().toISOString(),
    actor: researcher.sub,
    project,
    queryHash: hash,
    action: 'query.submit',
    outcome: reason === 'repeat' ? 'alert' : 'refused',
    detail: { code: error.code, reason },
  });

  const refuse = async (
    error: ProblemError,
    researcher: Researcher,
    project: string,
    hash: string,
    reason: string,
    kind: RefusalKind,
  ): Promise<never> => {
    deps.onRefusal?.(reason, kind);
    await deps.store.appendAudit(refusalEntry(error, researcher, project, hash, reason));
    throw error;
  };

  /**
   * A place for this query on this replica, or its refusal. The refusal is
   * answered from memory and its audit entry written behind it: a flood is
   * turned away as fast as it arrives, however slow the store is then.
   */
  const admit = (researcher: Researcher, project: string, hash: string): Ticket => {
    try {
      return deps.admission.enter(researcher.sub);
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      return refuseAtCapacity(err, researcher, project, hash);
    }
  };

  const refuseAtCapacity = (
    error: ProblemError,
    researcher: Researcher,
    project: string,
    hash: string,
  ): never => {
    noteCapacityRefusal(error, researcher, project, hash);
    throw error;
  };

  /** Counts a capacity refusal and writes its audit entry behind the answer. */
  const noteCapacityRefusal = (
    error: ProblemError,
    researcher: Researcher,
    project: string,
    hash: string,
  ): void => {
    const reason = error.code === 'ERR_OVERLOADED' ? 'capacity' : 'running';
    deps.onRefusal?.(reason, 'capacity');
    const entry = refusalEntry(error, researcher, project, hash, reason);
    deps.background.run('audit', () => deps.store.appendAudit(entry));
  };

  /**
   * What a submission can be refused for before its query is read: a project
   * to act in, membership of it (one answer for a project that does not exist:
   * nothing about the query, not even whether it parses, may tell them apart),
   * and a place on this replica. The last is answered from memory, so a flood
   * is turned away for the cost of a lookup, its body never parsed.
   */
  const screen = async (
    researcher: Researcher,
    requested: string | undefined,
  ): Promise<{ project: string; rules: ProjectRules }> => {
    const project = chooseProject(researcher, requested);
    if (project === undefined) {
      return refuse(
        gatewayProblem('ERR_PROJECT_REQUIRED', {
          detail: 'name the project with the x-tessera-project header or ?project=',
        }),
        researcher,
        '',
        UNREAD_QUERY,
        'project-required',
        'invalid',
      );
    }
    const rules = Object.hasOwn(deps.projects, project) ? deps.projects[project] : undefined;
    if (!rules || !researcher.projects.includes(project)) {
      return refuse(notAMember(), researcher, project, UNREAD_QUERY, 'project', 'authorisation');
    }
    const full = deps.admission.refusal(researcher.sub);
    if (full) refuseAtCapacity(full, researcher, project, UNREAD_QUERY);
    return { project, rules };
  };

  /** A node's outcome as the audit log keeps it: its status and, when it answered, its released total. */
  const outcomeAudit = (outcome: NodeOutcome): AuditJson => ({
    node: outcome.node,
    status: outcome.status,
    ...(outcome.code ? { code: outcome.code } : {}),
    ...(outcome.result ? { total: figures(outcome.result.total) } : {}),
  });

  /**
   * The one audit entry of a query that ran (or was answered from the
   * cache): who asked, and every figure released, per node and merged.
   */
  const resultAudit = (
    job: JobFields,
    at: Date,
    end:
      { readonly result: MergedResult; readonly cached?: boolean } | { readonly errorCode: string },
    outcomes: readonly NodeOutcome[],
  ): AuditFields => ({
    at: at.toISOString(),
    actor: job.researcher,
    project: job.project,
    queryHash: job.queryHash,
    action: 'query.result',
    outcome: 'result' in end ? 'released' : 'failed',
    detail: {
      job: job.id,
      ...('result' in end
        ? {
            ...(end.cached ? { cached: true } : {}),
            complete: end.result.complete,
            total: figures(end.result.total),
          }
        : { code: end.errorCode }),
      nodes: outcomes.map(outcomeAudit),
    },
  });

  /**
   * Stores a job this process runs, still running, so that its id can be
   * handed out (another replica may be asked for it next). A job whose end is
   * already being written is not stored twice: its final record is returned.
   */
  async function persist(job: JobRecord): Promise<JobRecord> {
    const run = running.get(job.id);
    if (run === undefined) return (await deps.store.getJob(job.id)) ?? job;
    if (run.final) return (await run.final) ?? job;
    run.stored ??= deps.store.createJob({ ...newJob(job), status: 'running' });
    return run.stored;
  }

  /**
   * Writes a job's end, with its audit entry, in one transaction: a job that
   * was stored is moved to its end, one that was not (its researcher is
   * still waiting for it) is written once, finished.
   */
  async function writeEnd(
    job: JobRecord,
    run: RunningJob,
    at: Date,
    end: JobEnd,
    outcomes: readonly NodeOutcome[],
  ): Promise<JobRecord | undefined> {
    const audit = deps.store.appendAudit(resultAudit(job, at, end, outcomes));
    if (run.stored) {
      await run.stored;
      if ('result' in end) {
        const [done] = await Promise.all([deps.store.completeJob(job.id, end.result, at), audit]);
        return done;
      }
      const [failed] = await Promise.all([
        deps.store.failJob(job.id, end.errorCode, at),
        ...outcomes.map((outcome) => deps.store.recordNodeOutcome(job.id, outcome, at)),
        audit,
      ]);
      return failed;
    }
    const [written] = await Promise.all([
      deps.store.createJob({
        ...newJob(job),
        endedAt: at,
        ...('result' in end
          ? { status: 'done', result: end.result }
          : { status: 'failed', errorCode: end.errorCode }),
      }),
      audit,
    ]);
    return written;
  }

  async function execute(job: JobRecord, requestId: string, traceparent?: string): Promise<void> {
    const run = running.get(job.id)!;
    try {
      const end = await runToEnd(job, run, requestId, traceparent);
      if (end === undefined) return;
      const at = now();
      run.final = writeEnd(job, run, at, end, 'result' in end ? end.result.nodes : run.outcomes);
      // Queued in the same tick, so it shares the end's transaction; not waited for.
      if ('result' in end) cacheResult(job, end.result, at);
      const final = await run.final;
      if (final) events.emit(job.id, { type: 'result', job: final } satisfies JobEvent);
    } finally {
      running.delete(job.id);
    }
  }

  /**
   * Fans the job out and merges its answers: its end, or undefined when it
   * was cancelled (cancel() has written its end).
   */
  async function runToEnd(
    job: JobRecord,
    run: RunningJob,
    requestId: string,
    traceparent: string | undefined,
  ): Promise<JobEnd | undefined> {
    const { controller, outcomes: arrived } = run;
    try {
      const outcomes = await deps.runFanout({
        body: { query: job.query, requestId },
        nodes: job.nodes,
        requestId,
        caller: { sub: job.researcher, project: job.project },
        queryHash: job.queryHash,
        traceparent,
        signal: controller.signal,
        onNodeOutcome: (outcome) => {
          if (outcome.result) deps.noteDataVersion(outcome.node, outcome.result.dataVersion);
          const progress = progressOf(outcome);
          arrived.push(progress);
          events.emit(job.id, { type: 'node', outcome: progress } satisfies JobEvent);
        },
      });
      if (!controller.signal.aborted) {
        const merged = deps.merge({ queryHash: job.queryHash, outcomes, minNodes: deps.minNodes });
        return {
          result: {
            ...(await withWarnings(merged, job.submittedQuery ?? job.query)),
            queryId: job.id,
            ...(job.query.asOf ? { asOf: job.query.asOf } : {}),
          },
        };
      }
    } catch (err) {
      if (!controller.signal.aborted) {
        return { errorCode: err instanceof ProblemError ? err.code : 'ERR_INTERNAL' };
      }
    }
    // Stopped. A stored job keeps what had arrived: cancel() has written its
    // end, or recovery fails it once this gateway is gone. One never stored
    // (its researcher is waiting for it) ends here, so she is answered.
    if (!run.stored) return { errorCode: ERR_GATEWAY_RESTARTED };
    await Promise.all(
      arrived.map((outcome) => deps.store.recordNodeOutcome(job.id, outcome, now())),
    );
    return undefined;
  }

  /** The answer with the warnings for the query as this researcher worded it. */
  async function withWarnings(result: MergedResult, query: unknown): Promise<MergedResult> {
    const answer = { ...result };
    delete answer.warnings;
    if (deps.warningsFor === undefined) return answer;
    const warnings = await deps.warningsFor(query).catch(() => []);
    return warnings.length === 0 ? answer : { ...answer, warnings };
  }

  /** Shares a complete answer with the project's later identical questions over the same data. */
  function cacheResult(job: JobRecord, merged: MergedResult, at: Date): void {
    const versions = dataVersionsKey(job.nodes, deps.dataVersionOf);
    if (!merged.complete || versions === undefined || deps.resultTtlSec <= 0) return;
    deps.background.run('cache', () =>
      deps.store.putCachedResult(
        job.queryHash,
        `${job.project}|${versions}`,
        withoutBudgets(merged),
        {
          now: at,
          expiresAt: new Date(at.getTime() + deps.resultTtlSec * 1000),
        },
      ),
    );
  }

  /**
   * Counts the query against the researcher's limits, then records it with its
   * audit entry: running, or done at once from the project's cache.
   */
  async function record(
    researcher: Researcher,
    project: string,
    hash: string,
    pinned: CanonicalQuery,
    submitted: CohortQuery,
    nodes: readonly string[],
    rules: ProjectRules,
  ): Promise<JobRecord> {
    const at = now();
    const limits: [string, number, number, string][] = [
      [`rq:min:${researcher.sub}`, 60, rules.queriesPerMinute, 'per-minute'],
      [`rq:day:${researcher.sub}`, 86_400, rules.queriesPerDay, 'per-day'],
      [
        `rq:repeat:${researcher.sub}:${hash}`,
        rules.repeatWindowSec,
        rules.repeatsPerWindow,
        'repeat',
      ],
    ];
    // All three counted together (one write); a refused query still counts.
    // The cache is asked meanwhile: its answer is used only once they allow it.
    const versions = dataVersionsKey(nodes, deps.dataVersionOf);
    const lookup =
      versions === undefined
        ? Promise.resolve(undefined)
        : deps.store.getCachedResult(hash, `${project}|${versions}`, at);
    // A refused query never reads its lookup: its failure must not go unhandled.
    lookup.catch(() => undefined);
    const hits = await Promise.all(
      limits.map(([key, windowSec, limit]) => deps.store.hit(key, windowSec, limit, at)),
    );
    const overIndex = hits.findIndex((hit) => !hit.ok);
    if (overIndex >= 0) {
      const reason = limits[overIndex]![3];
      const retryAfter = Math.max(
        1,
        Math.ceil((hits[overIndex]!.resetAt.getTime() - at.getTime()) / 1000),
      );
      return refuse(
        gatewayProblem('ERR_RATE_LIMITED', { retryAfter, detail: `${reason} limit reached` }),
        researcher,
        project,
        hash,
        reason,
        'rate-limit',
      );
    }

    const cached = await lookup;
    const fields: JobFields = {
      id: newId(),
      researcher: researcher.sub,
      project,
      queryHash: hash,
      query: pinned,
      submittedQuery: submitted,
      nodes,
      createdAt: at,
      updatedAt: at,
    };
    if (!cached) return { ...fields, status: 'running', result: null, errorCode: null };
    deps.onCacheHit?.();
    const result: MergedResult = {
      ...(await withWarnings(cached.value as MergedResult, submitted)),
      queryId: fields.id,
    };
    // Answered at once: the job and its one audit entry in one transaction.
    const [job] = await Promise.all([
      deps.store.createJob({ ...newJob(fields), status: 'done', result }),
      deps.store.appendAudit(resultAudit(fields, at, { result, cached: true }, result.nodes)),
    ]);
    return job;
  }

  /**
   * The job once it has finished or `waitMs` have passed, whichever comes
   * first; a job still running then is stored before it is returned, since
   * its id is about to be handed out.
   */
  async function settle(job: JobRecord, waitMs: number): Promise<JobRecord> {
    const finished = await finishedWithin(job.id, waitMs);
    return finished ?? persist(job);
  }

  /** The job's final record when this process finishes it within `ms`. */
  function finishedWithin(id: string, ms: number): Promise<JobRecord | undefined> {
    if (ms <= 0 || !running.has(id)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const listener = (event: JobEvent): void => {
        if (event.type !== 'result') return;
        events.off(id, listener);
        clearTimeout(timer);
        resolve(event.job);
      };
      events.on(id, listener);
      const timer = setTimeout(() => {
        events.off(id, listener);
        resolve(undefined);
      }, ms);
      timer.unref();
    });
  }

  return {
    /**
     * Refuses (audited) a submission that cannot be taken whatever its query:
     * call before reading its body. `submit` screens again.
     */
    async screen(request: Pick<SubmitRequest, 'researcher' | 'project'>): Promise<void> {
      await screen(request.researcher, request.project);
    },

    /**
     * The capacity refusal (`429`/`503`) a member's submission to one of her
     * projects meets now, already counted and audited (behind the answer),
     * told from memory alone; undefined when there is room or when the
     * submission is anything else, which `screen` and `submit` then judge.
     * What sheds a flood before the application sees it.
     */
    capacityRefusal(
      request: Pick<SubmitRequest, 'researcher' | 'project'>,
    ): ProblemError | undefined {
      const { researcher } = request;
      const project = chooseProject(researcher, request.project);
      if (project === undefined || !researcher.projects.includes(project)) return undefined;
      if (!Object.hasOwn(deps.projects, project)) return undefined;
      const full = deps.admission.refusal(researcher.sub);
      if (full) noteCapacityRefusal(full, researcher, project, UNREAD_QUERY);
      return full;
    },

    /** Validates, authorises and records a query, then runs it in the background. */
    async submit(request: SubmitRequest): Promise<JobRecord> {
      const { researcher } = request;
      const { project, rules } = await screen(researcher, request.project);
      let query: CohortQuery;
      try {
        const input = request.mediaType === 'ccdl' ? ccdlToQuery(request.body) : request.body;
        query = parseQuery(input, { ...DEFAULT_LIMITS, maxStrata: rules.maxStrata });
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        const reason = request.mediaType === 'ccdl' ? 'ccdl' : 'query';
        return refuse(err, researcher, project, UNREAD_QUERY, reason, 'invalid');
      }
      const pinned = pinAsOf(canonicalQuery(query), now());
      const hash = queryHash(pinned);

      let nodes: readonly string[];
      try {
        nodes = authorize(researcher, project, query.nodes, {
          projectNodes: { [project]: rules.nodes },
        });
        const refused = measureKinds(query).find((m) => !rules.measures.includes(m));
        if (refused) {
          throw gatewayProblem('ERR_FORBIDDEN', {
            detail: `measure "${refused}" is not allowed for this project`,
          });
        }
      } catch (err) {
        return refuse(
          err as ProblemError,
          researcher,
          project,
          hash,
          'authorisation',
          'authorisation',
        );
      }

      // Capacity before quota: a query turned away here spends none.
      const ticket = admit(researcher, project, hash);
      let handedOff = false;
      try {
        const job = await record(researcher, project, hash, pinned, query, nodes, rules);
        if (job.status !== 'running') return job;
        running.set(job.id, { controller: new AbortController(), outcomes: [] });
        const waitMs = request.waitMs ?? 0;
        let stored: JobRecord | undefined;
        if (waitMs <= 0) {
          // Not waited for: stored before it runs, since its id is handed out at once.
          try {
            stored = await persist(job);
          } catch (err) {
            running.delete(job.id);
            throw err;
          }
        }
        deps.background.run('query', async () => {
          try {
            await execute(job, request.requestId, request.traceparent);
          } finally {
            ticket.release();
          }
        });
        handedOff = true;
        return stored ?? (await settle(job, waitMs));
      } finally {
        if (!handedOff) ticket.release();
      }
    },

    /** The researcher's own job; someone else's is "not found", so ids reveal nothing. */
    async get(id: string, researcher: Researcher): Promise<JobRecord> {
      const job = await deps.store.getJob(id);
      if (!job || job.researcher !== researcher.sub) throw gatewayProblem('ERR_NOT_FOUND');
      return job;
    },

    /** Resolves when the job finishes or `ms` pass, with its latest record. */
    async wait(job: JobRecord, ms: number): Promise<JobRecord> {
      if (isFinished(job) || ms <= 0) return job;
      const final = await finishedWithin(job.id, ms);
      return final ?? (await deps.store.getJob(job.id)) ?? job;
    },

    async cancel(id: string, researcher: Researcher): Promise<JobRecord> {
      const job = await this.get(id, researcher);
      if (isFinished(job)) return job;
      running.get(id)?.controller.abort();
      const cancelled = (await deps.store.cancelJob(id, now())) ?? job;
      events.emit(id, { type: 'result', job: cancelled } satisfies JobEvent);
      await deps.store.appendAudit({
        at: now().toISOString(),
        actor: researcher.sub,
        project: job.project,
        queryHash: job.queryHash,
        action: 'query.cancel',
        outcome: 'failed',
      });
      return cancelled;
    },

    list(researcher: Researcher, limit = 100): Promise<JobRecord[]> {
      return deps.store.listJobs(researcher.sub, { limit });
    },

    /** The node outcomes so far for a job, as progress (those of a job run by another replica once it ends). */
    async outcomes(id: string): Promise<NodeOutcome[]> {
      const here = running.get(id);
      if (here) return [...here.outcomes];
      // A job that ended with an answer keeps its outcomes in it.
      const job = await deps.store.getJob(id);
      if (job?.status === 'done') return job.result.nodes.map(progressOf);
      return deps.store.nodeOutcomes(id);
    },

    /** True while this process runs the job (its events are emitted here). */
    isRunningHere: (id: string): boolean => running.has(id),

    /** Subscribes to one job's events; returns the unsubscribe function. */
    subscribe(id: string, listener: (event: JobEvent) => void): () => void {
      events.on(id, listener);
      return () => events.off(id, listener);
    },

    /** Aborts every running job (shutdown); the store marks them for recovery. */
    abortAll(): void {
      for (const { controller } of running.values()) controller.abort();
    },
  };
}

export type QueryService = ReturnType<typeof createQueryService>;
