// The one implementation of Store, over any SqlDriver. Every statement that
// must hold across replicas is atomic in SQL: upserts with ON CONFLICT for
// counters and keys, a locked head row for the audit chain, advisory locks
// where a read-then-write must not interleave.
import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import {
  appendEntry,
  canonicalJson,
  verifyChain,
  type AuditEntry,
  type AuditFields,
  type AuditHead,
  type AuditJson,
  type AuditOutcome,
  type CanonicalQuery,
  type CohortQuery,
  type MergedResult,
  type NodeOutcome,
} from '@tessera/schemas';
import { createGroupCommit, lastByKey, valuesList, type BatchKind } from './group-commit.ts';
import { loadMigrations, migrate } from './migrate.ts';
import { createdJobRecord, newJobStatus } from './new-job.ts';
import { hitResult, rateLimitRule, type RateLimitRule } from './rate-limit.ts';
import {
  COUNTER_FLUSH_MS,
  cacheKey,
  loadLocalState,
  type Counter,
  type LocalState,
} from './local-state.ts';
import {
  float,
  integer,
  json,
  jsonParam,
  text,
  textOrNull,
  timestamp,
  timestampOrNull,
  type Row,
  type SqlDriver,
  type SqlParam,
  type SqlRunner,
} from './sql.ts';
import { ERR_GATEWAY_RESTARTED } from '../errors.ts';
import {
  FORGET_INSTANCE_AFTER_SEC,
  type CachedResult,
  type SavedQueryRecord,
  type DoneJob,
  type FailedJob,
  type GenerateSigningKey,
  type JobFields,
  type JobRecord,
  type NewJob,
  type RateLimitHit,
  type RecoverOptions,
  type SigningKeyRecord,
  type Store,
} from './store.ts';

export interface SqlStoreOptions {
  /** Runs after the driver is closed (e.g. to release a data-directory lock). */
  readonly onClose?: () => Promise<void>;
  /**
   * Apply pending migrations on open (default true). Tools that only read,
   * like `audit verify`, pass false so they never create or change a schema.
   */
  readonly migrate?: boolean | undefined;
  /**
   * True when this process is the database's only writer (a locked PGlite
   * data directory): rate-limit counters, the cache's index and the audit
   * chain's head are then kept in memory (local-state.ts). Never for a
   * database that replicas share.
   */
  readonly singleWriter?: boolean;
}

/** Migrates the database behind `driver` and returns a store over it; closes the driver if migrating fails. */
export async function openSqlStore(
  driver: SqlDriver,
  options: SqlStoreOptions = {},
): Promise<Store> {
  try {
    if (options.migrate !== false) await migrate(driver, await loadMigrations());
  } catch (err) {
    await driver.close();
    await options.onClose?.();
    throw err;
  }
  const local = options.singleWriter ? await loadLocalState(driver) : undefined;
  return createSqlStore(driver, options, local);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JOB_COLUMNS =
  'id, researcher, project, query_hash, query, submitted_query, nodes, status, created_at, updated_at, result, error_code';
/** The result is the caller's own document when it completes a job: not read back. */
const JOB_COLUMNS_BUT_RESULT =
  'id, researcher, project, query_hash, query, submitted_query, nodes, status, created_at, updated_at, NULL::json AS result, error_code';
const SAVED_QUERY_COLUMNS = 'id, owner, project, name, query, created_at';
const AUDIT_COLUMNS =
  'idx, at, actor, project, query_hash, action, outcome, detail, prev_hash, hash';
const KEY_COLUMNS = 'kid, private_jwk, created_at, retired_at';
const DEFAULT_STALE_AFTER_SEC = 30;
/** Jobs deleted per statement by the purge. */
const PURGE_BATCH = 1000;

function jobFieldsFromRow(row: Row): JobFields {
  return {
    id: text(row, 'id'),
    researcher: text(row, 'researcher'),
    project: text(row, 'project'),
    queryHash: text(row, 'query_hash'),
    query: json(row, 'query') as CanonicalQuery,
    submittedQuery: json(row, 'submitted_query') as CohortQuery | null,
    nodes: json(row, 'nodes') as string[],
    createdAt: timestamp(row, 'created_at'),
    updatedAt: timestamp(row, 'updated_at'),
  };
}

function savedQueryFromRow(row: Row): SavedQueryRecord {
  return {
    id: text(row, 'id'),
    owner: text(row, 'owner'),
    project: text(row, 'project'),
    name: text(row, 'name'),
    query: json(row, 'query') as CohortQuery,
    createdAt: timestamp(row, 'created_at'),
  };
}

/** The job a row holds; a row whose status and documents disagree is refused like an unknown status. */
function jobFromRow(row: Row): JobRecord {
  const fields = jobFieldsFromRow(row);
  const status = text(row, 'status');
  switch (status) {
    case 'queued':
    case 'running':
    case 'cancelled':
      return { ...fields, status, result: null, errorCode: null };
    case 'done': {
      // Only completeJob and createJob write a result, and both take a MergedResult.
      const result = json(row, 'result') as MergedResult | null;
      if (result === null) throw new TypeError('store: a done job has no result');
      return { ...fields, status, result, errorCode: null };
    }
    case 'failed':
      return { ...fields, status, result: null, errorCode: text(row, 'error_code') };
    default:
      throw new TypeError(`store: unknown job status ${status}`);
  }
}

function keyFromRow(row: Row): SigningKeyRecord {
  return {
    kid: text(row, 'kid'),
    privateJwk: json(row, 'private_jwk') as JWK,
    createdAt: timestamp(row, 'created_at'),
    retiredAt: timestampOrNull(row, 'retired_at'),
  };
}

function auditFromRow(row: Row): AuditEntry {
  const detail = textOrNull(row, 'detail');
  return {
    index: integer(row, 'idx'),
    at: text(row, 'at'),
    actor: text(row, 'actor'),
    project: text(row, 'project'),
    queryHash: text(row, 'query_hash'),
    action: text(row, 'action'),
    // Not checked here: a tampered value must reach verifyChain, which names it.
    outcome: text(row, 'outcome') as AuditOutcome,
    ...(detail === null ? {} : { detail: parseDetail(detail) }),
    prevHash: text(row, 'prev_hash'),
    hash: text(row, 'hash'),
  };
}

/** Stored detail is canonical JSON; text that no longer parses is kept as is so verification flags it. */
function parseDetail(stored: string): AuditJson {
  try {
    return JSON.parse(stored) as AuditJson;
  } catch {
    return stored;
  }
}

function headFromRow(row: Row): AuditHead | undefined {
  const index = integer(row, 'last_idx');
  const hash = textOrNull(row, 'last_hash');
  return index < 0 || hash === null ? undefined : { index, hash };
}

/** A transaction-scoped advisory lock, per schema so separate deployments never wait on each other. */
async function lock(tx: SqlRunner, name: string): Promise<void> {
  await tx.query(
    `SELECT pg_advisory_xact_lock(hashtext($1 || ':' || coalesce(current_schema(), '')))`,
    [name],
  );
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`store: ${name} must be a positive integer`);
  }
}

/** A store over a driver whose database is already migrated. */
export function createSqlStore(
  driver: SqlDriver,
  options: SqlStoreOptions = {},
  local?: LocalState,
): Store {
  // New on every open, never configured: a restarted process must not look
  // like the owner of the jobs its previous run left unfinished.
  const instanceId = randomUUID();
  let closing: Promise<void> | undefined;
  const commits = createGroupCommit(driver);
  // Rate-limit hits on a shared database are a queue of their own, so that a
  // batch of nothing but hits is one call (tessera_rate_limit_hits).
  const counting = createGroupCommit(driver);
  const { createJobs, completeJobs, recordOutcomes, putCached, hits, appendAudits, saveCounters } =
    batchKinds(instanceId, { singleWriter: local !== undefined });

  /** Writes the counters decided in memory since the last flush; a failed write is tried again next time. */
  async function flushCounters(): Promise<void> {
    const changed = local?.takeChanged() ?? [];
    if (changed.length === 0) return;
    await Promise.all(changed.map((c) => commits.write(saveCounters, c))).catch(() =>
      local?.restoreChanged(changed),
    );
  }
  const counterFlush = local && setInterval(() => void flushCounters(), COUNTER_FLUSH_MS);
  counterFlush?.unref();

  async function oneJob(sql: string, params: readonly (string | Date | null)[]) {
    const [row] = await driver.query(sql, params);
    return row === undefined ? undefined : jobFromRow(row);
  }

  async function activeKey(): Promise<SigningKeyRecord | undefined> {
    const [row] = await driver.query(
      `SELECT ${KEY_COLUMNS} FROM signing_keys WHERE retired_at IS NULL`,
    );
    return row === undefined ? undefined : keyFromRow(row);
  }

  async function deletedCount(sql: string, params: readonly SqlParam[]): Promise<number> {
    const [row] = await driver.query(
      `WITH gone AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      params,
    );
    return row === undefined ? 0 : integer(row, 'n');
  }

  return {
    instanceId,

    async createJob(job: NewJob): Promise<JobRecord> {
      const id = job.id ?? randomUUID();
      if (!UUID.test(id)) throw new RangeError('store: job id must be a UUID');
      const status = newJobStatus(job);
      return commits.write(createJobs, { ...job, id, status });
    },

    async getJob(id) {
      if (!UUID.test(id)) return undefined;
      return oneJob(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]);
    },

    async listJobs(researcher, { limit = 50 } = {}) {
      positiveInteger('limit', limit);
      const rows = await driver.query(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE researcher = $1
         ORDER BY created_at DESC, id LIMIT $2`,
        [researcher, limit],
      );
      return rows.map(jobFromRow);
    },

    async saveQuery(saved) {
      const id = saved.id ?? randomUUID();
      if (!UUID.test(id)) throw new RangeError('store: saved query id must be a UUID');
      const [row] = await driver.query(
        `INSERT INTO saved_queries (${SAVED_QUERY_COLUMNS})
         VALUES ($1::uuid, $2, $3, $4, $5::json, $6::timestamptz) RETURNING ${SAVED_QUERY_COLUMNS}`,
        [id, saved.owner, saved.project, saved.name, jsonParam(saved.query), saved.now],
      );
      if (row === undefined) throw new Error('store: saved query insert returned nothing');
      return savedQueryFromRow(row);
    },

    async getSavedQuery(id) {
      if (!UUID.test(id)) return undefined;
      const [row] = await driver.query(
        `SELECT ${SAVED_QUERY_COLUMNS} FROM saved_queries WHERE id = $1`,
        [id],
      );
      return row === undefined ? undefined : savedQueryFromRow(row);
    },

    async listSavedQueries(owner, { limit = 50 } = {}) {
      positiveInteger('limit', limit);
      const rows = await driver.query(
        `SELECT ${SAVED_QUERY_COLUMNS} FROM saved_queries WHERE owner = $1
         ORDER BY created_at DESC, id LIMIT $2`,
        [owner, limit],
      );
      return rows.map(savedQueryFromRow);
    },

    async deleteSavedQuery(id, owner) {
      if (!UUID.test(id)) return false;
      return (
        (await deletedCount('DELETE FROM saved_queries WHERE id = $1 AND owner = $2', [
          id,
          owner,
        ])) > 0
      );
    },

    async startJob(id, now) {
      if (!UUID.test(id)) return undefined;
      return oneJob(
        `UPDATE jobs SET status = 'running', owner = $2, updated_at = $3
         WHERE id = $1 AND status = 'queued' RETURNING ${JOB_COLUMNS}`,
        [id, instanceId, now],
      );
    },

    async completeJob(id, result, now) {
      if (!UUID.test(id)) return undefined;
      return commits.write(completeJobs, { id, result, now });
    },

    async failJob(id, errorCode, now): Promise<FailedJob | undefined> {
      if (!UUID.test(id)) return undefined;
      const [row] = await driver.query(
        `UPDATE jobs SET status = 'failed', error_code = $2, updated_at = $3
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING ${JOB_COLUMNS_BUT_RESULT}`,
        [id, errorCode, now],
      );
      return row === undefined
        ? undefined
        : { ...jobFieldsFromRow(row), status: 'failed', result: null, errorCode };
    },

    async cancelJob(id, now) {
      if (!UUID.test(id)) return undefined;
      return oneJob(
        `UPDATE jobs SET status = 'cancelled', updated_at = $2
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING ${JOB_COLUMNS}`,
        [id, now],
      );
    },

    async recordNodeOutcome(jobId, outcome, now) {
      if (!UUID.test(jobId)) throw new RangeError('store: job id must be a UUID');
      await commits.write(recordOutcomes, { jobId, outcome, now });
    },

    async nodeOutcomes(jobId) {
      if (!UUID.test(jobId)) return [];
      const rows = await driver.query(
        'SELECT outcome FROM job_nodes WHERE job_id = $1 ORDER BY node',
        [jobId],
      );
      return rows.map((r) => json(r, 'outcome') as NodeOutcome);
    },

    async heartbeat(now) {
      await driver.query(
        `INSERT INTO gateway_instances (id, seen_at) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET seen_at = GREATEST(gateway_instances.seen_at, EXCLUDED.seen_at)`,
        [instanceId, now],
      );
    },

    async recoverInterruptedJobs(now, recover: RecoverOptions = {}) {
      const staleAfterSec = recover.staleAfterSec ?? DEFAULT_STALE_AFTER_SEC;
      positiveInteger('staleAfterSec', staleAfterSec);
      // Ours are alive by definition; anyone else's need a recent heartbeat.
      // A single writer's lock proves that no one else runs, so the jobs a
      // process killed moments ago left behind are failed at once, not
      // staleAfterSec later: aliveSince NULL, which no heartbeat is `>=`.
      const aliveSince = options.singleWriter
        ? null
        : new Date(now.getTime() - staleAfterSec * 1000);
      const rows = await driver.query(
        `UPDATE jobs SET status = 'failed', error_code = $1, updated_at = $2
         WHERE status IN ('queued', 'running')
           AND owner IS DISTINCT FROM $3
           AND NOT EXISTS (
             SELECT 1 FROM gateway_instances i
             WHERE i.id = jobs.owner AND i.seen_at >= $4::timestamptz
           )
         RETURNING ${JOB_COLUMNS}`,
        [ERR_GATEWAY_RESTARTED, now, instanceId, aliveSince],
      );
      return rows.map(jobFromRow);
    },

    async getCachedResult(queryHash, dataVersions, now): Promise<CachedResult | undefined> {
      if (local && !local.mayBeCached(cacheKey(queryHash, dataVersions), now)) return undefined;
      const [row] = await driver.query(
        `SELECT value, created_at, expires_at FROM result_cache
         WHERE query_hash = $1 AND data_versions = $2 AND expires_at > $3`,
        [queryHash, dataVersions, now],
      );
      if (row === undefined) return undefined;
      return {
        value: json(row, 'value'),
        createdAt: timestamp(row, 'created_at'),
        expiresAt: timestamp(row, 'expires_at'),
      };
    },

    async putCachedResult(queryHash, dataVersions, value, { now, expiresAt }) {
      await commits.write(putCached, { queryHash, dataVersions, value, now, expiresAt });
      local?.noteCached(cacheKey(queryHash, dataVersions), expiresAt);
    },

    async hit(key, windowSec, limit, now): Promise<RateLimitHit> {
      const rule = rateLimitRule(windowSec, limit);
      const nowMs = now.getTime();
      if (!Number.isFinite(nowMs)) throw new RangeError('store: invalid date');
      if (limit === 0) return hitResult(rule, false, undefined, nowMs, limit);
      if (local) return local.hit(key, windowSec, limit, rule, nowMs);
      return counting.write(hits, { key, windowSec, limit, rule, nowMs });
    },

    async getOrCreateSigningKey(generate: GenerateSigningKey, now = new Date()) {
      const existing = await activeKey();
      if (existing !== undefined) return existing;
      const fresh = await generate();
      // Racing replicas each insert; the one-active index lets exactly one in
      // and the others read the winner.
      const [row] = await driver.query(
        `INSERT INTO signing_keys (kid, private_jwk, created_at) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT DO NOTHING RETURNING ${KEY_COLUMNS}`,
        [fresh.kid, jsonParam(fresh.privateJwk), now],
      );
      if (row !== undefined) return keyFromRow(row);
      const winner = await activeKey();
      if (winner === undefined)
        throw new Error(`store: signing key ${fresh.kid} already exists, retired`);
      return winner;
    },

    async rotateSigningKey(generate, now) {
      const fresh = await generate();
      return driver.transaction(async (tx) => {
        await lock(tx, 'tessera.signing-keys');
        await tx.query('UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL', [now]);
        const [row] = await tx.query(
          `INSERT INTO signing_keys (kid, private_jwk, created_at) VALUES ($1, $2::jsonb, $3)
           RETURNING ${KEY_COLUMNS}`,
          [fresh.kid, jsonParam(fresh.privateJwk), now],
        );
        if (row === undefined) throw new Error('store: signing key insert returned nothing');
        return keyFromRow(row);
      });
    },

    async listSigningKeys() {
      const rows = await driver.query(
        `SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid`,
      );
      return rows.map(keyFromRow);
    },

    appendAudit(fields: AuditFields): Promise<AuditEntry> {
      return commits.write(appendAudits, fields);
    },

    async auditEntries() {
      const rows = await driver.query(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY idx`);
      return rows.map(auditFromRow);
    },

    async auditHead() {
      const [row] = await driver.query('SELECT last_idx, last_hash FROM audit_head');
      if (row === undefined) throw new Error('store: the audit head row is missing');
      return headFromRow(row);
    },

    async verifyAudit() {
      const { entries, head } = await driver.transaction(async (tx) => {
        await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const [headRow] = await tx.query('SELECT last_idx, last_hash FROM audit_head');
        if (headRow === undefined) throw new Error('store: the audit head row is missing');
        const rows = await tx.query(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY idx`);
        return { entries: rows.map(auditFromRow), head: headFromRow(headRow) };
      });
      return verifyChain(entries, { head });
    },

    async purgeExpired(now, { jobRetentionSec, retiredKeyRetentionSec }) {
      local?.forgetRefilled(now.getTime());
      local?.forgetExpired(now);
      positiveInteger('jobRetentionSec', jobRetentionSec);
      if (retiredKeyRetentionSec !== undefined) {
        positiveInteger('retiredKeyRetentionSec', retiredKeyRetentionSec);
      }
      const before = (sec: number): Date => new Date(now.getTime() - sec * 1000);
      const cache = await deletedCount('DELETE FROM result_cache WHERE expires_at <= $1', [now]);
      const rateLimits = await deletedCount(
        'DELETE FROM rate_limit_tats WHERE tat_ms <= $1::float8',
        [now.getTime()],
      );
      // In batches: the first purge after a long time may find millions of
      // jobs, and one statement that long would hold up every other (on
      // PGlite, which runs one at a time, every request). Outcomes go with
      // their job (ON DELETE CASCADE).
      let jobs = 0;
      let batch: number;
      do {
        batch = await deletedCount(
          `DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs
             WHERE status IN ('done', 'failed', 'cancelled') AND updated_at < $1
             LIMIT ${PURGE_BATCH})`,
          [before(jobRetentionSec)],
        );
        jobs += batch;
      } while (batch === PURGE_BATCH);
      const instances = await deletedCount(
        'DELETE FROM gateway_instances WHERE seen_at < $1 AND id <> $2',
        [before(FORGET_INSTANCE_AFTER_SEC), instanceId],
      );
      const signingKeys =
        retiredKeyRetentionSec === undefined
          ? 0
          : await deletedCount('DELETE FROM signing_keys WHERE retired_at < $1', [
              before(retiredKeyRetentionSec),
            ]);
      return { cache, rateLimits, jobs, instances, signingKeys };
    },

    close() {
      closing ??= (async () => {
        if (counterFlush) clearInterval(counterFlush);
        await flushCounters();
        await Promise.all([commits.drain(), counting.drain()]);
        // Whatever this instance still had unfinished becomes recoverable by
        // others at once. Best effort: when the database cannot be reached,
        // the heartbeat ages out instead.
        await driver
          .query('DELETE FROM gateway_instances WHERE id = $1', [instanceId])
          .catch(() => undefined);
        try {
          await driver.close();
        } finally {
          await options.onClose?.();
        }
      })();
      return closing;
    },
  };
}

interface CompleteJob {
  readonly id: string;
  readonly result: MergedResult;
  readonly now: Date;
}

interface OutcomeWrite {
  readonly jobId: string;
  readonly outcome: NodeOutcome;
  readonly now: Date;
}

interface CacheWrite {
  readonly queryHash: string;
  readonly dataVersions: string;
  readonly value: unknown;
  readonly now: Date;
  readonly expiresAt: Date;
}

interface HitWrite {
  readonly key: string;
  readonly windowSec: number;
  readonly limit: number;
  readonly rule: RateLimitRule;
  readonly nowMs: number;
}

/** A write kind that upserts one row per item, the last item for a key winning (a statement may not touch a row twice). */
function upsertKind<T>(spec: {
  readonly insert: string;
  readonly casts: readonly string[];
  readonly onConflict: string;
  readonly key: (item: T) => string;
  readonly row: (item: T) => SqlParam[];
}): BatchKind<T, void> {
  return {
    async run(tx, items) {
      const unique = lastByKey(items, spec.key);
      await tx.query(
        `${spec.insert} VALUES ${valuesList(unique.length, spec.casts)} ON CONFLICT ${spec.onConflict}`,
        unique.flatMap(spec.row),
      );
      return items.map(() => undefined);
    },
  };
}

/** Each group-committed write as one statement (the audit chain: three) for a whole batch. */
function batchKinds(instanceId: string, { singleWriter }: { readonly singleWriter: boolean }) {
  const createJobs: BatchKind<NewJob & { id: string }, JobRecord> = {
    async run(tx, jobs) {
      const params = jobs.flatMap((job) => [
        job.id,
        job.researcher,
        job.project,
        job.queryHash,
        jsonParam(job.query),
        job.submittedQuery === undefined ? null : jsonParam(job.submittedQuery),
        jsonParam(job.nodes),
        job.status ?? 'queued',
        job.now,
        job.endedAt ?? job.now,
        job.result === undefined ? null : jsonParam(job.result),
        job.errorCode ?? null,
      ]);
      const latest = new Date(Math.max(...jobs.map((j) => j.now.getTime())));
      const first = params.length + 1;
      const rows = await tx.query(
        `WITH seen AS (
           INSERT INTO gateway_instances (id, seen_at) VALUES ($${first}, $${first + 1})
           ON CONFLICT (id) DO UPDATE SET seen_at = GREATEST(gateway_instances.seen_at, EXCLUDED.seen_at)
         )
         INSERT INTO jobs (id, researcher, project, query_hash, query, submitted_query, nodes, status, owner, created_at, updated_at, result, error_code)
         SELECT v.id, v.researcher, v.project, v.query_hash, v.query, v.submitted_query, v.nodes, v.status, $${first}, v.at, v.ended_at, v.result, v.error_code
         FROM (VALUES ${valuesList(jobs.length, ['::uuid', '', '', '', '::json', '::json', '::json', '', '::timestamptz', '::timestamptz', '::json', ''])})
           AS v(id, researcher, project, query_hash, query, submitted_query, nodes, status, at, ended_at, result, error_code)
         RETURNING id`,
        [...params, instanceId, latest],
      );
      // Built from what was written rather than read back: the documents
      // are the caller's own, and reading them back would cost a parse.
      const inserted = new Set(rows.map((row) => text(row, 'id')));
      return jobs.map((job): JobRecord => {
        if (!inserted.has(job.id)) throw new Error('store: job insert returned nothing');
        return createdJobRecord(job, job.id);
      });
    },
  };

  const completeJobs: BatchKind<CompleteJob, DoneJob | undefined> = {
    async run(tx, items) {
      const unique = lastByKey(items, (i) => i.id);
      const rows = await tx.query(
        `UPDATE jobs SET status = 'done', result = v.new_result, updated_at = v.done_at
         FROM (VALUES ${valuesList(unique.length, ['::uuid', '::json', '::timestamptz'])})
           AS v(job_id, new_result, done_at)
         WHERE jobs.id = v.job_id AND jobs.status IN ('queued', 'running')
         RETURNING ${JOB_COLUMNS_BUT_RESULT}`,
        unique.flatMap((i) => [i.id, jsonParam(i.result), i.now]),
      );
      const byId = new Map(rows.map((row) => [text(row, 'id'), row]));
      // A job completed twice in one batch: only the write that won moved it.
      return items.map((item) => {
        const row = unique.includes(item) ? byId.get(item.id) : undefined;
        return row === undefined
          ? undefined
          : { ...jobFieldsFromRow(row), status: 'done', result: item.result, errorCode: null };
      });
    },
  };

  const recordOutcomes = upsertKind<OutcomeWrite>({
    insert: 'INSERT INTO job_nodes (job_id, node, status, outcome, updated_at)',
    casts: ['::uuid', '', '', '::json', '::timestamptz'],
    onConflict: `(job_id, node) DO UPDATE
      SET status = EXCLUDED.status, outcome = EXCLUDED.outcome, updated_at = EXCLUDED.updated_at`,
    key: (i) => `${i.jobId}\0${i.outcome.node}`,
    row: (i) => [i.jobId, i.outcome.node, i.outcome.status, jsonParam(i.outcome), i.now],
  });

  const putCached = upsertKind<CacheWrite>({
    insert: 'INSERT INTO result_cache (query_hash, data_versions, value, created_at, expires_at)',
    casts: ['', '', '::json', '::timestamptz', '::timestamptz'],
    onConflict: `(query_hash, data_versions) DO UPDATE
      SET value = EXCLUDED.value, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
    key: (i) => `${i.queryHash}\0${i.dataVersions}`,
    row: (i) => [i.queryHash, i.dataVersions, jsonParam(i.value), i.now, i.expiresAt],
  });

  const hits: BatchKind<HitWrite, RateLimitHit> = {
    // GCRA applied in the database, under one lock, in one call
    // (migrations/005-rate-limit-hits-function.sql), however many hits.
    standalone: true,
    async run(db, items) {
      const rows = await db.query(
        'SELECT ordinal, allowed, tat_ms FROM tessera_rate_limit_hits($1::json)',
        [
          jsonParam(
            items.map(({ key, windowSec, rule, nowMs }) => ({
              key,
              window_sec: windowSec,
              now_ms: nowMs,
              period_ms: rule.periodMs,
              tolerance_ms: rule.toleranceMs,
            })),
          ),
        ],
      );
      const byOrdinal = new Map(rows.map((row) => [integer(row, 'ordinal'), row]));
      return items.map(({ rule, nowMs, limit }, i) => {
        const row = byOrdinal.get(i + 1);
        if (row === undefined) throw new Error('store: a rate-limit hit went unanswered');
        const tat = row.tat_ms === null ? undefined : float(row, 'tat_ms');
        return hitResult(rule, row.allowed === true, tat, nowMs, limit);
      });
    },
  };

  /**
   * The chain's head as this process last committed it, for a single
   * writer (no one else moves it); undefined when it must be read.
   */
  let knownHead: AuditHead | undefined;
  const appendAudits: BatchKind<AuditFields, AuditEntry> = {
    async run(tx, items) {
      let last = knownHead;
      // Known again only once this batch has committed.
      knownHead = undefined;
      if (last === undefined) {
        // The head row lock is what keeps replicas from forking the chain.
        const [head] = await tx.query('SELECT last_idx, last_hash FROM audit_head FOR UPDATE');
        if (head === undefined) throw new Error('store: the audit head row is missing');
        last = headFromRow(head);
      }
      const entries = items.map((fields) => (last = appendEntry(last, fields)));
      const params: SqlParam[] = entries.flatMap((entry) => [
        entry.index,
        entry.at,
        entry.actor,
        entry.project,
        entry.queryHash,
        entry.action,
        entry.outcome,
        entry.detail === undefined ? null : canonicalJson(entry.detail),
        entry.prevHash,
        entry.hash,
      ]);
      // The entries and the head that names the last of them, in one statement.
      await tx.query(
        `WITH appended AS (
           INSERT INTO audit_log (${AUDIT_COLUMNS})
           VALUES ${valuesList(entries.length, ['::bigint', '', '', '', '', '', '', '', '', ''])}
         )
         UPDATE audit_head SET last_idx = $${params.length + 1}, last_hash = $${params.length + 2}`,
        [...params, last!.index, last!.hash],
      );
      return entries;
    },
    committed(entries) {
      const last = entries.at(-1);
      if (singleWriter && last !== undefined) knownHead = { index: last.index, hash: last.hash };
    },
  };

  const saveCounters = upsertKind<Counter>({
    insert: 'INSERT INTO rate_limit_tats (key, window_sec, tat_ms)',
    casts: ['', '::int', '::float8'],
    onConflict: '(key, window_sec) DO UPDATE SET tat_ms = EXCLUDED.tat_ms',
    key: (c) => `${c.windowSec}\0${c.key}`,
    row: (c) => [c.key, c.windowSec, c.tatMs],
  });

  return {
    createJobs,
    completeJobs,
    recordOutcomes,
    putCached,
    hits,
    appendAudits,
    saveCounters,
  };
}
