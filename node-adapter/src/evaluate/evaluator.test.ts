// The evaluation pipeline through its ports, in this process: the real
// disclosure control, output check, repeat limiter and memory release ledger,
// with a stand-in source answering raw figures (or failing, or hanging), a
// stand-in caller verifier, an audit sink kept in an array and a fixed clock.
// Every refusal must be audited and nothing refused may be charged or released.
import { describe, expect, it } from 'vitest';
import type { Cell, NodeResult, ProblemError } from '@tessera/schemas';
import { cell, laplacePolicy, lone, TEST_NOISE_KEY } from '../../test/support/disclosure.ts';
import { type Release, budgetLimits, createMemoryReleaseLedger } from '../disclosure/budget.ts';
import { createDisclosureControl } from '../disclosure/control.ts';
import { assertReleasable } from '../disclosure/output-check.ts';
import type { NodePolicy } from '../disclosure/policy.ts';
import { createRepeatLimiter } from '../disclosure/repeat-limiter.ts';
import type { RawResult } from '../engine/raw-result.ts';
import { nodeProblem } from '../errors.ts';
import { type EvaluationOutcome, createEvaluator } from './evaluator.ts';
import type {
  AuditRecord,
  DisclosureControl,
  QuerySource,
  ReleaseLedger,
  SourceQuery,
} from './ports.ts';

const T0 = new Date('2026-11-20T10:00:00.000Z');
const DATA_VERSION = '2026-11-19T22:00:00Z#a1b2';
const CALLER = { sub: 'r-anna', project: 'diabetes' };

/** A count-only question; a different `min` is a different question (another hash). */
const aged = (min: number) => ({
  version: 1,
  cohort: { patient: { gender: ['female'], age: { min, max: 79 } } },
  measures: [{ count: 'patients' }],
});

/** A question with every kind of part: strata, a histogram and a summary. */
const RICH = {
  version: 1,
  cohort: { condition: { code: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11' }] } },
  stratify: ['gender'],
  measures: [
    { count: 'patients' },
    {
      histogram: {
        observation: [{ system: 'http://loinc.org', code: '4548-4' }],
        unit: '%',
        edges: [4, 5.7, 6.5, 8, 10],
      },
    },
    { summary: { observation: [{ system: 'http://loinc.org', code: '39156-5' }], unit: 'kg/m2' } },
  ],
};

const bodyOf = (value: unknown): Uint8Array =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

const asked = (query: unknown) => ({
  rawBody: bodyOf({ query, requestId: 'req-1' }),
  authorization: 'Bearer signed-by-the-gateway',
});

/** What the source does when asked. */
type SourceBehaviour = (query: SourceQuery, signal: AbortSignal) => Promise<RawResult>;

const answers =
  (raw: RawResult): SourceBehaviour =>
  () =>
    Promise.resolve(raw);

/** A source that never answers: only the evaluation timeout ends the wait. */
const hangs: SourceBehaviour = () => new Promise<never>(() => undefined);

interface Pipeline {
  evaluate(request: {
    rawBody: Uint8Array;
    authorization: string | undefined;
    deadlineMs?: number;
  }): Promise<EvaluationOutcome>;
  readonly audit: AuditRecord[];
  /** Releases the ledger charged (budget refusals are not among them). */
  readonly charged: Release[];
  /** Every query the source was asked, with the signal it was given. */
  readonly asked: { query: SourceQuery; signal: AbortSignal }[];
  readonly control: DisclosureControl;
}

function pipeline(
  options: {
    readonly policy?: NodePolicy;
    readonly source?: SourceBehaviour;
    readonly disclosure?: (real: DisclosureControl) => DisclosureControl;
    readonly evaluationTimeoutMs?: number;
    readonly projects?: readonly string[];
  } = {},
): Pipeline {
  const policy = options.policy ?? laplacePolicy();
  const control = createDisclosureControl(policy, TEST_NOISE_KEY);
  const audit: AuditRecord[] = [];
  const charged: Release[] = [];
  const seen: Pipeline['asked'] = [];
  const behaviour = options.source ?? answers(lone(cell(120)));
  const source: QuerySource = {
    evaluate(query, signal) {
      seen.push({ query, signal });
      return behaviour(query, signal);
    },
    dataVersion: () => Promise.resolve(DATA_VERSION),
  };
  const memory = createMemoryReleaseLedger(budgetLimits(policy));
  const ledger: ReleaseLedger = {
    charge(release) {
      const decision = memory.charge(release);
      if (decision.kind === 'recorded') charged.push(release);
      return decision;
    },
    record: (release) => memory.record(release),
  };
  let tick = 0;
  const evaluate = createEvaluator({
    nodeId: 'lombardia',
    projects: options.projects ?? ['diabetes'],
    source,
    verifier: {
      verify: (authorization) =>
        authorization === undefined
          ? Promise.reject(new Error('no token'))
          : Promise.resolve(CALLER),
    },
    disclosure: options.disclosure?.(control) ?? control,
    ledger,
    repeats: createRepeatLimiter(policy.repeatLimit),
    audit: { append: (record) => Promise.resolve(void audit.push(record)) },
    checkOutput: (result) => assertReleasable(result),
    evaluationTimeoutMs: options.evaluationTimeoutMs ?? 30_000,
    clock: { now: () => T0, monotonicMs: () => (tick += 5) },
  });
  return { evaluate, audit, charged, asked: seen, control };
}

function released(outcome: EvaluationOutcome): NodeResult {
  if (outcome.kind !== 'released') {
    throw new Error(`expected a release, got ${outcome.error.code}: ${outcome.error.message}`);
  }
  return outcome.result;
}

function refused(outcome: EvaluationOutcome): ProblemError {
  if (outcome.kind !== 'refused') throw new Error('expected a refusal, got a release');
  return outcome.error;
}

const isSuppressed = (c: Cell): boolean => 'suppressed' in c;

describe('a release', () => {
  it('passes the output check, is charged once and audited with its released figures', async () => {
    const p = pipeline();
    const result = released(await p.evaluate(asked(aged(40))));
    expect(() => assertReleasable(result)).not.toThrow();
    expect(result).toMatchObject({
      node: 'lombardia',
      dataVersion: DATA_VERSION,
      evaluatedAt: T0.toISOString(),
      disclosure: { mechanism: 'laplace', threshold: 10 },
    });
    expect(result.queryHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.budget).toMatchObject({ cost: expect.any(Number) as unknown });
    expect(result.budget!.cost).toBeGreaterThan(0);

    expect(p.charged).toHaveLength(1);
    expect(p.charged[0]).toMatchObject({
      project: 'diabetes',
      researcher: 'r-anna',
      queryHash: result.queryHash,
      dataVersion: DATA_VERSION,
      released: { total: result.total },
    });
    expect(p.audit).toEqual([
      {
        actor: 'r-anna',
        project: 'diabetes',
        queryHash: result.queryHash,
        action: 'evaluate',
        outcome: 'released',
        detail: { dataVersion: DATA_VERSION, total: result.total },
      },
    ]);
    // The source was asked the question with its reference date pinned.
    expect(p.asked[0]?.query.asOf).toBe('2026-11-20');
  });

  it('of the same question on the same data is the same answer and costs nothing more', async () => {
    const p = pipeline();
    const first = released(await p.evaluate(asked(aged(40))));
    const second = released(await p.evaluate(asked(aged(40))));
    expect(second.total).toEqual(first.total);
    expect(second.budget).toMatchObject({ cost: 0, project: first.budget!.project });
  });
});

describe('the repeat limit', () => {
  it('answers 429 ERR_REPEAT_LIMIT past the limit, with an alert and a refusal audited', async () => {
    const p = pipeline({ policy: laplacePolicy({ repeatLimit: { count: 2, windowSeconds: 60 } }) });
    released(await p.evaluate(asked(aged(40))));
    released(await p.evaluate(asked(aged(40))));
    const error = refused(await p.evaluate(asked(aged(40))));
    expect(error).toMatchObject({ code: 'ERR_REPEAT_LIMIT', status: 429 });
    expect(p.asked).toHaveLength(2);
    expect(p.charged).toHaveLength(2);
    expect(p.audit.slice(-2)).toMatchObject([
      { actor: 'r-anna', outcome: 'alert', detail: { reason: 'repeat-limit' } },
      { actor: 'r-anna', outcome: 'refused', detail: { code: 'ERR_REPEAT_LIMIT' } },
    ]);
    // Another question is not limited by this one.
    released(await p.evaluate(asked(aged(41))));
  });
});

describe('the privacy budget', () => {
  it('answers 429 ERR_BUDGET_EXHAUSTED with nothing released or charged once spent', async () => {
    // Two count-only questions spend it (each costs one table's epsilon).
    const policy = laplacePolicy({
      laplace: { epsilon: 0.25, projectBudget: 0.5, researcherBudget: 0.5 },
    });
    const p = pipeline({ policy });
    const first = released(await p.evaluate(asked(aged(40))));
    const second = released(await p.evaluate(asked(aged(41))));
    expect([first.budget?.project.spent, second.budget?.project.spent]).toEqual([0.25, 0.5]);

    const outcome = await p.evaluate(asked(aged(42)));
    const error = refused(outcome);
    expect(error).toMatchObject({ code: 'ERR_BUDGET_EXHAUSTED', status: 429 });
    expect(error.detail).toBe(
      'the project budget at this node has 0 of 0.5 epsilon left in the period; this query costs 0.25',
    );
    expect('result' in outcome).toBe(false);
    expect(p.charged).toHaveLength(2);
    expect(p.audit.at(-1)).toMatchObject({
      outcome: 'refused',
      detail: { code: 'ERR_BUDGET_EXHAUSTED' },
    });
    expect(p.audit.filter((a) => a.outcome === 'released')).toHaveLength(2);

    // A question already paid for is the same draw: it is answered again at no cost.
    const again = released(await p.evaluate(asked(aged(40))));
    expect(again.total).toEqual(first.total);
    expect(again.budget?.cost).toBe(0);
  });
});

describe('an evaluation that fails in a way data could cause (threat 13)', () => {
  /** The answer given when every figure is suppressed, as the disclosure control makes it. */
  function allSuppressed(p: Pipeline, result: NodeResult) {
    const query = p.asked[0]!.query;
    return p.control.suppressedLike(query, {
      queryHash: result.queryHash,
      dataVersion: result.dataVersion,
    });
  }

  it('answers a timeout exactly as if everything were suppressed, and stops the source', async () => {
    const p = pipeline({ source: hangs, evaluationTimeoutMs: 5 });
    const result = released(await p.evaluate(asked(aged(40))));
    const expected = allSuppressed(p, result);
    expect({
      disclosure: result.disclosure,
      total: result.total,
      strata: result.strata,
      measures: result.measures,
    }).toEqual({
      disclosure: expected.disclosure,
      total: expected.total,
      strata: expected.strata,
      measures: expected.measures,
    });
    expect(isSuppressed(result.total)).toBe(true);
    expect(p.asked[0]?.signal.aborted).toBe(true);
    // Suppressed or not, it is a release: charged and audited like any other.
    expect(p.charged).toHaveLength(1);
    expect(p.audit).toMatchObject([{ outcome: 'released' }]);
  });

  it('answers so whatever the shape of the question: strata, histograms, summaries', async () => {
    const p = pipeline({ source: hangs, evaluationTimeoutMs: 5 });
    const result = released(await p.evaluate(asked(RICH)));
    expect(result.strata.map((s) => s.key)).toEqual([
      { gender: 'female' },
      { gender: 'male' },
      { gender: 'other' },
      { gender: 'unknown' },
    ]);
    expect(result.strata.every((s) => isSuppressed(s.cell))).toBe(true);
    expect(result.measures.map((m) => m.type)).toEqual(['count', 'histogram', 'summary']);
    const [, histogram, summary] = result.measures;
    expect(
      histogram?.type === 'histogram' && histogram.bins.every((b) => isSuppressed(b.cell)),
    ).toBe(true);
    expect(summary).toMatchObject({ suppressed: true });
  });

  it("answers the gateway's shorter deadline the same way", async () => {
    const p = pipeline({ source: hangs, evaluationTimeoutMs: 60_000 });
    const result = released(await p.evaluate({ ...asked(aged(40)), deadlineMs: 5 }));
    expect(isSuppressed(result.total)).toBe(true);
    expect(p.asked[0]?.signal.aborted).toBe(true);
  });

  it('answers an arithmetic failure exactly as a timeout', async () => {
    const timedOut = pipeline({ source: hangs, evaluationTimeoutMs: 5 });
    const failed = pipeline({
      source: () => Promise.reject(new RangeError('numeric overflow')),
    });
    const a = released(await timedOut.evaluate(asked(aged(40))));
    const b = released(await failed.evaluate(asked(aged(40))));
    expect({ ...b, elapsedMs: 0 }).toEqual({ ...a, elapsedMs: 0 });
  });

  it('still refuses what the source refuses for a reason of its own', async () => {
    const p = pipeline({
      source: () => Promise.reject(nodeProblem('ERR_SOURCE_UNAVAILABLE')),
    });
    const error = refused(await p.evaluate(asked(aged(40))));
    expect(error).toMatchObject({ code: 'ERR_SOURCE_UNAVAILABLE', status: 503 });
    expect(p.charged).toEqual([]);
    expect(p.audit).toMatchObject([
      { outcome: 'refused', detail: { code: 'ERR_SOURCE_UNAVAILABLE' } },
    ]);
  });
});

describe('the output check (threat 14)', () => {
  it('refuses an answer whose protection let a small count through: audited, nothing charged', async () => {
    // A protection bug: the true total of 3 released as it is.
    const p = pipeline({
      source: answers(lone(cell(3))),
      disclosure: (real) => ({
        ...real,
        protect: (raw, query, release) => ({
          ...real.protect(raw, query, release),
          total: { count: 3 },
        }),
      }),
    });
    const error = refused(await p.evaluate(asked(aged(40))));
    expect(error).toMatchObject({ code: 'ERR_OUTPUT_REJECTED', status: 500 });
    expect(p.charged).toEqual([]);
    expect(p.audit).toEqual([
      {
        actor: 'r-anna',
        project: 'diabetes',
        queryHash: expect.stringMatching(/^sha256:/) as unknown,
        action: 'evaluate',
        outcome: 'refused',
        detail: { code: 'ERR_OUTPUT_REJECTED' },
      },
    ]);
  });
});

describe('every refusal', () => {
  const cases: [string, Parameters<Pipeline['evaluate']>[0], string, number][] = [
    [
      'a body that is not JSON',
      { ...asked(aged(40)), rawBody: bodyOf('{"query":') },
      'ERR_BODY_INVALID',
      400,
    ],
    [
      'a body without a query',
      { ...asked(aged(40)), rawBody: bodyOf({ requestId: 'r' }) },
      'ERR_QUERY_INVALID',
      400,
    ],
    [
      'an unknown key beside the query',
      { ...asked(aged(40)), rawBody: bodyOf({ query: aged(40), requestId: 'r', patientId: 'p1' }) },
      'ERR_QUERY_INVALID',
      400,
    ],
    [
      'an invalid query',
      asked({ version: 1, cohort: { patient: { age: { min: 90, max: 10 } } } }),
      'ERR_QUERY_INVALID',
      400,
    ],
  ];

  it.each(cases)('is audited: %s', async (_name, request, code, status) => {
    const p = pipeline();
    const error = refused(await p.evaluate(request));
    expect(error).toMatchObject({ code, status });
    expect(p.asked).toEqual([]);
    expect(p.charged).toEqual([]);
    expect(p.audit).toEqual([
      {
        actor: 'r-anna',
        project: 'diabetes',
        queryHash: 'sha256:unknown',
        action: 'evaluate',
        outcome: 'refused',
        detail: { code },
      },
    ]);
  });

  it('is audited for a project the node does not answer for', async () => {
    const p = pipeline({ projects: ['oncology'] });
    const error = refused(await p.evaluate(asked(aged(40))));
    expect(error).toMatchObject({ code: 'ERR_PROJECT_NOT_ALLOWED', status: 403 });
    expect(p.asked).toEqual([]);
    expect(p.audit).toMatchObject([
      { actor: 'r-anna', outcome: 'refused', detail: { code: 'ERR_PROJECT_NOT_ALLOWED' } },
    ]);
  });

  it('but an unauthenticated one, which has no caller to name, reads nothing', async () => {
    const p = pipeline();
    await expect(
      p.evaluate({ rawBody: bodyOf('not even JSON'), authorization: undefined }),
    ).rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED', status: 401 });
    expect(p.asked).toEqual([]);
    expect(p.audit).toEqual([]);
  });
});
