// Two gateway replicas on one PostgreSQL database, each a real
// `tessera-gateway serve` with the same configuration, in front of the same
// real node adapters: a job is one job whichever replica is asked, the rate
// limits are one set of counters, and a replica killed under load loses no
// accepted job and no audit entry; the survivor fails what the dead one was
// running once its heartbeat is stale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CohortQuery } from '@tessera/schemas';
import { type TestBackend, type TestDatabase, postgresBackend } from '@tessera/gateway/testing';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import {
  type Answer,
  type Caller,
  type JobView,
  type Problem,
  get,
  readEvents,
  submit,
  waitForJob,
} from '../support/gateway-client.ts';
import { GATEWAY_BIN, runCli } from '../support/processes.ts';
import { requirePostgres } from '../support/requirements.ts';
import { patientsAged } from '../e2e/queries.ts';
import { auditedResults, killReplicaUnderLoad, readJob, waitForEnds } from './load.ts';

const postgres = await requirePostgres();

const A = 0;
const B = 1;
const PER_MINUTE = 4;
const REPEATS = 3;
const SUBMISSIONS = 12;

/** Submits `queries` all at once, alternating between the replicas. */
function submitAlternating(
  callers: readonly Caller[],
  queries: readonly CohortQuery[],
): Promise<Answer<JobView | Problem>[]> {
  return Promise.all(
    queries.map((query, i) => submit<JobView | Problem>(callers[i % callers.length]!, query)),
  );
}

/**
 * How many were accepted (202, or 200 when the job was over at once, as a
 * repeat answered from the cache is) and how many refused with 429.
 */
function tally(answers: readonly Answer<unknown>[]): { accepted: number; refused: number } {
  const accepted = answers.filter((a) => a.status === 200 || a.status === 202).length;
  const refused = answers.filter((a) => a.status === 429).length;
  if (accepted + refused !== answers.length) {
    throw new Error(`unexpected answers: ${answers.map((a) => a.status).join(', ')}`);
  }
  return { accepted, refused };
}

describe.skipIf(postgres.skip)('two gateway replicas sharing PostgreSQL', () => {
  let backend: TestBackend;
  let db: TestDatabase;
  let fed: Federation;
  let token: string;
  const on = (replica: number, as = token): Caller => ({
    gatewayUrl: fed.gatewayUrls[replica]!,
    token: as,
  });

  beforeAll(async () => {
    backend = postgresBackend(undefined);
    db = await backend.fresh();
    fed = await startFederation({
      regions: [
        { id: 'lombardia', generate: { patients: 300, seed: 1101, region: 'lombardia' } },
        { id: 'galicia', generate: { patients: 300, seed: 2202, region: 'galicia' } },
      ],
      projects: {
        'diabetes-eu': ['lombardia', 'galicia'],
        'per-minute': ['lombardia'],
        repeats: ['lombardia'],
      },
      databaseUrl: db.databaseUrl!,
      gatewayReplicas: 2,
      gatewayOverrides: {
        // A dead replica is found within seconds, not the default half minute.
        store: { heartbeatIntervalSec: 1, staleAfterSec: 3 },
        // Long enough that a node held for a moment never times out.
        fanout: { perNodeDeadlineMs: 60_000, queryDeadlineMs: 60_000 },
        projects: {
          'diabetes-eu': { queriesPerMinute: 100_000, queriesPerDay: 100_000 },
          'per-minute': { queriesPerMinute: PER_MINUTE },
          repeats: { repeatsPerWindow: REPEATS, repeatWindowSec: 3600 },
        },
      },
    });
    token = await fed.tokenFor('diabetes-eu');
    // Warms both replicas and the nodes (keys fetched, stores opened).
    for (const replica of [A, B]) {
      const warm = await submit(on(replica), patientsAged(0, 120), { wait: 30 });
      expect(warm.status, warm.text).toBe(200);
    }
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(async () => {
    await fed?.close();
    await db?.dispose();
    await backend?.teardown();
  });

  it('answers for a job on either replica: accepted on A, read and streamed to its end on B', async () => {
    const galicia = fed.node('galicia').process;
    // Held by a node, the job is still running when B is first asked.
    galicia.kill('SIGSTOP');
    let accepted: Answer<JobView>;
    try {
      accepted = await submit(on(A), patientsAged(30, 60));
      expect(accepted.status, accepted.text).toBe(202);
      const running = await get<JobView>(on(B), `/v1/queries/${accepted.body.id}`);
      expect(running.status, running.text).toBe(200);
      expect(running.body).toMatchObject({ id: accepted.body.id, status: 'running' });
    } finally {
      galicia.kill('SIGCONT');
    }
    const id = accepted.body.id;

    const stream = await readEvents(on(B), id);
    expect(stream.status).toBe(200);
    const last = stream.events.at(-1);
    expect(last?.event).toBe('result');
    const streamed = last?.event === 'result' ? last.data : undefined;
    expect(streamed?.status).toBe('done');

    const onA = await waitForJob(on(A), id);
    expect(onA.status).toBe('done');
    expect(onA.result?.complete).toBe(true);
    expect(streamed?.result).toEqual(onA.result);
    expect((await readJob(on(B), id)).result).toEqual(onA.result);
  });

  it('holds a per-minute limit across both replicas: exactly the limit accepted in total', async () => {
    const researcher = await fed.tokenFor('per-minute');
    const callers = [on(A, researcher), on(B, researcher)];
    const queries = Array.from({ length: SUBMISSIONS }, (_, i) => patientsAged(40 + i, 90));
    const answers = await submitAlternating(callers, queries);
    expect(tally(answers)).toEqual({ accepted: PER_MINUTE, refused: SUBMISSIONS - PER_MINUTE });
    for (const answer of answers.filter((a) => a.status === 429)) {
      expect(answer.body).toMatchObject({ code: 'ERR_RATE_LIMITED' });
      expect((answer.body as Problem).detail).toMatch(/per-minute/);
    }
    // Both replicas admitted and refused: the count is the database's, not each replica's.
    const byReplica = (i: number) => answers.filter((_, k) => k % 2 === i).map((a) => a.status);
    for (const replica of [A, B]) expect(byReplica(replica)).toContain(429);
  });

  it('holds a repeat limit across both replicas: the same question accepted exactly that often', async () => {
    const researcher = await fed.tokenFor('repeats');
    const callers = [on(A, researcher), on(B, researcher)];
    const same = patientsAged(50, 70);
    const answers = await submitAlternating(
      callers,
      Array.from({ length: SUBMISSIONS }, () => same),
    );
    expect(tally(answers)).toEqual({ accepted: REPEATS, refused: SUBMISSIONS - REPEATS });
    for (const answer of answers.filter((a) => a.status === 429)) {
      expect(answer.body).toMatchObject({ code: 'ERR_RATE_LIMITED' });
      expect((answer.body as Problem).detail).toMatch(/repeat/);
    }
  });

  it('loses no accepted job when a replica is killed under load, and its audit log verifies', async () => {
    const run = await killReplicaUnderLoad(fed, { token, victim: B, holdingNode: 'galicia' });
    expect(run.accepted.filter((job) => job.replica === B).length).toBeGreaterThan(0);

    // Read through the survivor: the dead replica's jobs too, failed once its heartbeat is stale.
    const survivor = on(A);
    const ended = await waitForEnds(
      survivor,
      run.accepted.map((job) => job.id).concat(run.interrupted),
    );
    for (const id of run.interrupted) {
      expect(ended.get(id)).toMatchObject({ status: 'failed', error: 'ERR_GATEWAY_RESTARTED' });
    }
    for (const job of run.accepted) {
      const end = ended.get(job.id)!;
      expect(['done', 'failed'], job.id).toContain(end.status);
      // Only a job of the dead replica can have failed, and only by its death.
      if (end.status === 'failed') {
        expect(job.replica, job.id).toBe(B);
        expect(end.error, job.id).toBe('ERR_GATEWAY_RESTARTED');
      }
      if (job.result !== undefined) expect(end.result, job.id).toEqual(job.result);
    }

    const verify = await runCli([
      GATEWAY_BIN,
      'audit',
      'verify',
      '--database-url',
      db.databaseUrl!,
    ]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^ok: \d+ audit entries verified/);

    // Every answer with figures, and every job that ended with them, has its entry.
    const audited = await auditedResults({ databaseUrl: db.databaseUrl! });
    const answered = run.accepted.filter((job) => job.result !== undefined).map((job) => job.id);
    expect(answered.length).toBeGreaterThan(0);
    const done = [...ended.values()].filter((job) => job.status === 'done').map((job) => job.id);
    expect([...answered, ...done].filter((id) => !audited.has(id))).toEqual([]);
  });
});
