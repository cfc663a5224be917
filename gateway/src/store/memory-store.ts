// The Store kept in this process's memory: the same contract as the SQL
// store (store-contract.ts runs on both), for tests and single-process tools.
// Nothing survives the process. Several stores opened on one MemoryDatabase
// behave as replicas sharing a database: their own instance ids, heartbeats
// and recovery, one audit chain, one set of rate-limit counters.
//
// Documents are kept as JSON text and parsed on every read, as the SQL store's
// json columns are: a caller that changes an object after writing it, or a
// record it read, changes nothing stored, and what cannot travel as JSON does
// not come back.
import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import {
  appendEntry,
  canonicalJson,
  verifyChain,
  type AuditEntry,
  type AuditHead,
  type AuditJson,
  type CanonicalQuery,
  type CohortQuery,
  type MergedResult,
  type NodeOutcome,
} from '@tessera/schemas';
import { ERR_GATEWAY_RESTARTED } from '../errors.ts';
import { admit, hitResult, rateLimitRule } from './rate-limit.ts';
import { createdJobRecord, newJobStatus } from './new-job.ts';
import {
  FORGET_INSTANCE_AFTER_SEC,
  type CachedResult,
  type DoneJob,
  type FailedJob,
  type JobFields,
  type JobRecord,
  type JobStatus,
  type RateLimitHit,
  type SavedQueryRecord,
  type SigningKeyRecord,
  type Store,
} from './store.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_STALE_AFTER_SEC = 30;

interface StoredJob {
  readonly id: string;
  readonly researcher: string;
  readonly project: string;
  readonly queryHash: string;
  readonly query: string;
  readonly submittedQuery: string | null;
  readonly nodes: string;
  status: JobStatus;
  owner: string;
  readonly createdAt: number;
  updatedAt: number;
  result: string | null;
  errorCode: string | null;
  /** By node id. */
  readonly outcomes: Map<string, string>;
}

interface StoredCache {
  readonly value: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

interface StoredRate {
  /** Theoretical arrival time (ms): when the key is fully refilled. */
  tatMs: number;
}

interface StoredKey {
  readonly kid: string;
  readonly privateJwk: string;
  readonly createdAt: number;
  retiredAt: number | null;
}

/** An audit entry as kept: `detail` as its canonical JSON text, like the SQL column. */
type StoredAudit = Omit<AuditEntry, 'detail'> & { readonly detail: string | undefined };

declare const memoryDatabase: unique symbol;

/**
 * The shared state behind memory stores: what a database is to SQL stores.
 * Opaque; open stores on it with createMemoryStore.
 */
export interface MemoryDatabase {
  readonly [memoryDatabase]: true;
}

interface StoredSavedQuery {
  readonly id: string;
  readonly owner: string;
  readonly project: string;
  readonly name: string;
  readonly query: string;
  readonly createdAt: number;
}

interface MemoryState {
  readonly jobs: Map<string, StoredJob>;
  readonly savedQueries: Map<string, StoredSavedQuery>;
  /** Instance id to the time it was last seen alive. */
  readonly instances: Map<string, number>;
  /** By `queryHash \0 dataVersions`. */
  readonly cache: Map<string, StoredCache>;
  /** By `windowSec \0 key`. */
  readonly rateLimits: Map<string, StoredRate>;
  readonly signingKeys: Map<string, StoredKey>;
  readonly audit: StoredAudit[];
  auditHead: AuditHead | undefined;
}

const states = new WeakMap<MemoryDatabase, MemoryState>();

/**
 * An empty database for memory stores; open several stores on it for replicas.
 * @example const db = createMemoryDatabase(); const [a, b] = [createMemoryStore({ database: db }), createMemoryStore({ database: db })];
 */
export function createMemoryDatabase(): MemoryDatabase {
  const database = Object.freeze({}) as MemoryDatabase;
  states.set(database, {
    jobs: new Map(),
    savedQueries: new Map(),
    instances: new Map(),
    cache: new Map(),
    rateLimits: new Map(),
    signingKeys: new Map(),
    audit: [],
    auditHead: undefined,
  });
  return database;
}

export interface MemoryStoreOptions {
  /** The database to share with other stores (replicas); a new, empty one when absent. */
  readonly database?: MemoryDatabase;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`store: ${name} must be a positive integer`);
  }
}

function time(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('store: invalid date');
  return ms;
}

/** JSON text of a document, as a json column keeps it. */
const toJson = (value: unknown): string => JSON.stringify(value ?? null);
const fromJson = (text: string): unknown => JSON.parse(text) as unknown;

function jobFields(job: StoredJob): JobFields {
  return {
    id: job.id,
    researcher: job.researcher,
    project: job.project,
    queryHash: job.queryHash,
    query: fromJson(job.query) as CanonicalQuery,
    submittedQuery:
      job.submittedQuery === null ? null : (fromJson(job.submittedQuery) as CohortQuery),
    nodes: fromJson(job.nodes) as string[],
    createdAt: new Date(job.createdAt),
    updatedAt: new Date(job.updatedAt),
  };
}

function savedQueryRecord(saved: StoredSavedQuery): SavedQueryRecord {
  return {
    id: saved.id,
    owner: saved.owner,
    project: saved.project,
    name: saved.name,
    query: fromJson(saved.query) as CohortQuery,
    createdAt: new Date(saved.createdAt),
  };
}

function jobRecord(job: StoredJob): JobRecord {
  const fields = jobFields(job);
  switch (job.status) {
    case 'queued':
    case 'running':
    case 'cancelled':
      return { ...fields, status: job.status, result: null, errorCode: null };
    case 'done':
      if (job.result === null) throw new TypeError('store: a done job has no result');
      return {
        ...fields,
        status: 'done',
        result: fromJson(job.result) as MergedResult,
        errorCode: null,
      };
    case 'failed':
      if (job.errorCode === null) throw new TypeError('store: a failed job has no error code');
      return { ...fields, status: 'failed', result: null, errorCode: job.errorCode };
  }
}

function keyRecord(key: StoredKey): SigningKeyRecord {
  return {
    kid: key.kid,
    privateJwk: fromJson(key.privateJwk) as JWK,
    createdAt: new Date(key.createdAt),
    retiredAt: key.retiredAt === null ? null : new Date(key.retiredAt),
  };
}

function auditEntry(stored: StoredAudit): AuditEntry {
  const { detail, ...rest } = stored;
  return detail === undefined ? { ...rest } : { ...rest, detail: fromJson(detail) as AuditJson };
}

/**
 * Runs a call as the SQL store's calls run: its answer, or its error, comes
 * as a promise, never thrown at the caller.
 */
function answer<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

const unfinished = (job: StoredJob): boolean => job.status === 'queued' || job.status === 'running';

/** Deletes the entries `gone` picks; returns how many. */
function deleteWhere<K, V>(map: Map<K, V>, gone: (value: V, key: K) => boolean): number {
  let deleted = 0;
  for (const [key, value] of map) {
    if (gone(value, key) && map.delete(key)) deleted += 1;
  }
  return deleted;
}

/**
 * A store in memory; every call on it after close() rejects.
 * @example const store = createMemoryStore(); const job = await store.createJob({ ... });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const state = states.get(options.database ?? createMemoryDatabase());
  if (state === undefined) throw new TypeError('store: not a database from createMemoryDatabase');
  // New on every open, as the SQL store's: never the owner of an earlier run's jobs.
  const instanceId = randomUUID();
  let closed = false;

  /** Every operation starts here: nothing is read or written after close(). */
  const open = (): MemoryState => {
    if (closed) throw new Error('store: closed');
    return state;
  };

  const seen = (at: number): void => {
    state.instances.set(instanceId, Math.max(state.instances.get(instanceId) ?? at, at));
  };

  const jobById = (id: string): StoredJob | undefined => {
    const { jobs } = open();
    return UUID.test(id) ? jobs.get(id.toLowerCase()) : undefined;
  };

  /** Moves an unfinished job; undefined when it does not exist or has finished. */
  const finish = (
    id: string,
    now: Date,
    change: Pick<StoredJob, 'status'> & Partial<Pick<StoredJob, 'result' | 'errorCode'>>,
  ): StoredJob | undefined => {
    const job = jobById(id);
    if (job === undefined || !unfinished(job)) return undefined;
    job.status = change.status;
    if (change.result !== undefined) job.result = change.result;
    if (change.errorCode !== undefined) job.errorCode = change.errorCode;
    job.updatedAt = time(now);
    return job;
  };

  const activeKey = (): StoredKey | undefined =>
    [...open().signingKeys.values()].find((k) => k.retiredAt === null);

  return {
    instanceId,

    createJob(job) {
      return answer(() => {
        const { jobs } = open();
        const id = job.id ?? randomUUID();
        if (!UUID.test(id)) throw new RangeError('store: job id must be a UUID');
        const status = newJobStatus(job);
        const key = id.toLowerCase();
        if (jobs.has(key)) throw new Error(`store: job ${id} already exists`);
        const at = time(job.now);
        const endedAt = time(job.endedAt ?? job.now);
        jobs.set(key, {
          id: key,
          researcher: job.researcher,
          project: job.project,
          queryHash: job.queryHash,
          query: toJson(job.query),
          submittedQuery: job.submittedQuery === undefined ? null : toJson(job.submittedQuery),
          nodes: toJson(job.nodes),
          status,
          owner: instanceId,
          createdAt: at,
          updatedAt: endedAt,
          result: job.result === undefined ? null : toJson(job.result),
          errorCode: job.errorCode ?? null,
          outcomes: new Map(),
        });
        seen(at);
        return createdJobRecord(job, id);
      });
    },

    getJob(id) {
      return answer(() => {
        const job = jobById(id);
        return job === undefined ? undefined : jobRecord(job);
      });
    },

    listJobs(researcher, { limit = 50 } = {}) {
      return answer(() => {
        positiveInteger('limit', limit);
        return [...open().jobs.values()]
          .filter((job) => job.researcher === researcher)
          .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
          .slice(0, limit)
          .map(jobRecord);
      });
    },

    saveQuery(saved) {
      return answer(() => {
        const { savedQueries } = open();
        const id = (saved.id ?? randomUUID()).toLowerCase();
        if (!UUID.test(id)) throw new RangeError('store: saved query id must be a UUID');
        if (savedQueries.has(id)) throw new Error(`store: saved query ${id} already exists`);
        const stored: StoredSavedQuery = {
          id,
          owner: saved.owner,
          project: saved.project,
          name: saved.name,
          query: toJson(saved.query),
          createdAt: time(saved.now),
        };
        savedQueries.set(id, stored);
        return savedQueryRecord(stored);
      });
    },

    getSavedQuery(id) {
      return answer(() => {
        const { savedQueries } = open();
        const saved = UUID.test(id) ? savedQueries.get(id.toLowerCase()) : undefined;
        return saved === undefined ? undefined : savedQueryRecord(saved);
      });
    },

    listSavedQueries(owner, { limit = 50 } = {}) {
      return answer(() => {
        positiveInteger('limit', limit);
        return [...open().savedQueries.values()]
          .filter((q) => q.owner === owner)
          .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
          .slice(0, limit)
          .map(savedQueryRecord);
      });
    },

    deleteSavedQuery(id, owner) {
      return answer(() => {
        const { savedQueries } = open();
        const key = id.toLowerCase();
        const saved = UUID.test(id) ? savedQueries.get(key) : undefined;
        if (saved === undefined || saved.owner !== owner) return false;
        return savedQueries.delete(key);
      });
    },

    startJob(id, now) {
      return answer(() => {
        const job = jobById(id);
        if (job === undefined || job.status !== 'queued') return undefined;
        job.status = 'running';
        job.owner = instanceId;
        job.updatedAt = time(now);
        return jobRecord(job);
      });
    },

    completeJob(id, result, now): Promise<DoneJob | undefined> {
      return answer(() => {
        const job = finish(id, now, { status: 'done', result: toJson(result) });
        return job === undefined
          ? undefined
          : { ...jobFields(job), status: 'done', result, errorCode: null };
      });
    },

    failJob(id, errorCode, now): Promise<FailedJob | undefined> {
      return answer(() => {
        const job = finish(id, now, { status: 'failed', errorCode });
        return job === undefined
          ? undefined
          : { ...jobFields(job), status: 'failed', result: null, errorCode };
      });
    },

    cancelJob(id, now) {
      return answer(() => {
        const job = finish(id, now, { status: 'cancelled' });
        return job === undefined ? undefined : jobRecord(job);
      });
    },

    recordNodeOutcome(jobId, outcome, now) {
      return answer(() => {
        if (!UUID.test(jobId)) throw new RangeError('store: job id must be a UUID');
        time(now);
        const job = jobById(jobId);
        // As the SQL store's foreign key: an outcome belongs to a job.
        if (job === undefined) throw new Error(`store: no job ${jobId}`);
        job.outcomes.set(outcome.node, toJson(outcome));
      });
    },

    nodeOutcomes(jobId) {
      return answer(() => {
        const job = jobById(jobId);
        if (job === undefined) return [];
        return [...job.outcomes.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([, outcome]) => fromJson(outcome) as NodeOutcome);
      });
    },

    heartbeat(now) {
      return answer(() => {
        open();
        seen(time(now));
      });
    },

    recoverInterruptedJobs(now, recover = {}) {
      return answer(() => {
        const { jobs, instances } = open();
        const staleAfterSec = recover.staleAfterSec ?? DEFAULT_STALE_AFTER_SEC;
        positiveInteger('staleAfterSec', staleAfterSec);
        const at = time(now);
        const aliveSince = at - staleAfterSec * 1000;
        // Ours are alive by definition; anyone else's need a recent heartbeat.
        const alive = (owner: string): boolean =>
          owner === instanceId || (instances.get(owner) ?? -Infinity) >= aliveSince;
        const recovered: JobRecord[] = [];
        for (const job of jobs.values()) {
          if (!unfinished(job) || alive(job.owner)) continue;
          job.status = 'failed';
          job.errorCode = ERR_GATEWAY_RESTARTED;
          job.updatedAt = at;
          recovered.push(jobRecord(job));
        }
        return recovered;
      });
    },

    getCachedResult(queryHash, dataVersions, now): Promise<CachedResult | undefined> {
      return answer(() => {
        const entry = open().cache.get(`${queryHash}\0${dataVersions}`);
        if (entry === undefined || entry.expiresAt <= time(now)) return undefined;
        return {
          value: fromJson(entry.value),
          createdAt: new Date(entry.createdAt),
          expiresAt: new Date(entry.expiresAt),
        };
      });
    },

    putCachedResult(queryHash, dataVersions, value, { now, expiresAt }) {
      return answer(() => {
        open().cache.set(`${queryHash}\0${dataVersions}`, {
          value: toJson(value),
          createdAt: time(now),
          expiresAt: time(expiresAt),
        });
      });
    },

    hit(key, windowSec, limit, now): Promise<RateLimitHit> {
      return answer(() => {
        const { rateLimits } = open();
        const rule = rateLimitRule(windowSec, limit);
        const at = time(now);
        const id = `${windowSec}\0${key}`;
        if (limit === 0) return hitResult(rule, false, undefined, at, limit);
        const { ok, tatMs } = admit(rule, rateLimits.get(id)?.tatMs, at);
        if (ok && tatMs !== undefined) rateLimits.set(id, { tatMs });
        return hitResult(rule, ok, tatMs, at, limit);
      });
    },

    async getOrCreateSigningKey(generate, now = new Date()) {
      const existing = activeKey();
      if (existing !== undefined) return keyRecord(existing);
      const fresh = await generate();
      // Another store on this database may have made one meanwhile: at most
      // one key is active, and the others read the winner.
      const winner = activeKey();
      if (winner !== undefined) return keyRecord(winner);
      const { signingKeys } = open();
      if (signingKeys.has(fresh.kid)) {
        throw new Error(`store: signing key ${fresh.kid} already exists, retired`);
      }
      const key: StoredKey = {
        kid: fresh.kid,
        privateJwk: toJson(fresh.privateJwk),
        createdAt: time(now),
        retiredAt: null,
      };
      signingKeys.set(key.kid, key);
      return keyRecord(key);
    },

    async rotateSigningKey(generate, now) {
      const fresh = await generate();
      const { signingKeys } = open();
      if (signingKeys.has(fresh.kid)) throw new Error(`store: signing key ${fresh.kid} exists`);
      const at = time(now);
      for (const key of signingKeys.values()) if (key.retiredAt === null) key.retiredAt = at;
      const key: StoredKey = {
        kid: fresh.kid,
        privateJwk: toJson(fresh.privateJwk),
        createdAt: at,
        retiredAt: null,
      };
      signingKeys.set(key.kid, key);
      return keyRecord(key);
    },

    listSigningKeys() {
      return answer(() => {
        return [...open().signingKeys.values()]
          .sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0))
          .map(keyRecord);
      });
    },

    appendAudit(fields) {
      return answer(() => {
        const current = open();
        const entry = appendEntry(current.auditHead, fields);
        current.audit.push({
          ...entry,
          detail: entry.detail === undefined ? undefined : canonicalJson(entry.detail),
        });
        current.auditHead = { index: entry.index, hash: entry.hash };
        return entry;
      });
    },

    auditEntries() {
      return answer(() => {
        return open().audit.map(auditEntry);
      });
    },

    auditHead() {
      return answer(() => {
        const head = open().auditHead;
        return head === undefined ? undefined : { ...head };
      });
    },

    verifyAudit() {
      return answer(() => {
        const current = open();
        return verifyChain(current.audit.map(auditEntry), { head: current.auditHead });
      });
    },

    purgeExpired(now, { jobRetentionSec, retiredKeyRetentionSec }) {
      return answer(() => {
        const current = open();
        positiveInteger('jobRetentionSec', jobRetentionSec);
        if (retiredKeyRetentionSec !== undefined) {
          positiveInteger('retiredKeyRetentionSec', retiredKeyRetentionSec);
        }
        const at = time(now);
        const before = (sec: number): number => at - sec * 1000;
        const jobsBefore = before(jobRetentionSec);
        const instancesBefore = before(FORGET_INSTANCE_AFTER_SEC);
        const keysBefore =
          retiredKeyRetentionSec === undefined ? -Infinity : before(retiredKeyRetentionSec);
        return {
          cache: deleteWhere(current.cache, (entry) => entry.expiresAt <= at),
          rateLimits: deleteWhere(current.rateLimits, (rate) => rate.tatMs <= at),
          // A job's outcomes live inside it, so they go with it.
          jobs: deleteWhere(current.jobs, (job) => !unfinished(job) && job.updatedAt < jobsBefore),
          instances: deleteWhere(
            current.instances,
            (seenAt, id) => id !== instanceId && seenAt < instancesBefore,
          ),
          signingKeys: deleteWhere(
            current.signingKeys,
            (key) => key.retiredAt !== null && key.retiredAt < keysBefore,
          ),
        };
      });
    },

    close() {
      return answer(() => {
        if (closed) return;
        closed = true;
        // What this instance still had unfinished becomes recoverable by others at once.
        state.instances.delete(instanceId);
      });
    },
  };
}
