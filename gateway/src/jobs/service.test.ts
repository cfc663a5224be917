// The query service through its ports, in this process: the memory store
// (the same Store contract as PGlite and PostgreSQL), the real merge, a real
// supervisor and a stand-in fan-out that answers, fails or waits as each test
// needs. The real fan-out has its own tests (fanout.int.test.ts).
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type AuditEntry,
  type MergedResult,
  type NodeOutcome,
  type NodeResult,
  ProblemError,
} from '@tessera/schemas';
import type { Researcher } from '../auth/researcher.ts';
import { gatewayProblem } from '../errors.ts';
import { mergeResults } from '../merge/merge.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import { nodeResultOf } from '../../test/support/test-node-server.ts';
import { type Admission, type AdmissionLimits, createAdmission } from './admission.ts';
import { createSupervisor, type Supervisor } from './supervisor.ts';
import {
  type FanoutRun,
  type JobEvent,
  type ProjectRules,
  type QueryService,
  createQueryService,
} from './service.ts';

const ANNA: Researcher = { sub: 'r-anna', projects: ['diabetes'], scopes: ['tessera:query'] };
const BRUNO: Researcher = { sub: 'r-bruno', projects: ['diabetes'], scopes: ['tessera:query'] };

const RULES: ProjectRules = {
  nodes: ['alpha', 'beta'],
  measures: ['count', 'histogram', 'summary'],
  maxStrata: 200,
  queriesPerMinute: 100,
  queriesPerDay: 1000,
  repeatsPerWindow: 100,
  repeatWindowSec: 3600,
};

const T0 = new Date('2026-11-20T10:00:00.000Z');

/** A query of patients aged `min` and over: a different `min` is a different query. */
const aged = (min: number) => ({ version: 1, cohort: { patient: { age: { min, max: 90 } } } });

/** A node's answer to the run, with the budget a laplace node reports. */
function answerOf(node: string, run: FanoutRun, fields: Partial<NodeResult> = {}): NodeOutcome {
  const result = nodeResultOf(node, run.queryHash, {
    budget: {
      cost: 0.25,
      periodDays: 30,
      project: { spent: 0.25, limit: 10 },
      researcher: { spent: 0.25, limit: 5 },
    },
    ...fields,
  });
  return { node, status: 'ok', elapsedMs: 3, attempts: 1, result };
}

/** Every node answers, and says so as it does. */
function answering(run: FanoutRun): Promise<NodeOutcome[]> {
  const outcomes = run.nodes.map((node) => answerOf(node, run));
  for (const outcome of outcomes) run.onNodeOutcome(outcome);
  return Promise.resolve(outcomes);
}

interface Harness {
  readonly service: QueryService;
  readonly admission: Admission;
  readonly store: Store;
  readonly runs: FanoutRun[];
  readonly refusals: string[];
  /** The kind of each refusal, as the refusals metric labels it. */
  readonly refusalKinds: string[];
  readonly cacheHits: () => number;
  readonly failures: string[];
  readonly logLines: Record<string, unknown>[];
  /** Moves the service's clock on. */
  advance(seconds: number): void;
  /** What a node's health probe would report: the data version it now serves. */
  noteDataVersion(node: string, version: string): void;
  /** Submits as the query route does; `waitMs` as `Prefer: wait` asks. */
  submit(
    researcher: Researcher,
    body: unknown,
    waitMs?: number,
  ): ReturnType<QueryService['submit']>;
}

let supervisor: Supervisor;
let store: Store;

function harness(
  options: {
    readonly rules?: Partial<ProjectRules>;
    readonly runFanout?: (run: FanoutRun) => Promise<NodeOutcome[]>;
    readonly store?: (store: Store) => Store;
    readonly resultTtlSec?: number;
    readonly admission?: Partial<AdmissionLimits>;
    readonly warningsFor?: (query: unknown) => Promise<NonNullable<MergedResult['warnings']>>;
  } = {},
): Harness {
  let now = T0;
  const runs: FanoutRun[] = [];
  const refusals: string[] = [];
  const refusalKinds: string[] = [];
  const failures: string[] = [];
  const logLines: Record<string, unknown>[] = [];
  let cacheHits = 0;
  const versions = new Map<string, string>();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  supervisor = createSupervisor({
    logger: pino({ level: 'info' }, sink),
    failures: { inc: ({ task }) => failures.push(task) },
  });
  const runFanout = options.runFanout ?? answering;
  const admission = createAdmission({
    maxConcurrentQueries: 100,
    maxConcurrentPerResearcher: 100,
    ...options.admission,
  });
  const service = createQueryService({
    admission,
    store: options.store?.(store) ?? store,
    projects: { diabetes: { ...RULES, ...options.rules } },
    runFanout: (run) => {
      runs.push(run);
      return runFanout(run);
    },
    merge: mergeResults,
    minNodes: 1,
    resultTtlSec: options.resultTtlSec ?? 0,
    dataVersionOf: (node) => versions.get(node),
    noteDataVersion: (node, version) => versions.set(node, version),
    onRefusal: (reason, kind) => {
      refusals.push(reason);
      refusalKinds.push(kind);
    },
    onCacheHit: () => (cacheHits += 1),
    ...(options.warningsFor ? { warningsFor: options.warningsFor } : {}),
    now: () => now,
    background: supervisor,
  });
  return {
    service,
    admission,
    store,
    runs,
    refusals,
    refusalKinds,
    cacheHits: () => cacheHits,
    failures,
    logLines,
    advance(seconds) {
      now = new Date(now.getTime() + seconds * 1000);
    },
    noteDataVersion: (node, version) => void versions.set(node, version),
    submit: (researcher, body, waitMs) =>
      service.submit({
        researcher,
        body,
        mediaType: 'query',
        project: 'diabetes',
        requestId: `req-${runs.length}`,
        ...(waitMs === undefined ? {} : { waitMs }),
      }),
  };
}

/** The problem a promise rejects with. */
async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ProblemError))
    throw new Error(`expected a ProblemError, got ${String(err)}`);
  return err;
}

const actions = (entries: readonly AuditEntry[]) =>
  entries.map((e) => `${e.action}:${e.outcome}:${e.actor}`);

beforeEach(() => {
  store = createMemoryStore();
});

afterEach(async () => {
  await supervisor.close();
  await store.close();
});

describe('a job', () => {
  it('is recorded running, fans out, and ends done with the merged answer and its audit trail', async () => {
    const h = harness();
    const events: JobEvent[] = [];
    const job = await h.submit(ANNA, aged(40));
    h.service.subscribe(job.id, (event) => events.push(event));
    expect(job).toMatchObject({ status: 'running', researcher: 'r-anna', project: 'diabetes' });
    expect(job.nodes).toEqual(['alpha', 'beta']);
    // The reference date is pinned at submission, so the hash names one question.
    expect(job.query.asOf).toBe('2026-11-20');

    const done = await h.service.wait(job, 60_000);
    expect(done).toMatchObject({ id: job.id, status: 'done' });
    expect(done.status === 'done' && done.result).toMatchObject({
      queryId: job.id,
      asOf: '2026-11-20',
      complete: true,
    });
    await supervisor.idle();
    expect(await h.service.get(job.id, ANNA)).toEqual(done);
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]).toMatchObject({
      nodes: ['alpha', 'beta'],
      queryHash: job.queryHash,
      caller: { sub: 'r-anna', project: 'diabetes' },
    });

    // Outcomes are kept, and shown, as progress: status and timing, no figures.
    const outcomes = await h.service.outcomes(job.id);
    expect(outcomes.map((o) => [o.node, o.status])).toEqual([
      ['alpha', 'ok'],
      ['beta', 'ok'],
    ]);
    expect(outcomes.every((o) => o.result === undefined)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['result']);

    // One audit entry for the whole query: who asked, and every figure released.
    const entries = await store.auditEntries();
    expect(actions(entries)).toEqual(['query.result:released:r-anna']);
    const released = done.status === 'done' ? done.result : undefined;
    expect(entries[0]).toMatchObject({
      queryHash: job.queryHash,
      project: 'diabetes',
      detail: {
        job: job.id,
        complete: true,
        total: JSON.parse(JSON.stringify(released?.total)),
        nodes: released?.nodes.map((n) => ({
          node: n.node,
          status: 'ok',
          total: JSON.parse(JSON.stringify(n.result?.total)),
        })),
      },
    });
    expect(await store.verifyAudit()).toEqual({ ok: true, count: 1 });
    expect(await h.service.list(ANNA)).toMatchObject([{ id: job.id, status: 'done' }]);
  });

  it('is not found by anyone but its researcher', async () => {
    const h = harness();
    const job = await h.submit(ANNA, aged(40));
    await supervisor.idle();
    const problem = await problemOf(h.service.get(job.id, BRUNO));
    expect(problem).toMatchObject({ code: 'ERR_NOT_FOUND', status: 404 });
    expect(await h.service.list(BRUNO)).toEqual([]);
  });

  it('fails with the fan-out problem code when the fan-out fails', async () => {
    const h = harness({ runFanout: () => Promise.reject(gatewayProblem('ERR_OVERLOADED')) });
    const job = await h.submit(ANNA, aged(40));
    await supervisor.idle();
    expect(await h.service.get(job.id, ANNA)).toMatchObject({
      status: 'failed',
      errorCode: 'ERR_OVERLOADED',
      result: null,
    });
    expect(h.failures).toEqual([]);
  });
});

describe('warnings', () => {
  const E11 = { system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11' };
  const X99 = { system: 'http://hl7.org/fhir/sid/icd-10', code: 'X99' };
  /** Warns about X99 wherever the query as submitted names it. */
  const warningsFor = (query: unknown) =>
    Promise.resolve(
      (
        (query as { cohort: { any: { condition: { code: { code: string }[] } }[] } }).cohort.any ??
        []
      )
        .flatMap((c, i) => (c.condition.code[0]!.code === 'X99' ? [i] : []))
        .map((i) => ({
          code: 'WARN_CODE_NOT_HELD' as const,
          pointer: `/cohort/any/${i}/condition/code/0/code`,
          detail: 'no node holds X99',
        })),
    );
  const either = (...codes: (typeof E11)[]) => ({
    version: 1,
    cohort: { any: codes.map((c) => ({ condition: { code: [c] } })) },
  });

  it('are added to the merged answer, pointing into the query as submitted', async () => {
    const h = harness({ warningsFor });
    const job = await h.submit(ANNA, either(E11, X99));
    await supervisor.idle();
    const done = await h.service.get(job.id, ANNA);
    expect(done.result?.warnings).toEqual([
      {
        code: 'WARN_CODE_NOT_HELD',
        pointer: '/cohort/any/1/condition/code/0/code',
        detail: 'no node holds X99',
      },
    ]);
    expect(done.result?.total).toBeDefined();
  });

  it("follow each researcher's wording on a cached answer, and a failing catalogue adds none", async () => {
    const h = harness({ resultTtlSec: 300, warningsFor });
    await h.submit(ANNA, either(E11, X99));
    await supervisor.idle();
    const again = await h.submit(BRUNO, either(X99, E11));
    expect(h.cacheHits()).toBe(1);
    expect(again.result?.warnings?.map((w) => w.pointer)).toEqual([
      '/cohort/any/0/condition/code/0/code',
    ]);

    const quiet = harness({ warningsFor: () => Promise.reject(new Error('catalogue down')) });
    const job = await quiet.submit(ANNA, either(X99));
    await supervisor.idle();
    const done = await quiet.service.get(job.id, ANNA);
    expect(done.status).toBe('done');
    expect(done.result?.warnings).toBeUndefined();
  });
});

describe('the result cache', () => {
  it('answers a repeated question on unchanged data without asking a node, without budgets', async () => {
    const h = harness({ resultTtlSec: 300 });
    const first = await h.submit(ANNA, aged(40));
    await supervisor.idle();
    const firstDone = await h.service.get(first.id, ANNA);
    expect(JSON.stringify(firstDone.result)).toContain('"budget"');

    h.advance(10);
    const again = await h.submit(BRUNO, aged(40));
    expect(again.status).toBe('done');
    expect(h.runs).toHaveLength(1);
    expect(h.cacheHits()).toBe(1);
    expect(again.status === 'done' && again.result).toMatchObject({
      queryId: again.id,
      total: firstDone.status === 'done' ? firstDone.result.total : undefined,
    });
    // Budgets are what one researcher spent: never in what another is shown.
    expect(JSON.stringify(again.result)).not.toContain('"budget"');
    expect(await h.service.get(again.id, BRUNO)).toMatchObject({ status: 'done' });
    expect((await store.auditEntries()).at(-1)).toMatchObject({
      actor: 'r-bruno',
      action: 'query.result',
      outcome: 'released',
      detail: { job: again.id, cached: true },
    });
  });

  it('is not used for another question or once the entry expired', async () => {
    const h = harness({ resultTtlSec: 300 });
    await h.submit(ANNA, aged(40));
    await supervisor.idle();

    await h.submit(ANNA, aged(41));
    await supervisor.idle();
    expect(h.runs).toHaveLength(2);

    h.advance(301);
    await h.submit(ANNA, aged(40));
    await supervisor.idle();
    expect(h.runs).toHaveLength(3);
    expect(h.cacheHits()).toBe(0);
  });

  it('is not used once a node reports new data', async () => {
    const h = harness({ resultTtlSec: 300 });
    await h.submit(ANNA, aged(50));
    await supervisor.idle();
    // A health probe (or any answer) tells the gateway alpha has new data.
    h.noteDataVersion('alpha', 'v2');
    const again = await h.submit(ANNA, aged(50));
    expect(again.status).toBe('running');
    await supervisor.idle();
    expect(h.runs).toHaveLength(2);
    expect(h.cacheHits()).toBe(0);
  });

  it('keeps nothing when the TTL is 0', async () => {
    const h = harness({ resultTtlSec: 0 });
    await h.submit(ANNA, aged(40));
    await supervisor.idle();
    const again = await h.submit(ANNA, aged(40));
    expect(again.status).toBe('running');
    await supervisor.idle();
    expect(h.runs).toHaveLength(2);
    expect(h.cacheHits()).toBe(0);
  });
});

describe('cancellation', () => {
  it('aborts the fan-out, ends the job cancelled and keeps the outcomes that had arrived', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const h = harness({
      runFanout: (run) => {
        run.onNodeOutcome(answerOf('alpha', run));
        started();
        // beta never answers; the fan-out ends when it is aborted.
        return new Promise((resolve) => {
          run.signal.addEventListener('abort', () =>
            resolve([answerOf('alpha', run), { node: 'beta', status: 'unavailable' }]),
          );
        });
      },
    });
    const job = await h.submit(ANNA, aged(40));
    const events: JobEvent[] = [];
    h.service.subscribe(job.id, (event) => events.push(event));
    await running;
    expect(h.service.isRunningHere(job.id)).toBe(true);

    const cancelled = await h.service.cancel(job.id, ANNA);
    expect(cancelled).toMatchObject({ id: job.id, status: 'cancelled' });
    expect(h.runs[0]?.signal.aborted).toBe(true);
    await supervisor.idle();

    expect(await h.service.get(job.id, ANNA)).toMatchObject({ status: 'cancelled', result: null });
    expect(h.service.isRunningHere(job.id)).toBe(false);
    expect(await store.nodeOutcomes(job.id)).toEqual([
      expect.objectContaining({ node: 'alpha', status: 'ok' }),
    ]);
    expect(events.filter((e) => e.type === 'result')).toMatchObject([
      { type: 'result', job: { status: 'cancelled' } },
    ]);
    const trail = actions(await store.auditEntries());
    expect(trail).toContain('query.cancel:failed:r-anna');
    expect(trail.some((a) => a.startsWith('query.result'))).toBe(false);
  });

  it('leaves a finished job as it was', async () => {
    const h = harness();
    const job = await h.submit(ANNA, aged(40));
    await supervisor.idle();
    expect(await h.service.cancel(job.id, ANNA)).toMatchObject({ status: 'done' });
    expect(actions(await store.auditEntries())).not.toContain('query.cancel:failed:r-anna');
  });

  it("is refused for someone else's job, which goes on", async () => {
    let release!: () => void;
    const h = harness({
      runFanout: (run) =>
        new Promise((resolve) => (release = () => resolve(run.nodes.map((n) => answerOf(n, run))))),
    });
    const job = await h.submit(ANNA, aged(40));
    const problem = await problemOf(h.service.cancel(job.id, BRUNO));
    expect(problem.code).toBe('ERR_NOT_FOUND');
    release();
    await supervisor.idle();
    expect((await h.service.get(job.id, ANNA)).status).toBe('done');
  });
});

describe('rate limits', () => {
  it('refuse a researcher over the per-minute limit, audited, and count no one else', async () => {
    const h = harness({ rules: { queriesPerMinute: 2 } });
    await h.submit(ANNA, aged(40));
    h.advance(5);
    await h.submit(ANNA, aged(41));
    h.advance(5);
    const problem = await problemOf(h.submit(ANNA, aged(42)));
    expect(problem).toMatchObject({ code: 'ERR_RATE_LIMITED', status: 429 });
    // Two a minute is one every 30 s with a burst of two (threat 57): the
    // hits at 10:00:00 and 10:00:05 leave the next allowed at 10:00:30.
    expect(problem.retryAfter).toBe(20);
    expect(h.refusals).toEqual(['per-minute']);
    expect(h.runs).toHaveLength(2);

    // Another researcher has a counter of her own.
    expect((await h.submit(BRUNO, aged(42))).status).toBe('running');
    await supervisor.idle();

    const refused = (await store.auditEntries()).filter((e) => e.outcome === 'refused');
    expect(refused).toMatchObject([
      {
        actor: 'r-anna',
        action: 'query.submit',
        detail: { code: 'ERR_RATE_LIMITED', reason: 'per-minute' },
      },
    ]);
    expect(await store.listJobs('r-anna')).toHaveLength(2);

    // Once Retry-After has passed she is let in again.
    h.advance(20);
    expect((await h.submit(ANNA, aged(43))).status).toBe('running');
  });

  it('refuse the same question asked too often, with an alert in the audit log', async () => {
    const h = harness({ rules: { repeatsPerWindow: 1 } });
    await h.submit(ANNA, aged(40));
    const problem = await problemOf(h.submit(ANNA, aged(40)));
    expect(problem).toMatchObject({ code: 'ERR_RATE_LIMITED', status: 429 });
    expect(h.refusals).toEqual(['repeat']);
    // Another question is still allowed.
    expect((await h.submit(ANNA, aged(41))).status).toBe('running');
    await supervisor.idle();
    // Its one audit entry is an alert.
    expect((await store.auditEntries()).filter((e) => e.outcome === 'alert')).toMatchObject([
      {
        action: 'query.submit',
        actor: 'r-anna',
        detail: { code: 'ERR_RATE_LIMITED', reason: 'repeat' },
      },
    ]);
  });

  it('refuse an unknown project and a disallowed measure, audited', async () => {
    const h = harness({ rules: { measures: ['count'] } });
    const unknown = await problemOf(
      h.service.submit({
        researcher: ANNA,
        body: aged(40),
        mediaType: 'query',
        project: 'oncology',
        requestId: 'req-x',
      }),
    );
    expect(unknown).toMatchObject({ code: 'ERR_FORBIDDEN', status: 403 });
    const measure = await problemOf(
      h.submit(ANNA, {
        ...aged(40),
        measures: [
          {
            summary: {
              observation: [{ system: 'http://loinc.org', code: '39156-5' }],
              unit: 'kg/m2',
            },
          },
        ],
      }),
    );
    expect(measure).toMatchObject({ code: 'ERR_FORBIDDEN', status: 403 });
    expect(h.refusals).toEqual(['project', 'authorisation']);
    expect((await store.auditEntries()).every((e) => e.outcome === 'refused')).toBe(true);
    expect(h.runs).toHaveLength(0);
  });
});

describe('a store that cannot record a failure', () => {
  it('costs one job, logged and counted by the supervisor, and the service goes on', async () => {
    // The first query's fan-out fails, which sends it to the failing failJob;
    // every later one answers.
    let calls = 0;
    const h = harness({
      store: (real) => ({
        ...real,
        failJob: () => Promise.reject(new Error('store unavailable')),
      }),
      runFanout: (run) => {
        calls += 1;
        return calls === 1 ? Promise.reject(gatewayProblem('ERR_OVERLOADED')) : answering(run);
      },
    });

    const lost = await h.submit(ANNA, aged(20));
    await supervisor.idle();
    expect(h.failures).toEqual(['query']);
    expect(h.logLines).toContainEqual(
      expect.objectContaining({
        level: 50,
        task: 'query',
        msg: 'background task failed',
        err: expect.objectContaining({ message: 'store unavailable' }) as unknown,
      }),
    );
    // The job could not be marked failed; it stays as the store last saw it.
    expect((await store.getJob(lost.id))?.status).toBe('running');

    const next = await h.submit(ANNA, aged(30));
    await supervisor.idle();
    const done = await h.service.get(next.id, ANNA);
    expect(done.status).toBe('done');
    expect(done.status === 'done' && done.result.total).toMatchObject({ count: 84 });
    expect(h.failures).toEqual(['query']);
  });
});

describe('threat 53: probing project names', () => {
  const CARLA: Researcher = { sub: 'r-carla', projects: ['cardio'], scopes: ['tessera:query'] };
  const submitTo = (h: Harness, project: string, body: unknown) =>
    problemOf(
      h.service.submit({
        researcher: CARLA,
        body,
        mediaType: 'query',
        project,
        requestId: 'req-p',
      }),
    );
  const shown = (p: ProblemError) => ({
    status: p.status,
    code: p.code,
    title: p.title,
    detail: p.detail,
  });

  it('answers a project that does not exist and one the researcher is not in alike', async () => {
    const h = harness();
    for (const body of [aged(40), { version: 1, cohort: { nonsense: true } }]) {
      const missing = await submitTo(h, 'no-such-project', body);
      const foreign = await submitTo(h, 'diabetes', body);
      expect(shown(missing)).toEqual(shown(foreign));
      expect(missing).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
    }
    expect(h.runs).toHaveLength(0);
  });
});

describe('threat 55: every refusal is audited and counted by kind', () => {
  const refusedAudit = async () =>
    (await store.auditEntries())
      .filter((e) => e.outcome === 'refused')
      .map((e) => (e.detail as { code: string }).code);

  it('audits a missing project, an invalid query and an unsupported CCDL document', async () => {
    const h = harness();
    const TWO: Researcher = { ...ANNA, projects: ['diabetes', 'cardio'] };
    await problemOf(
      h.service.submit({
        researcher: TWO,
        body: aged(40),
        mediaType: 'query',
        project: undefined,
        requestId: 'req-a',
      }),
    );
    await problemOf(h.submit(ANNA, { version: 1, cohort: { nonsense: true } }));
    await problemOf(
      h.service.submit({
        researcher: ANNA,
        body: { resourceType: 'Bundle', nonsense: true },
        mediaType: 'ccdl',
        project: 'diabetes',
        requestId: 'req-c',
      }),
    );
    const codes = await refusedAudit();
    expect(codes[0]).toBe('ERR_PROJECT_REQUIRED');
    expect(codes[1]).toBe('ERR_QUERY_INVALID');
    expect(codes).toHaveLength(3);
    expect(h.refusals).toHaveLength(3);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('audits a query turned away at capacity, counted as kind "capacity"', async () => {
    const held = holding();
    const h = harness({ runFanout: held.run, admission: { maxConcurrentQueries: 1 } });
    await h.submit(ANNA, aged(40));
    await problemOf(h.submit(BRUNO, aged(41)));
    held.release();
    await supervisor.idle();
    expect(await refusedAudit()).toEqual(['ERR_OVERLOADED']);
    expect(h.refusals).toEqual(['capacity']);
    expect(h.refusalKinds).toEqual(['capacity']);
  });

  it('tells rate limiting from authorisation', async () => {
    const h = harness({ rules: { queriesPerMinute: 1, measures: ['count'] } });
    await h.submit(ANNA, aged(40));
    await problemOf(h.submit(ANNA, aged(41)));
    await problemOf(
      h.service.submit({
        researcher: ANNA,
        body: aged(40),
        mediaType: 'query',
        project: 'oncology',
        requestId: 'req-x',
      }),
    );
    expect(h.refusalKinds).toEqual(['rate-limit', 'authorisation']);
  });
});

/** A fan-out that holds every run until released, as a hung node would. */
function holding(): { run: (run: FanoutRun) => Promise<NodeOutcome[]>; release: () => void } {
  const waiting: (() => void)[] = [];
  return {
    run: (run) => new Promise((resolve) => waiting.push(() => resolve(answering(run)))),
    release: () => {
      for (const go of waiting.splice(0)) go();
    },
  };
}

/** The store, with the name of every call made to it written down. */
function recording(calls: string[]): (store: Store) => Store {
  return (real) =>
    new Proxy(real, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(key));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
}

describe('the durable writes of a query', () => {
  it('are one, with its audit entry, for a query answered while its researcher waits', async () => {
    const calls: string[] = [];
    const h = harness({ store: recording(calls) });
    const done = await h.submit(ANNA, aged(40), 5_000);
    expect(done).toMatchObject({ status: 'done' });
    // Limits counted, then the job written once, finished, with its one entry.
    expect(calls.filter((c) => c !== 'hit' && c !== 'getCachedResult')).toEqual([
      'appendAudit',
      'createJob',
    ]);
    expect(await h.service.get(done.id, ANNA)).toEqual(done);
    expect(actions(await store.auditEntries())).toEqual(['query.result:released:r-anna']);
    expect(await h.service.outcomes(done.id)).toMatchObject([
      { node: 'alpha', status: 'ok' },
      { node: 'beta', status: 'ok' },
    ]);
  });

  it('store a query still running when the wait ends before its id is handed out', async () => {
    const held = holding();
    const h = harness({ runFanout: held.run });
    const job = await h.submit(ANNA, aged(40), 20);
    expect(job).toMatchObject({ status: 'running' });
    // Another replica asked for it now finds it.
    expect(await store.getJob(job.id)).toMatchObject({ status: 'running' });
    held.release();
    await supervisor.idle();
    expect(await h.service.get(job.id, ANNA)).toMatchObject({ status: 'done' });
    expect(actions(await store.auditEntries())).toEqual(['query.result:released:r-anna']);
  });

  it('write a failure once too, audited with its code and what the nodes did', async () => {
    const h = harness({
      runFanout: (run) => {
        run.onNodeOutcome({ node: 'alpha', status: 'timeout', elapsedMs: 9, attempts: 1 });
        return Promise.reject(gatewayProblem('ERR_INTERNAL'));
      },
    });
    const failed = await h.submit(ANNA, aged(40), 5_000);
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'ERR_INTERNAL' });
    expect(await h.service.get(failed.id, ANNA)).toMatchObject({ status: 'failed' });
    expect(await store.auditEntries()).toMatchObject([
      {
        action: 'query.result',
        outcome: 'failed',
        detail: {
          job: failed.id,
          code: 'ERR_INTERNAL',
          nodes: [{ node: 'alpha', status: 'timeout' }],
        },
      },
    ]);
  });

  it('answer a researcher waiting when the gateway stops, and leave no job running', async () => {
    const h = harness({
      runFanout: (run) =>
        new Promise((resolve) => run.signal.addEventListener('abort', () => resolve([]))),
    });
    const waiting = h.submit(ANNA, aged(40), 30_000);
    await vi.waitFor(() => expect(h.runs).toHaveLength(1));
    h.service.abortAll();
    const ended = await waiting;
    expect(ended).toMatchObject({ status: 'failed', errorCode: 'ERR_GATEWAY_RESTARTED' });
    expect(await store.getJob(ended.id)).toMatchObject({ status: 'failed' });
  });
});

describe('threat 59: capacity is decided at submission', () => {
  it("refuses past the replica's capacity with 503 and Retry-After: no job, no quota, no store awaited", async () => {
    const held = holding();
    const calls: string[] = [];
    const h = harness({
      runFanout: held.run,
      store: recording(calls),
      admission: { maxConcurrentQueries: 2 },
      rules: { queriesPerMinute: 3 },
    });
    expect((await h.submit(ANNA, aged(40))).status).toBe('running');
    expect((await h.submit(BRUNO, aged(41))).status).toBe('running');
    calls.length = 0;

    const refused = await problemOf(h.submit(ANNA, aged(42)));
    expect(refused).toMatchObject({ code: 'ERR_OVERLOADED', status: 503, retryAfter: 1 });
    // Answered from memory: the refusal's audit entry is the only store call,
    // and it is written behind the answer.
    expect(calls).toEqual(['appendAudit']);
    expect(h.runs).toHaveLength(2);

    held.release();
    await supervisor.idle();
    expect(await store.listJobs('r-anna')).toHaveLength(1);
    // The refused query spent none of her three a minute: two more go through.
    for (const min of [43, 44]) {
      expect((await h.submit(ANNA, aged(min))).status).toBe('running');
      held.release();
      await supervisor.idle();
    }
    expect(await problemOf(h.submit(ANNA, aged(45)))).toMatchObject({ code: 'ERR_RATE_LIMITED' });
  });

  it('refuses a researcher holding her share with 429, and lets the others in', async () => {
    const held = holding();
    const h = harness({ runFanout: held.run, admission: { maxConcurrentPerResearcher: 2 } });
    await h.submit(ANNA, aged(40));
    await h.submit(ANNA, aged(41));
    const refused = await problemOf(h.submit(ANNA, aged(42)));
    expect(refused).toMatchObject({ code: 'ERR_TOO_MANY_RUNNING', status: 429, retryAfter: 1 });
    expect((await h.submit(BRUNO, aged(42))).status).toBe('running');
    expect(h.refusals).toEqual(['running']);

    // Once her queries end, she is let in again.
    held.release();
    await supervisor.idle();
    expect((await h.submit(ANNA, aged(42))).status).toBe('running');
    held.release();
  });

  it('turns away a researcher holding her share before her query is read', async () => {
    const held = holding();
    const calls: string[] = [];
    const h = harness({
      runFanout: held.run,
      store: recording(calls),
      admission: { maxConcurrentPerResearcher: 1 },
    });
    await h.submit(ANNA, aged(40));
    calls.length = 0;
    // Not even parsed: a flood is refused for the cost of a lookup.
    const refused = await problemOf(h.submit(ANNA, { not: 'a query' }));
    expect(refused).toMatchObject({ code: 'ERR_TOO_MANY_RUNNING', status: 429 });
    expect(calls).toEqual(['appendAudit']);
    held.release();
    await supervisor.idle();
    const refusals = (await store.auditEntries()).filter((e) => e.outcome === 'refused');
    expect(refusals).toMatchObject([
      { queryHash: 'sha256:unknown', detail: { code: 'ERR_TOO_MANY_RUNNING', reason: 'running' } },
    ]);
  });

  it('gives the place back on every path: done, failed, cancelled, cached, refused, store failure', async () => {
    let fail = false;
    const h = harness({
      resultTtlSec: 300,
      rules: { queriesPerMinute: 5 },
      runFanout: (run) => (fail ? Promise.reject(gatewayProblem('ERR_INTERNAL')) : answering(run)),
    });
    h.noteDataVersion('alpha', 'v1');
    h.noteDataVersion('beta', 'v1');
    await h.submit(ANNA, aged(40)); // done
    await supervisor.idle();
    await h.submit(ANNA, aged(40)); // cached
    fail = true;
    await h.submit(ANNA, aged(41)); // failed
    await supervisor.idle();
    expect(h.admission.running()).toBe(0);

    const held = holding();
    const h2 = harness({ runFanout: held.run });
    const job = await h2.submit(ANNA, aged(50));
    expect(h2.admission.running()).toBe(1);
    await h2.service.cancel(job.id, ANNA);
    held.release();
    await supervisor.idle();
    expect(h2.admission.running()).toBe(0);

    // The harnesses share one store, and with it Anna's counters so far.
    const h3 = harness({ rules: { queriesPerMinute: 1 } });
    await h3.submit(BRUNO, aged(60));
    await problemOf(h3.submit(BRUNO, aged(61))); // rate-limited
    await supervisor.idle();
    expect(h3.admission.running()).toBe(0);

    const h4 = harness({
      store: (real) => ({ ...real, createJob: () => Promise.reject(new Error('store down')) }),
    });
    await h4.submit(ANNA, aged(70)).catch(() => undefined);
    expect(h4.admission.running()).toBe(0);
  });
});
