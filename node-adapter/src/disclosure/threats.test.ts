// Threats 1-14 (docs: threats.md, "Disclosure (node side)"), each pinned at the
// level of this module: true figures in, released NodeResult parts out. First
// under the default policy (laplace), then, where the threat concerns it, under
// the cell-key option.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Cell,
  type CodeSet,
  type CohortQuery,
  type Expr,
  ProblemError,
  parseQuery,
  queryHash,
} from '@tessera/schemas';
import type { RawCell, RawResult } from '../engine/raw-result.ts';
import { nodeErrors } from '../errors.ts';
import { openFileReleaseLedger } from '../ledger/file-ledger.ts';
import { type Release, budgetLimits, noiseIdOf } from './budget.ts';
import { halfWidth, probabilityOf } from './discrete-laplace.ts';
import { epsilonFor } from './laplace.ts';
import { laplaceDistributions } from './laplace-release.ts';
import { assertReleasable } from './output-check.ts';
import {
  type NodePolicy,
  checkHistogramGrid,
  checkStrataLimits,
  loadPolicy,
  policyQueryLimits,
} from './policy.ts';
import { buildPerturbationTable, perturbationTable } from './perturbation-table.ts';
import { type ProtectedResult, protect } from './protect.ts';
import { createRepeatLimiter } from './repeat-limiter.ts';
import {
  NO_NOISE,
  TEST_NOISE_KEY,
  asNodeResult,
  cell,
  cellKeyPolicy,
  cellOf,
  countOf,
  lone,
  meanErrorSd,
  policyOf,
  queryHashOf,
  recordKeys,
  releaseContext,
  seeded,
  strataKeys,
  summaryOf,
} from '../../test/support/disclosure.ts';

const cohort: Expr = { patient: { gender: ['female'] } };

function stratified(total: RawCell, cells: readonly RawCell[]): RawResult {
  const keys = strataKeys(['gender']);
  return {
    total,
    strata: keys.map((key, i) => ({ key, cell: cells[i]! })),
    overlapping: false,
    measures: [{ type: 'count' }],
  };
}

/** Total variation distance between two samples' empirical distributions. */
function totalVariation(a: readonly number[], b: readonly number[]): number {
  const freq = (xs: readonly number[]) => {
    const m = new Map<number, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1 / xs.length);
    return m;
  };
  const fa = freq(a);
  const fb = freq(b);
  let sum = 0;
  for (const k of new Set([...fa.keys(), ...fb.keys()]))
    sum += Math.abs((fa.get(k) ?? 0) - (fb.get(k) ?? 0));
  return sum / 2;
}

function correlation(xs: readonly number[], ys: readonly number[]): number {
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    const y = ys[i]!;
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

function standardDeviation(xs: readonly number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
}

describe('disclosure threats (node side), default policy (laplace)', () => {
  const policy = policyOf();
  const T = policy.threshold;
  const EPSILON = policy.laplace.epsilon;
  const NOISE = laplaceDistributions(policy).count;
  const BOUND = NOISE.bound; // 75 at epsilon 0.25
  const SUPPRESSED: Cell = {
    suppressed: true,
    range: [0, T - 1 + BOUND],
    interval: [0, T - 1 + halfWidth(NOISE, policy.laplace.confidence)],
  };

  /** The answer to query `q` (its hash) on data version `v`. */
  const answer = (raw: RawResult, q: string, v = 'v1', p: NodePolicy = policy) =>
    protect(raw, p, releaseContext(p, { queryHash: queryHashOf(q), dataVersion: v }));

  /** The released count of a lone cell asked as query `q` (always released in these tests). */
  const releasedAs = (count: number, q: string): number => {
    const out = answer(lone(cell(count)), q).total;
    if (!('count' in out)) throw new Error(`expected ${count} to be released`);
    return out.count;
  };

  it('the default policy is laplace', () => {
    expect(policy.mechanism).toBe('laplace');
    expect(loadPolicy({}, { allowOpen: false }).mechanism).toBe('laplace');
  });

  it('threat 1: a count of 1 to threshold-1 is never released as it is: only a noisy count of at least the threshold whose range holds the truth, or suppressed', () => {
    let releasedSmall = 0;
    for (let count = 0; count <= 3 * T; count++) {
      for (let q = 0; q < 60; q++) {
        const out = answer(lone(cell(count)), `t1 ${q}`).total;
        if ('count' in out) {
          expect(out.count).toBeGreaterThanOrEqual(T);
          expect(out.range![0]).toBeLessThanOrEqual(count);
          expect(out.range![1]).toBeGreaterThanOrEqual(count);
          if (count < T) releasedSmall += 1;
        } else {
          expect(out).toEqual(SUPPRESSED);
        }
      }
    }
    // Small counts do get through now and then, noisy: that is what hides the zeros.
    expect(releasedSmall).toBeGreaterThan(0);
  });

  it('threat 2: one small cell and a released total: every cell is noisy, so the small one cannot be derived', () => {
    const truth = [5, 400, 250, 300];
    const errors: number[] = [];
    for (let q = 0; q < 400; q++) {
      const out = answer(
        stratified(
          cell(955),
          truth.map((c) => cell(c)),
        ),
        `t2 ${q}`,
      );
      const released = out.strata.map((s) => countOf(s.cell));
      for (const c of [out.total, ...out.strata.map((s) => s.cell)]) {
        if ('count' in c) expect(c.perturbed).toBe(true);
      }
      // total - the three large strata: the attacker's estimate of the small one.
      const derived = countOf(out.total)! - released[1]! - released[2]! - released[3]!;
      errors.push(derived - truth[0]!);
    }
    expect(errors.filter((e) => e === 0).length / errors.length).toBeLessThan(0.15);
    expect(standardDeviation(errors)).toBeGreaterThan(4);
  });

  it('threat 3: the same query asked 1,000 times gives the same answer; averaging does not converge to the truth', () => {
    const raw = stratified(cell(420), [cell(200), cell(150), cell(7), cell(63)]);
    const first = JSON.stringify(answer(raw, 't3'));
    for (let i = 0; i < 1000; i++) expect(JSON.stringify(answer(raw, 't3'))).toBe(first);

    // Over many different queries, the average of 200 repeats is each query's
    // one noisy answer: the error stays as large as a single answer's.
    let absError = 0;
    const queries = 100;
    for (let q = 0; q < queries; q++) {
      const count = 50 + q;
      let sum = 0;
      for (let i = 0; i < 200; i++) sum += releasedAs(count, `t3 ${q}`);
      const average = sum / 200;
      expect(average).toBe(releasedAs(count, `t3 ${q}`));
      absError += Math.abs(average - count);
    }
    // E|noise| of discrete Laplace is 2a / (1 - a^2) with a = e^-epsilon (3.96
    // at epsilon 0.25), and so is E|average - count| when averaging gains
    // nothing; the mean of 100 such errors falls short of it by under 4.5
    // standard errors.
    let expected = 0;
    let square = 0;
    for (let k = -BOUND; k <= BOUND; k++) {
      expected += Math.abs(k) * probabilityOf(NOISE, k);
      square += k * k * probabilityOf(NOISE, k);
    }
    const standardError = Math.sqrt((square - expected ** 2) / queries);
    expect(absError / queries).toBeGreaterThan(expected - 4.5 * standardError);
  });

  it('threat 4: rephrasings of one query have one canonical hash, hence one release key, one answer and no new cost', () => {
    const diabetes: CodeSet = [{ system: 'http://snomed.info/sct', code: '44054006' }];
    const asWritten = parseQuery({
      version: 1,
      cohort: { all: [cohort, { condition: { code: diabetes } }] },
      stratify: ['gender'],
    });
    const reordered = parseQuery({
      version: 1,
      cohort: { all: [{ condition: { code: diabetes } }, cohort] },
      stratify: ['gender'],
    });
    expect(queryHash(reordered)).toBe(queryHash(asWritten));
    expect(epsilonFor(reordered, policy)).toBe(epsilonFor(asWritten, policy));

    const raw = stratified(cell(137), [cell(80), cell(50), cell(7), cell(0)]);
    const hash = queryHash(asWritten);
    const one = protect(raw, policy, releaseContext(policy, { queryHash: hash }));
    const other = protect(raw, policy, releaseContext(policy, { queryHash: queryHash(reordered) }));
    expect(other).toEqual(one);
  });

  it('threat 5: a difference pair (A, then A AND NOT c removing 1..threshold-1 patients) gets independent noise; the difference stays hidden', () => {
    const differences = new Map<number, number[]>();
    for (let d = 1; d < T; d++) {
      const noiseA: number[] = [];
      const noiseB: number[] = [];
      const released: number[] = [];
      for (let trial = 0; trial < 1000; trial++) {
        const a = 60 + (trial % 100);
        const ra = releasedAs(a, `t5 A ${trial}`);
        const rb = releasedAs(a - d, `t5 A-not-c ${d} ${trial}`);
        noiseA.push(ra - a);
        noiseB.push(rb - (a - d));
        released.push(ra - rb);
      }
      expect(Math.abs(correlation(noiseA, noiseB))).toBeLessThan(0.1);
      differences.set(d, released);
    }
    for (let d = 2; d < T; d++) {
      expect(totalVariation(differences.get(d)!, differences.get(d - 1)!)).toBeLessThan(0.35);
    }
    // Every released difference is consistent with every true difference 0..threshold-1.
    for (const list of differences.values()) {
      for (const r of list) expect(Math.abs(r - (T - 1))).toBeLessThanOrEqual(2 * BOUND);
    }

    // Noise keyed by the query, not the patient set: when c removes nobody, A and
    // A AND NOT c are the same set yet different queries, and their answers
    // differ as often as when c removes one patient (no set-equality oracle).
    let sameWhenEqual = 0;
    let sameWhenOneRemoved = 0;
    for (let trial = 0; trial < 1000; trial++) {
      const a = 100 + (trial % 50);
      const ra = releasedAs(a, `t5 oracle A ${trial}`);
      if (releasedAs(a, `t5 oracle A-not-c ${trial}`) === ra) sameWhenEqual += 1;
      if (releasedAs(a - 1, `t5 oracle A-not-c ${trial}`) === ra) sameWhenOneRemoved += 1;
    }
    expect(sameWhenEqual / 1000).toBeLessThan(0.2);
    expect(Math.abs(sameWhenEqual - sameWhenOneRemoved) / 1000).toBeLessThan(0.05);
  });

  it('threat 6: the tracker pair (A OR P) + (NOT A OR P) - total tells P apart no better than noise', () => {
    // Three different queries, three independent noises: the estimate is |P|
    // plus their sum; each query is charged, so many trackers exhaust the budget.
    const estimates = new Map<number, number[]>();
    for (const p of [0, 1, 2]) {
      const list: number[] = [];
      for (let trial = 0; trial < 2000; trial++) {
        const population = 300;
        const inA = 120 + (trial % 60);
        list.push(
          releasedAs(inA + p, `t6 A or P ${trial}`) +
            releasedAs(population - inA, `t6 not A or P ${trial}`) -
            releasedAs(population, `t6 total ${trial}`),
        );
      }
      estimates.set(p, list);
    }
    expect(totalVariation(estimates.get(0)!, estimates.get(1)!)).toBeLessThan(0.3);
    expect(totalVariation(estimates.get(1)!, estimates.get(2)!)).toBeLessThan(0.3);
    expect(standardDeviation(estimates.get(1)!)).toBeGreaterThan(3);
    // A lone total is one unit of epsilon, so the tracker pair costs three.
    expect(epsilonFor({}, policy)).toBe(EPSILON);
  });

  it('threat 7: after a restart the same query gets the same noisy value (noise keyed, not cached)', () => {
    const raw = stratified(cell(300), [cell(120), cell(90), cell(50), cell(40)]);
    const before = answer(raw, 't7');
    // Many unrelated answers in between leave no trace: protect keeps no state.
    for (let i = 0; i < 100; i++) answer(lone(cell(80 + i)), `t7 other ${i}`);
    // A "restarted" node: policy loaded afresh, the noise key read back from its file.
    const restarted = loadPolicy({}, { allowOpen: false });
    const key = Uint8Array.from(TEST_NOISE_KEY);
    const ctx = releaseContext(restarted, { queryHash: queryHashOf('t7'), key });
    expect(protect(raw, restarted, ctx)).toEqual(before);
  });

  describe('threat 8: privacy budget', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tessera-budget-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('threat 8: each new query is charged to project and researcher, an exhausted budget refuses with nothing recorded, and a restart refills nothing', async () => {
      const query = parseQuery({ version: 1, cohort, stratify: ['gender'] });
      const cost = epsilonFor(query, policy)!;
      expect(cost).toBe(2 * EPSILON); // total + strata, epsilon each
      // Budgets for one such query per researcher and two per project.
      const budgeted = policyOf({ laplace: { projectBudget: 2 * cost, researcherBudget: cost } });
      expect(epsilonFor(query, budgeted)).toBe(cost);
      const now = new Date('2026-11-21T10:00:00Z');
      const raw = stratified(cell(300), [cell(120), cell(90), cell(50), cell(40)]);
      const releaseBy = (researcher: string, q: string, at = now): Release => ({
        at,
        project: 'diabetes',
        researcher,
        queryHash: queryHashOf(q),
        dataVersion: 'v1',
        noise: noiseIdOf(budgeted),
        epsilon: cost,
        released: protect(raw, budgeted, releaseContext(budgeted, { queryHash: queryHashOf(q) })),
      });

      const ledger = await openFileReleaseLedger(dir, budgetLimits(budgeted));
      expect(await ledger.record(releaseBy('alice', 'q1'))).toMatchObject({
        kind: 'recorded',
        budget: { cost },
      });
      // A repeat is the same draw: free.
      expect(await ledger.record(releaseBy('alice', 'q1'))).toMatchObject({ budget: { cost: 0 } });
      expect(await ledger.record(releaseBy('alice', 'q2'))).toMatchObject({
        kind: 'exhausted',
        account: 'researcher',
      });
      expect(await ledger.record(releaseBy('bob', 'q2'))).toMatchObject({ budget: { cost } });
      expect(await ledger.record(releaseBy('carol', 'q3'))).toMatchObject({
        kind: 'exhausted',
        account: 'project',
      });
      await ledger.close();

      const restarted = await openFileReleaseLedger(dir, budgetLimits(budgeted));
      expect(await restarted.record(releaseBy('carol', 'q3'))).toMatchObject({
        kind: 'exhausted',
        account: 'project',
      });
      expect(await restarted.record(releaseBy('carol', 'q1'))).toMatchObject({
        budget: { cost: 0 },
      });
      const later = new Date(now.getTime() + 30 * 86_400_000);
      expect(await restarted.record(releaseBy('carol', 'q3', later))).toMatchObject({
        kind: 'recorded',
        budget: { cost },
      });
      await restarted.close();

      expect(nodeErrors.ERR_BUDGET_EXHAUSTED.status).toBe(429);
    });

    it.each([-1, 0, Number.NaN, Infinity, -Infinity, 0.001, 11])(
      'threat 8: epsilon %s in the policy stops start-up, naming laplace.epsilon',
      (epsilon) => {
        expect(() => loadPolicy({ laplace: { epsilon } }, { allowOpen: false })).toThrow(
          /^laplace\.epsilon: /,
        );
      },
    );

    it.each([
      [{ delta: 0 }, 'laplace.delta'],
      [{ delta: 0.5 }, 'laplace.delta'],
      [{ projectBudget: 0 }, 'laplace.projectBudget'],
      // Below the default epsilon.
      [{ projectBudget: EPSILON / 2 }, 'laplace.projectBudget'],
      [{ researcherBudget: 25 }, 'laplace.researcherBudget'],
    ])('threat 8: laplace %j stops start-up, naming %s', (laplace, key) => {
      expect(() => loadPolicy({ laplace }, { allowOpen: false })).toThrow(
        new RegExp(`^${key.replace('.', '\\.')}: `),
      );
    });
  });

  it('threat 9: repeating an identical query beyond the policy limit within the window is refused (429)', () => {
    const limited = policyOf({ repeatLimit: { count: 3, windowSeconds: 60 } });
    const limiter = createRepeatLimiter(limited.repeatLimit);
    const t0 = new Date('2026-11-21T10:00:00Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const hash = `sha256:${'a'.repeat(64)}`;
    expect([0, 1, 2].map((s) => limiter.hit(hash, 'alice', at(s)))).toEqual(['ok', 'ok', 'ok']);
    expect(limiter.hit(hash, 'alice', at(3))).toBe('exceeded');
    expect(limiter.hit(hash, 'bob', at(3))).toBe('ok');
    expect(limiter.hit(`sha256:${'b'.repeat(64)}`, 'alice', at(3))).toBe('ok');
    expect(limiter.hit(hash, 'alice', at(60.5))).toBe('ok');
    expect(nodeErrors.ERR_REPEAT_LIMIT.status).toBe(429);
    expect(policy.repeatLimit).toEqual({ count: 100, windowSeconds: 3600 });
  });

  it('threat 10: a mean or sd comes only from noisy sums of clamped values, with a released n of at least minN; never exact', () => {
    const bounds = { min: 0, max: 1000 };
    const summary = (values: number[], q: string, p: NodePolicy = policy) => {
      const raw = summaryOf(values, bounds);
      const out = protect(
        lone(cell(5000), [{ ...raw, mean: 99_999, sd: 99_999 }]),
        p,
        releaseContext(p, { queryHash: queryHashOf(q), summaryBounds: [bounds] }),
      ).measures[0]!;
      if (out.type !== 'summary') throw new Error('expected a summary');
      return out;
    };
    const random = seeded(10);
    const values = Array.from({ length: 400 }, () => 100 + 40 * random());
    const truth = values.reduce((a, b) => a + b, 0) / values.length;
    // The error comes from the noise of n and of the sum alone: sd 8.9 at
    // epsilon 0.25. Its tails are about a Laplace's, which exceeds 7 sd with
    // probability e^(-7 sqrt 2) = 5e-5: 100 releases stay within 7 sd.
    const tolerance = 7 * meanErrorSd(policy, values.length, truth, bounds);
    let exact = 0;
    for (let q = 0; q < 100; q++) {
      const out = summary(values, `t10 ${q}`);
      // The engine's exact mean and sd (here poisoned) are never used.
      expect(Math.abs(out.mean! - truth)).toBeLessThan(tolerance);
      expect(out.sd).toBeLessThan(1000);
      if (out.mean === truth) exact += 1;
    }
    expect(exact).toBe(0);

    // One patient far out is clamped: the mean stays within the bounds.
    const outlier = summary([...values.slice(0, 20), 1e9], 't10 outlier');
    expect(outlier.mean).toBeLessThanOrEqual(1000);

    // n below the threshold: n suppressed, and mean and sd with it.
    for (let q = 0; q < 50; q++) {
      const small = summary(values.slice(0, 3), `t10 small ${q}`);
      if ('suppressed' in small.n) expect(small).toMatchObject({ suppressed: true });
      expect(small.mean === undefined).toBe(!('count' in small.n) || small.n.count < T);
    }
    // A stricter minN.
    const strict = policyOf({ summary: { minN: 500 } });
    expect(summary(values, 't10 strict', strict)).toMatchObject({ suppressed: true });
  });

  it('threat 11: more strata than the policy allows, or a codes dimension over 50 codes, is refused', () => {
    const codes = (n: number): CodeSet =>
      Array.from({ length: n }, (_, i) => ({
        system: 'http://snomed.info/sct',
        code: String(1000 + i),
      })) as CodeSet;
    const tooMany: CohortQuery = {
      version: 1,
      cohort,
      stratify: [
        'gender',
        { ageBand: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110] },
        { codes: { of: 'condition', in: codes(5) } },
      ],
    };
    expect(() => checkStrataLimits(tooMany, policy)).toThrow(
      /240 strata exceed the maximum of 200/,
    );
    const wide: CohortQuery = {
      version: 1,
      cohort,
      stratify: ['gender', 'deceased', { codes: { of: 'condition', in: codes(26) } }],
    };
    const refusal = (() => {
      try {
        checkStrataLimits(wide, policy);
      } catch (err) {
        return err;
      }
    })();
    expect(refusal).toBeInstanceOf(ProblemError);
    expect(refusal).toMatchObject({ code: 'ERR_QUERY_INVALID', status: 400, pointer: '/stratify' });
    expect(() =>
      parseQuery(
        { version: 1, cohort, stratify: [{ codes: { of: 'condition', in: codes(51) } }] },
        policyQueryLimits(policy),
      ),
    ).toThrow(/more than 50 codes/);
    expect(() =>
      checkStrataLimits(
        { ...wide, stratify: ['gender', { codes: { of: 'condition', in: codes(50) } }] },
        policy,
      ),
    ).not.toThrow();

    // protect refuses an over-wide result even when the query check was skipped.
    const raw: RawResult = {
      total: cell(1000),
      strata: Array.from({ length: 201 }, (_, i) => ({
        key: { codes: `http://x|${i}` },
        cell: cell(5),
      })),
      overlapping: true,
      measures: [],
    };
    const wider = policyOf({ maxDimensionCodes: 200 });
    expect(() => protect(raw, wider, releaseContext(wider))).toThrow(/201 strata/);
    expect(() =>
      protect({ ...raw, strata: raw.strata.slice(0, 51) }, policy, releaseContext(policy)),
    ).toThrow(/more than 50 codes/);
  });

  it('threat 12: every histogram bin is noisy and thresholded; extremes are not isolated; no min or max', () => {
    const raw = lone(cell(120, 1), [
      {
        type: 'histogram',
        unit: 'mg/dL',
        bins: [
          { from: 0, to: 100, cell: cell(2, 11) }, // the low extreme: 2 patients
          { from: 100, to: 126, cell: cell(60, 12) },
          { from: 126, to: 200, cell: cell(35, 13) },
          { from: 200, cell: cell(1, 14) }, // the high extreme: 1 patient
        ],
        missing: cell(22, 15),
      },
    ]);
    const truth = [2, 60, 35, 1, 22];
    for (let q = 0; q < 200; q++) {
      const out = answer(raw, `t12 ${q}`);
      const histogram = out.measures[0]!;
      if (histogram.type !== 'histogram') throw new Error('expected a histogram');
      const cells = [...histogram.bins.map((b) => b.cell), histogram.missing];
      cells.forEach((c, i) => {
        if ('count' in c) {
          expect(c.count).toBeGreaterThanOrEqual(T);
          expect(c.perturbed).toBe(true);
        } else {
          expect(c).toEqual(SUPPRESSED);
        }
        expect(c.range![0]).toBeLessThanOrEqual(truth[i]!);
        expect(c.range![1]).toBeGreaterThanOrEqual(truth[i]!);
      });
      expect(histogram.bins.map((b) => [b.from, b.to])).toEqual([
        [0, 100],
        [100, 126],
        [126, 200],
        [200, undefined],
      ]);
      expect(JSON.stringify(out)).not.toMatch(/"(min|max)"/);
    }
    // Any edges are accepted: each new set of edges is a new query, and charged.
    const edges = parseQuery({
      version: 1,
      cohort,
      measures: [
        {
          histogram: {
            observation: [{ system: 'http://loinc.org', code: '2345-7' }],
            unit: 'mg/dL',
            edges: [0, 126.5],
          },
        },
      ],
    });
    expect(() => checkHistogramGrid(edges, policy)).not.toThrow();
    expect(epsilonFor(edges, policy)).toBe(2 * EPSILON); // the total and the histogram
  });

  it('threat 13: division by zero, overflow or a failure caused by one patient answers exactly like a suppressed result', () => {
    for (const bad of [
      cell(Number.NaN),
      cell(Infinity),
      cell(-1),
      cell(2.5),
      cell(2e9),
      cell(Number.MAX_SAFE_INTEGER + 2),
      { count: 50, cellKey: Number.NaN },
      { count: 50, cellKey: 2 ** 32 },
    ]) {
      for (let q = 0; q < 20; q++) expect(answer(lone(bad), `t13 ${q}`).total).toEqual(SUPPRESSED);
    }

    // A summary whose sums failed: mean and sd withheld, n as usual.
    const bounds = { min: 0, max: 50 };
    const good = summaryOf(Array<number>(300).fill(6), bounds, 'mmol/L');
    const summaryAs = (clampedSum: number | null) =>
      protect(
        lone(cell(1000), [{ ...good, clampedSum }]),
        policy,
        releaseContext(policy, { queryHash: queryHashOf('t13 sum'), summaryBounds: [bounds] }),
      ).measures;
    const withheld = JSON.stringify(summaryAs(null));
    expect(JSON.parse(withheld)).toMatchObject([{ suppressed: true }]);
    expect(JSON.stringify(summaryAs(Number.NaN))).toBe(withheld);
    expect(JSON.stringify(summaryAs(Infinity))).toBe(withheld);

    // A broken noise source never yields figures: protect fails, and the node
    // answers with the suppressed shape, which draws no noise at all.
    expect(() => protect(lone(cell(500)), policy, { noise: () => Number.NaN })).toThrow();

    // A timeout: the engine has no figures, so the query's shape is protected with
    // every count unknown, and every cell comes out as a suppressed one.
    const unknown = cell(Number.NaN);
    const shape = protect(
      {
        total: unknown,
        strata: strataKeys(['gender']).map((key) => ({ key, cell: unknown })),
        overlapping: false,
        measures: [
          { type: 'count' },
          {
            type: 'histogram',
            unit: '%',
            bins: [
              { from: 0, to: 6.5, cell: unknown },
              { from: 6.5, cell: unknown },
            ],
            missing: unknown,
          },
          {
            type: 'summary',
            unit: '%',
            n: unknown,
            mean: null,
            sd: null,
            sumAbs: Number.NaN,
            maxAbs: Number.NaN,
            clampedSum: null,
            clampedSumSquares: null,
          },
        ],
      },
      policy,
      { ...NO_NOISE, summaryBounds: [undefined, undefined, { min: 0, max: 100 }] },
    );
    expect(shape.total).toEqual(SUPPRESSED);
    expect(shape.strata.map((s) => s.cell)).toEqual(Array(4).fill(SUPPRESSED));
    expect(shape.measures).toEqual([
      { type: 'count' },
      {
        type: 'histogram',
        unit: '%',
        bins: [
          { from: 0, to: 6.5, cell: SUPPRESSED },
          { from: 6.5, cell: SUPPRESSED },
        ],
        missing: SUPPRESSED,
      },
      { type: 'summary', unit: '%', n: SUPPRESSED, suppressed: true },
    ]);
  });

  describe('threat 14: output check', () => {
    const released: ProtectedResult = protect(
      {
        total: cell(300, 1),
        strata: strataKeys(['gender']).map((key, i) => ({
          key,
          cell: cell([100, 150, 0, 50][i]!, i),
        })),
        overlapping: false,
        measures: [
          { type: 'count' },
          {
            type: 'histogram',
            unit: '%',
            bins: [
              { from: 0, to: 5, cell: cell(100) },
              { from: 5, cell: cell(150) },
            ],
            missing: cell(50),
          },
          summaryOf(Array<number>(250).fill(6), { min: 0, max: 100 }, '%'),
        ],
      },
      policy,
      releaseContext(policy, { summaryBounds: [undefined, undefined, { min: 0, max: 100 }] }),
    );
    const good = () => structuredClone(asNodeResult(released));

    it('threat 14: a NodeResult made of protected parts passes (laplace and cell-key)', () => {
      expect(good().measures[2]).toHaveProperty('mean');
      expect(() => assertReleasable(good())).not.toThrow();
      const cellKey = protect(lone(cell(300)), cellKeyPolicy(), NO_NOISE);
      expect(() => assertReleasable(asNodeResult(cellKey))).not.toThrow();
    });

    type Obj = Record<string | symbol, unknown>;
    /** The object at a path inside a result under test. */
    const at = (root: Obj, ...path: (string | number)[]): Obj =>
      path.reduce<Obj>((o, k) => o[k] as Obj, root);
    const tampered: [string, (r: Obj) => void][] = [
      ['patient ids at the root', (r) => (r.patientIds = ['p1'])],
      ['a value beside a count', (r) => (at(r, 'total').value = 7)],
      ['an id in a stratum key', (r) => (at(r, 'strata', 0, 'key').patientId = 'p1')],
      ['an extra key in a stratum', (r) => (at(r, 'strata', 0).members = ['p1'])],
      ['min in a histogram', (r) => (at(r, 'measures', 1).min = 1.2)],
      ['max in a bin', (r) => (at(r, 'measures', 1, 'bins', 1).max = 99)],
      ['values in a summary', (r) => (at(r, 'measures', 2).values = [1, 2])],
      ['min in a summary', (r) => (at(r, 'measures', 2).min = 4)],
      ['an extra disclosure field', (r) => (at(r, 'disclosure').seed = 42)],
      ['a count below the threshold', (r) => (at(r, 'strata', 0).cell = { count: 3 })],
      ['an exact zero', (r) => (at(r, 'strata', 2).cell = { count: 0, perturbed: true })],
      [
        'a count below the threshold in a bin',
        (r) => (at(r, 'measures', 1, 'bins', 0).cell = { count: 9, perturbed: true }),
      ],
      ['a non-finite number', (r) => (r.elapsedMs = Number.NaN)],
      ['a fractional count', (r) => (r.total = { count: 10.5 })],
      ['a range of the wrong length', (r) => (at(r, 'total').range = [1, 2, 3])],
      ['a getter', (r) => Object.defineProperty(r, 'node', { get: () => 'x', enumerable: true })],
      ['a class instance', (r) => (r.total = Object.assign(new (class Leak {})(), { count: 12 }))],
      ['a symbol key', (r) => (at(r, 'total')[Symbol('id')] = 'p1')],
      ['an array with a named property', (r) => (at(r, 'strata').patient = 'p1')],
      ['a function', (r) => (at(r, 'measures', 0).type = () => 'count')],
    ];
    it.each(tampered)('threat 14: rejects %s', (_name, tamper) => {
      const result = good() as unknown as Obj;
      tamper(result);
      let error: unknown;
      try {
        assertReleasable(result);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ProblemError);
      expect(error).toMatchObject({ code: 'ERR_OUTPUT_REJECTED', status: 500 });
      // The pointer never carries the stray key itself, which may be an identifier.
      expect((error as ProblemError).pointer ?? '').not.toMatch(
        /patient|members|min|max|values|seed/,
      );
    });
  });
});

describe('disclosure threats (node side), cell-key option', () => {
  const policy = cellKeyPolicy();
  const T = policy.threshold;
  const D = policy.cellKey.maxNoise;
  const SMALL: Cell = { suppressed: true, range: [0, T - 1] };

  /** The released count of a lone cell under the cell-key policy. */
  function released(cellRaw: RawCell): number {
    const out = protect(lone(cellRaw), policy, NO_NOISE).total;
    if (!('count' in out)) throw new Error('expected a released count');
    return out.count;
  }

  it('threat 1 (cell-key): a true count of 0 to threshold-1 is never released; it is suppressed with range [0, threshold-1]', () => {
    for (let count = 0; count <= 3 * T; count++) {
      for (const key of [0, 1, 77, 255, 0xffff_ffff]) {
        const out = protect(lone(cell(count, key)), policy, NO_NOISE).total;
        if (count < T) expect(out).toEqual(SMALL);
        else {
          expect(out).toMatchObject({ perturbed: true });
          expect(countOf(out)).toBeGreaterThanOrEqual(T);
        }
      }
    }
  });

  it('threat 2 (cell-key): one small cell and a released total: a second cell is suppressed, so the small one cannot be derived', () => {
    const out = protect(
      stratified(cell(87, 1), [cell(5, 2), cell(40, 3), cell(12, 4), cell(30, 5)]),
      policy,
      NO_NOISE,
    );
    expect('count' in out.total).toBe(true);
    const cells = out.strata.map((s) => s.cell);
    expect(cells[0]).toEqual(SMALL);
    // The next-smallest cell (other, 12) goes too; male (40) and unknown (30) stay.
    expect(cells[2]).toMatchObject({ suppressed: true });
    expect(cells[1]).toMatchObject({ perturbed: true });
    expect(cells[3]).toMatchObject({ perturbed: true });
    expect(cells.filter((c) => 'suppressed' in c)).toHaveLength(2);

    // Two dimensions: every row, column and the whole table end with zero or >= 2 suppressed cells.
    const keys = strataKeys(['deceased', 'gender']);
    const counts = [3, 25, 40, 0, 30, 22, 18, 45];
    const raw: RawResult = {
      total: cell(183, 9),
      strata: keys.map((key, i) => ({ key, cell: cell(counts[i]!, 100 + i) })),
      overlapping: false,
      measures: [],
    };
    const out2 = protect(raw, policy, NO_NOISE);
    const hidden = (pred: (k: (typeof keys)[number]) => boolean) =>
      out2.strata.filter((s) => pred(s.key) && 'suppressed' in s.cell).length;
    for (const deceased of ['true', 'false'] as const) {
      expect(hidden((k) => k.deceased === deceased)).not.toBe(1);
    }
    for (const gender of ['female', 'male', 'other', 'unknown'] as const) {
      expect(hidden((k) => k.gender === gender)).not.toBe(1);
    }
    expect(hidden(() => true)).toBeGreaterThanOrEqual(2);
  });

  it('threat 3 (cell-key): the same query asked 1,000 times gives the same answer; averaging does not converge to the truth', () => {
    const random = seeded(3);
    const raw = stratified(cellOf(recordKeys(420, random)), [
      cellOf(recordKeys(200, random)),
      cellOf(recordKeys(150, random)),
      cellOf(recordKeys(7, random)),
      cellOf(recordKeys(63, random)),
    ]);
    const first = JSON.stringify(protect(raw, policy, NO_NOISE));
    for (let i = 0; i < 1000; i++)
      expect(JSON.stringify(protect(raw, policy, NO_NOISE))).toBe(first);

    let absError = 0;
    const cohorts = 100;
    for (let c = 0; c < cohorts; c++) {
      const members = cellOf(recordKeys(50 + c, random));
      let sum = 0;
      for (let i = 0; i < 200; i++) sum += released(members);
      const average = sum / 200;
      expect(average).toBe(released(members));
      absError += Math.abs(average - members.count);
    }
    // E|noise| of the default table is (2 * 57 + 4 * 28) / 256 = 0.88.
    expect(absError / cohorts).toBeGreaterThan(0.6);
  });

  it('threat 4 (cell-key): one set of patients gets the same noise wherever the cell appears', () => {
    const random = seeded(4);
    const members = recordKeys(137, random);
    const asWritten = cellOf(members);
    const reordered = cellOf([...members].reverse());
    expect(reordered).toEqual(asWritten);
    const alone = protect(lone(asWritten), policy, NO_NOISE).total;
    const asStratum = protect(
      stratified(cell(320, 5), [cell(3, 6), asWritten, cell(20, 7), cell(160, 8)]),
      policy,
      NO_NOISE,
    ).strata[1]!.cell;
    const asBin = protect(
      lone(cell(900, 1), [
        {
          type: 'histogram',
          unit: 'mg/dL',
          bins: [{ from: 0, cell: reordered }],
          missing: cell(763, 2),
        },
      ]),
      policy,
      NO_NOISE,
    ).measures[0];
    expect(asStratum).toEqual(alone);
    expect(asBin).toMatchObject({ bins: [{ cell: alone }] });
  });

  it('threat 5 (cell-key): a difference pair does not reveal how many of 1..threshold-1 patients were removed', () => {
    // A and A minus d patients are different sets, so their cell keys are
    // unrelated and their noise independent. (When the criterion removes nobody
    // the two answers are equal: the set-equality oracle cell-key cannot avoid,
    // docs/privacy.md.)
    const random = seeded(5);
    const differences = new Map<number, number[]>();
    for (let d = 1; d < T; d++) {
      const noiseA: number[] = [];
      const noiseB: number[] = [];
      const list: number[] = [];
      for (let trial = 0; trial < 1000; trial++) {
        const a = recordKeys(20 + (trial % 100), random);
        const b = a.slice(d);
        const ra = released(cellOf(a));
        const rb = released(cellOf(b));
        noiseA.push(ra - a.length);
        noiseB.push(rb - b.length);
        list.push(ra - rb);
      }
      expect(Math.abs(correlation(noiseA, noiseB))).toBeLessThan(0.1);
      differences.set(d, list);
    }
    for (let d = 2; d < T; d++) {
      expect(totalVariation(differences.get(d)!, differences.get(d - 1)!)).toBeLessThan(0.35);
    }
    const producers = new Map<number, Set<number>>();
    for (const [d, list] of differences) {
      for (const r of list) producers.set(r, (producers.get(r) ?? new Set()).add(d));
    }
    let pinned = 0;
    let trials = 0;
    for (const list of differences.values()) {
      for (const r of list) {
        trials += 1;
        if (producers.get(r)!.size === 1) pinned += 1;
        expect(r + 2 * D).toBeGreaterThanOrEqual(1);
      }
    }
    expect(pinned / trials).toBeLessThan(0.01);
    // The same set under another query: the same answer (the oracle).
    const a = recordKeys(80, random);
    expect(released(cellOf([...a].reverse()))).toBe(released(cellOf(a)));
  });

  it('threat 6 (cell-key): the tracker pair tells P apart no better than noise', () => {
    const random = seeded(6);
    const estimates = new Map<number, number[]>();
    for (const p of [0, 1, 2]) {
      const list: number[] = [];
      for (let trial = 0; trial < 1200; trial++) {
        const population = recordKeys(300, random);
        const target = new Set(population.slice(0, p));
        const inA = population.map(() => random() < 0.5);
        const aOrP = population.filter((k, i) => inA[i] || target.has(k));
        const notAOrP = population.filter((k, i) => !inA[i] || target.has(k));
        list.push(
          released(cellOf(aOrP)) + released(cellOf(notAOrP)) - released(cellOf(population)),
        );
      }
      estimates.set(p, list);
    }
    expect(totalVariation(estimates.get(0)!, estimates.get(1)!)).toBeLessThan(0.3);
    expect(totalVariation(estimates.get(1)!, estimates.get(2)!)).toBeLessThan(0.3);
    expect(standardDeviation(estimates.get(1)!)).toBeGreaterThan(1.5);
  });

  it('threat 7 (cell-key): after a restart the same query gets the same noisy value', () => {
    const random = seeded(7);
    const raw = stratified(cellOf(recordKeys(300, random)), [
      cellOf(recordKeys(120, random)),
      cellOf(recordKeys(90, random)),
      cellOf(recordKeys(50, random)),
      cellOf(recordKeys(40, random)),
    ]);
    const before = protect(raw, policy, NO_NOISE);
    for (let i = 0; i < 100; i++) protect(lone(cellOf(recordKeys(80, random))), policy, NO_NOISE);
    expect(buildPerturbationTable(D, 'triangular')).toEqual(perturbationTable(D, 'triangular'));
    expect(
      protect(raw, loadPolicy({ mechanism: 'cell-key' }, { allowOpen: false }), NO_NOISE),
    ).toEqual(before);
  });

  it('threat 8 (cell-key): no budget is kept; every release costs 0', () => {
    expect(budgetLimits(policy)).toBeUndefined();
    expect(epsilonFor(parseQuery({ version: 1, cohort }), policy)).toBeUndefined();
  });

  it('threat 10 (cell-key): never a mean or sd, n alone', () => {
    const bounds = { min: 0, max: 1000 };
    const out = protect(
      lone(cell(1000), [summaryOf(Array<number>(500).fill(120), bounds)]),
      policy,
      { ...NO_NOISE, summaryBounds: [bounds] },
    ).measures[0];
    expect(out).toEqual({
      type: 'summary',
      unit: 'mg/dL',
      n: { count: expect.any(Number) as number, perturbed: true },
      suppressed: true,
    });
  });

  it('threat 12 (cell-key): small bins are suppressed with a partner; edges must lie on the grid', () => {
    const raw = lone(cell(120, 1), [
      {
        type: 'histogram',
        unit: 'mg/dL',
        bins: [
          { from: 0, to: 100, cell: cell(30, 11) },
          { from: 100, cell: cell(1, 12) },
        ],
        missing: cell(89, 13),
      },
    ]);
    const h = protect(raw, policy, NO_NOISE).measures[0]!;
    if (h.type !== 'histogram') throw new Error('expected a histogram');
    const cells = [...h.bins.map((b) => b.cell), h.missing];
    expect(cells.filter((c) => 'suppressed' in c)).toHaveLength(2);
    expect(h.bins[1]!.cell).toEqual(SMALL);
    expect(h.bins[0]!.cell).toMatchObject({
      suppressed: true,
      range: [0, expect.any(Number) as number],
    });
    expect(JSON.stringify(h)).not.toMatch(/"(min|max)"/);

    const offGrid = parseQuery({
      version: 1,
      cohort,
      measures: [
        {
          histogram: {
            observation: [{ system: 'http://loinc.org', code: '2345-7' }],
            unit: 'mg/dL',
            edges: [0, 126],
          },
        },
      ],
    });
    expect(() => checkHistogramGrid(offGrid, policy)).toThrow(
      expect.objectContaining({ pointer: '/measures/0/histogram/edges/1' }) as Error,
    );
  });

  it('threat 13 (cell-key): an invalid count answers exactly like a small one', () => {
    const small = JSON.stringify(protect(lone(cell(4)), policy, NO_NOISE));
    for (const bad of [
      cell(Number.NaN),
      cell(Infinity),
      cell(-1),
      cell(2.5),
      cell(2e9),
      { count: 50, cellKey: Number.NaN },
      { count: 50, cellKey: 2 ** 32 },
    ]) {
      expect(JSON.stringify(protect(lone(bad), policy, NO_NOISE))).toBe(small);
    }
  });
});
