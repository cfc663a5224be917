// The gateway's shared state: what any number of gateway replicas must agree
// on. One interface, one SQL implementation, two drivers (PGlite in a data
// directory by default, PostgreSQL for replicas); see sql-store.ts. Its twin
// in memory (memory-store.ts) keeps the same contract for tests and
// single-process tools (gateway/test/support/store-contract.ts runs on all three).
import type { JWK } from 'jose';
import type {
  AuditEntry,
  AuditFields,
  AuditHead,
  AuditVerification,
  CanonicalQuery,
  CohortQuery,
  MergedResult,
  NodeOutcome,
} from '@tessera/schemas';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** What every job has, whatever its status. */
export interface JobFields {
  readonly id: string;
  /** The researcher's `sub`. */
  readonly researcher: string;
  readonly project: string;
  readonly queryHash: string;
  readonly query: CanonicalQuery;
  /**
   * The query as the researcher submitted it (a CCDL document as translated
   * to query v1), with its label and node choice, for the history to show
   * and re-run; null for jobs written before it was kept.
   */
  readonly submittedQuery: CohortQuery | null;
  readonly nodes: readonly string[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A job on its way, or cancelled: no answer and no error. */
export interface OpenJob extends JobFields {
  readonly status: 'queued' | 'running' | 'cancelled';
  readonly result: null;
  readonly errorCode: null;
}

/** A job that ended with an answer. */
export interface DoneJob extends JobFields {
  readonly status: 'done';
  readonly result: MergedResult;
  readonly errorCode: null;
}

/** A job that ended without one. */
export interface FailedJob extends JobFields {
  readonly status: 'failed';
  readonly result: null;
  /** A gateway error code (the problem's `code`), e.g. ERR_GATEWAY_RESTARTED. */
  readonly errorCode: string;
}

/** A job as stored; its status says which of result and errorCode it carries. */
export type JobRecord = OpenJob | DoneJob | FailedJob;

export interface NewJob {
  /** A UUID; one is generated when absent. */
  readonly id?: string;
  readonly researcher: string;
  readonly project: string;
  readonly queryHash: string;
  readonly query: CanonicalQuery;
  /** The query as submitted; see JobFields. */
  readonly submittedQuery?: CohortQuery;
  readonly nodes: readonly string[];
  readonly now: Date;
  /**
   * Where the job starts: `queued` (the default), `running` when its fan-out
   * begins at once, or already ended when it is first written after its
   * answer (`done` with `result`) or its failure (`failed` with
   * `errorCode`). createJob refuses a result or an error code with any other
   * status.
   */
  readonly status?: 'queued' | 'running' | 'done' | 'failed';
  readonly result?: MergedResult;
  readonly errorCode?: string;
  /** When a job created ended came to its end (its `updatedAt`); default `now`. */
  readonly endedAt?: Date;
}

/** A named query kept for later and shared, by its id, with its project's members. */
export interface SavedQueryRecord {
  readonly id: string;
  /** The saving researcher's `sub`: the only one who may delete it. */
  readonly owner: string;
  /** Members of this project may read it. */
  readonly project: string;
  readonly name: string;
  /** The question only: a saved query never holds an answer's figures. */
  readonly query: CohortQuery;
  readonly createdAt: Date;
}

export interface NewSavedQuery {
  /** A UUID; one is generated when absent. */
  readonly id?: string;
  readonly owner: string;
  readonly project: string;
  readonly name: string;
  readonly query: CohortQuery;
  readonly now: Date;
}

export interface CachedResult {
  readonly value: unknown;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface RateLimitHit {
  /** True when this hit is within the limit (a refused hit uses none of it). */
  readonly ok: boolean;
  /** How many more hits would be allowed at once, right after this one. */
  readonly remaining: number;
  /** When the next hit would be allowed: now while some remain (Retry-After on refusal). */
  readonly resetAt: Date;
}

export interface SigningKeyRecord {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
}

/** Makes a new key pair; called only when the store holds no active key. */
export type GenerateSigningKey = () => Promise<{ kid: string; privateJwk: JWK }>;

export interface RecoverOptions {
  /**
   * An instance whose last heartbeat is older than this is taken as dead and
   * its unfinished jobs are failed (default 30 s). An instance that closed
   * its store is dead at once, and so is every other instance of a locked
   * PGlite data directory, whose lock proves it is the only one running.
   */
  readonly staleAfterSec?: number;
}

/**
 * An instance silent this long (24 h) is gone for good: far beyond any
 * heartbeat interval or recovery's `staleAfterSec`, so forgetting it changes
 * nothing but the size of the table.
 */
export const FORGET_INSTANCE_AFTER_SEC = 24 * 60 * 60;

export interface PurgeOptions {
  /**
   * A finished job (done, failed or cancelled) whose last change is older
   * than this is deleted with its node outcomes. Queued and running jobs are
   * never purged, however old.
   */
  readonly jobRetentionSec: number;
  /**
   * A signing key retired longer ago than this is deleted; pass how long a
   * retired key stays published (key-schedule.ts). Absent: retired keys are kept.
   */
  readonly retiredKeyRetentionSec?: number;
}

/** Rows each purge deleted, by kind. */
export interface PurgeCounts {
  readonly cache: number;
  readonly rateLimits: number;
  readonly jobs: number;
  readonly instances: number;
  readonly signingKeys: number;
}

/**
 * Writes that many queries make at once (jobs, outcomes, hits, audit
 * entries, cached results) are group-committed: concurrent calls share one
 * transaction, so callers that need several written together call them
 * without awaiting in between.
 */
export interface Store {
  /** Owner of the jobs this store creates and starts; new on every open. */
  readonly instanceId: string;

  /** A new job, owned by this instance (`queued` unless `job.status` says otherwise). */
  createJob(job: NewJob): Promise<JobRecord>;
  getJob(id: string): Promise<JobRecord | undefined>;
  /** A researcher's jobs, newest first. */
  listJobs(researcher: string, options?: { readonly limit?: number }): Promise<JobRecord[]>;
  /**
   * Status changes; each returns the updated job, or undefined when the job
   * does not exist or is not in a state it can move from (running: from
   * queued; done, failed, cancelled: from queued or running).
   */
  startJob(id: string, now: Date): Promise<JobRecord | undefined>;
  completeJob(id: string, result: MergedResult, now: Date): Promise<DoneJob | undefined>;
  failJob(id: string, errorCode: string, now: Date): Promise<FailedJob | undefined>;
  cancelJob(id: string, now: Date): Promise<JobRecord | undefined>;
  /** Records (or replaces) one node's outcome for a job. */
  recordNodeOutcome(jobId: string, outcome: NodeOutcome, now: Date): Promise<void>;
  /** A job's node outcomes, by node id. */
  nodeOutcomes(jobId: string): Promise<NodeOutcome[]>;
  /** Keeps a named query. Who may save and read it is the caller's rule, not the store's. */
  saveQuery(saved: NewSavedQuery): Promise<SavedQueryRecord>;
  getSavedQuery(id: string): Promise<SavedQueryRecord | undefined>;
  /** A researcher's own saved queries, newest first. */
  listSavedQueries(
    owner: string,
    options?: { readonly limit?: number },
  ): Promise<SavedQueryRecord[]>;
  /** Deletes a saved query if `owner` saved it; returns whether it did. */
  deleteSavedQuery(id: string, owner: string): Promise<boolean>;

  /** Tells other instances this one is alive; call it well within `staleAfterSec`. */
  heartbeat(now: Date): Promise<void>;
  /**
   * Fails, with ERR_GATEWAY_RESTARTED, every queued or running job whose
   * owner is dead (threat 31); returns them. Call at start-up and then
   * periodically: an owner that died moments ago is found on a later call.
   */
  recoverInterruptedJobs(now: Date, options?: RecoverOptions): Promise<JobRecord[]>;

  /** A cached result for a query over exactly these node data versions, unless expired. */
  getCachedResult(
    queryHash: string,
    dataVersions: string,
    now: Date,
  ): Promise<CachedResult | undefined>;
  putCachedResult(
    queryHash: string,
    dataVersions: string,
    value: unknown,
    times: { readonly now: Date; readonly expiresAt: Date },
  ): Promise<void>;

  /**
   * One hit against `key` under a limit of `limit` hits per `windowSec`
   * seconds, as a rate with a burst of `limit` (GCRA, see rate-limit.ts):
   * never more than `limit` plus what the rate refills in any interval, with
   * no window boundary to straddle. Atomic across replicas.
   */
  hit(key: string, windowSec: number, limit: number, now: Date): Promise<RateLimitHit>;

  /**
   * The active signing key; when there is none, one made by `generate`.
   * Replicas racing here all end up with the same key.
   */
  getOrCreateSigningKey(generate: GenerateSigningKey, now?: Date): Promise<SigningKeyRecord>;
  /** Retires the active key and makes a new one active. */
  rotateSigningKey(generate: GenerateSigningKey, now: Date): Promise<SigningKeyRecord>;
  /** Every key, newest first (retired ones stay published for a while). */
  listSigningKeys(): Promise<SigningKeyRecord[]>;

  /** Appends to the hash-chained audit log; replicas never fork the chain. */
  appendAudit(fields: AuditFields): Promise<AuditEntry>;
  /** The whole log, in index order. */
  auditEntries(): Promise<AuditEntry[]>;
  /** The stored head, kept apart from the entries; undefined while the log is empty. */
  auditHead(): Promise<AuditHead | undefined>;
  /**
   * verifyChain over the entries and the head read in one snapshot, so
   * appends by a running gateway cannot make a sound log look cut off.
   */
  verifyAudit(): Promise<AuditVerification>;

  /**
   * Deletes what no one reads any more: expired cache entries, rate-limit
   * state that has fully refilled, finished jobs past their retention (with
   * their outcomes), other instances silent for FORGET_INSTANCE_AFTER_SEC
   * and, when asked, retired signing keys. Safe to run on every replica at once.
   */
  purgeExpired(now: Date, options: PurgeOptions): Promise<PurgeCounts>;

  /** Releases this instance's jobs to recovery and closes the connection. */
  close(): Promise<void>;
}
