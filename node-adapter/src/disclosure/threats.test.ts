// Threats 1-14 (docs: threats.md, "Disclosure (node side)"), each pinned at the
// level of this module: true figures in, released NodeResult parts out.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CodeSet,
  type CohortQuery,
  type Expr,
  ProblemError,
  parseQuery,
} from '@tessera/schemas';
import type { RawCell, RawResult } from '../engine/raw-result.ts';
import { nodeErrors } from '../errors.ts';
import { budgetLimits, openFileBudgetLedger } from './budget-ledger.ts';
import { epsilonFor } from './laplace.ts';
import { assertReleasable } from './output-check.ts';
import { checkStrataLimits, loadPolicy, policyQueryLimits } from './policy.ts';
import { buildPerturbationTable, perturbationTable } from './perturbation-table.ts';
import { type ProtectedResult, protect } from './protect.ts';
import { createRepeatLimiter } from './repeat-limiter.ts';
import {
  NO_RANDOM,
  asNodeResult,
  cell,
  cellOf,
  policyOf,
  recordKeys,
  seeded,
  strataKeys,
} from './test-support.ts';

const policy = policyOf();
const T = policy.threshold;
const D = policy.cellKey.maxNoise;

function only(cellRaw: RawCell): RawResult {
  return { total: cellRaw, strata: [], overlapping: false, measures: [{ type: 'count' }] };
}

/** The released count of a lone cell under the default policy. */
function released(cellRaw: RawCell): number {
  const out = protect(only(cellRaw), policy, NO_RANDOM).total;
  if (!('count' in out)) throw new Error('expected a released count');
  return out.count;
}

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

const cohort: Expr = { patient: { gender: ['female'] } };

describe('disclosure threats (node side)', () => {
  it('threat 1: a true count of 1 to threshold-1 is never released; it is suppressed with its range', () => {
    for (let count = 0; count <= 3 * T; count++) {
      for (const key of [0, 1, 77, 255, 0xffff_ffff]) {
        const out = protect(only(cell(count, key)), policy, NO_RANDOM).total;
        if (count === 0) expect(out).toEqual({ count: 0 });
        else if (count < T) expect(out).toEqual({ suppressed: true, range: [1, T - 1] });
        else expect(out).toMatchObject({ perturbed: true });
        if ('count' in out && out.count > 0) expect(out.count).toBeGreaterThanOrEqual(T);
      }
    }
  });

  it('threat 2: one small cell and a released total: a second cell is suppressed, so the small one cannot be derived', () => {
    const out = protect(
      stratified(cell(75, 1), [cell(5, 2), cell(40, 3), cell(0, 4), cell(30, 5)]),
      policy,
      NO_RANDOM,
    );
    expect('count' in out.total).toBe(true);
    const cells = out.strata.map((s) => s.cell);
    expect(cells[0]).toEqual({ suppressed: true, range: [1, 9] });
    // The next-smallest non-zero cell (unknown, 30) goes too; male (40) and the empty stratum stay.
    expect(cells[3]).toMatchObject({ suppressed: true });
    expect(cells[1]).toMatchObject({ perturbed: true });
    expect(cells[2]).toEqual({ count: 0 });
    // total - released now only bounds the sum of two suppressed cells.
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
    const out2 = protect(raw, policy, NO_RANDOM);
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

  it('threat 3: the same query asked 1,000 times gives the same answer; averaging does not converge to the truth', () => {
    const random = seeded(3);
    const raw = stratified(cellOf(recordKeys(420, random)), [
      cellOf(recordKeys(200, random)),
      cellOf(recordKeys(150, random)),
      cellOf(recordKeys(7, random)),
      cellOf(recordKeys(63, random)),
    ]);
    const first = JSON.stringify(protect(raw, policy, NO_RANDOM));
    for (let i = 0; i < 1000; i++)
      expect(JSON.stringify(protect(raw, policy, NO_RANDOM))).toBe(first);

    // Over many different cohorts, the average of 1,000 repeats is each cohort's
    // one noisy answer: the error stays as large as a single answer's.
    let absError = 0;
    const cohorts = 100;
    for (let c = 0; c < cohorts; c++) {
      const members = cellOf(recordKeys(50 + c, random));
      let sum = 0;
      for (let i = 0; i < 1000; i++) sum += released(members);
      const average = sum / 1000;
      expect(average).toBe(released(members));
      absError += Math.abs(average - members.count);
    }
    // E|noise| of the default table is (2 * 57 + 4 * 28) / 256 = 0.88.
    expect(absError / cohorts).toBeGreaterThan(0.6);
  });

  it('threat 4: rephrasings of one cohort (same set of patients) get the same noise wherever the cell appears', () => {
    const random = seeded(4);
    const members = recordKeys(137, random);
    const asWritten = cellOf(members);
    const reordered = cellOf([...members].reverse());
    expect(reordered).toEqual(asWritten);
    const alone = protect(only(asWritten), policy, NO_RANDOM).total;
    const asStratum = protect(
      stratified(cell(320, 5), [cell(3, 6), asWritten, cell(20, 7), cell(160, 8)]),
      policy,
      NO_RANDOM,
    ).strata[1]!.cell;
    const asBin = protect(
      {
        total: cell(900, 1),
        strata: [],
        overlapping: false,
        measures: [
          {
            type: 'histogram',
            unit: 'mg/dL',
            bins: [{ from: 0, cell: reordered }],
            missing: cell(763, 2),
          },
        ],
      },
      policy,
      NO_RANDOM,
    ).measures[0];
    expect(asStratum).toEqual(alone);
    expect(asBin).toMatchObject({ bins: [{ cell: alone }] });
  });

  it('threat 5: a difference pair (A, then A AND NOT c removing 1..threshold-1 patients) does not reveal the difference', () => {
    // A and A minus d patients are different sets, so their cell keys are
    // unrelated and their noise independent; the released difference is d plus
    // the difference of two independent noises, and its distribution for d
    // overlaps that for d +/- 1 almost entirely. Asking again gives the same
    // two answers (threat 3), so the attacker cannot average. (When the
    // criterion removes nobody, A is the same set and the two answers are
    // equal, as threats 3 and 4 require; what stays hidden is how many of
    // 1..threshold-1 patients were removed.)
    const random = seeded(5);
    const differences = new Map<number, number[]>();
    for (let d = 1; d < T; d++) {
      const noiseA: number[] = [];
      const noiseB: number[] = [];
      const released_: number[] = [];
      for (let trial = 0; trial < 1500; trial++) {
        const a = recordKeys(20 + (trial % 100), random);
        const b = a.slice(d);
        const ra = released(cellOf(a));
        const rb = released(cellOf(b));
        noiseA.push(ra - a.length);
        noiseB.push(rb - b.length);
        released_.push(ra - rb);
      }
      expect(Math.abs(correlation(noiseA, noiseB))).toBeLessThan(0.1);
      differences.set(d, released_);
    }
    for (let d = 2; d < T; d++) {
      expect(totalVariation(differences.get(d)!, differences.get(d - 1)!)).toBeLessThan(0.35);
    }
    // Which true differences produced each released difference: only the
    // noise's extreme tails (both noises at +/- maxNoise) pin one down.
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
        // Always consistent with at least two true differences (0 included).
        expect(r + 2 * D).toBeGreaterThanOrEqual(1);
      }
    }
    expect(pinned / trials).toBeLessThan(0.01);
  });

  it('threat 6: the tracker pair (A OR P) + (NOT A OR P) - total tells P apart no better than noise', () => {
    // |A u P| + |not-A u P| - |all| = |P|; the three released cells are three
    // different sets with independent noise, so the estimate is |P| plus a sum
    // of three noises (range +/- 3 * maxNoise). One pair says little; averaging
    // over many different trackers A would shrink the noise, which no per-cell
    // method prevents: the repeat limit cannot see it, the Laplace budget does.
    const random = seeded(6);
    const estimates = new Map<number, number[]>();
    for (const p of [0, 1, 2]) {
      const list: number[] = [];
      for (let trial = 0; trial < 2000; trial++) {
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
    const spread = estimates.get(1)!;
    const mean = spread.reduce((a, b) => a + b, 0) / spread.length;
    const sd = Math.sqrt(spread.reduce((a, b) => a + (b - mean) ** 2, 0) / spread.length);
    expect(sd).toBeGreaterThan(1.5);
  });

  it('threat 7: after a restart the same query gets the same noisy value (noise keyed, not cached)', () => {
    const random = seeded(7);
    const raw = stratified(cellOf(recordKeys(300, random)), [
      cellOf(recordKeys(120, random)),
      cellOf(recordKeys(90, random)),
      cellOf(recordKeys(50, random)),
      cellOf(recordKeys(40, random)),
    ]);
    const before = protect(raw, policy, NO_RANDOM);
    // Many unrelated answers in between leave no trace: protect keeps no state.
    for (let i = 0; i < 100; i++) protect(only(cellOf(recordKeys(80, random))), policy, NO_RANDOM);
    // A "restarted" node: the table built afresh, policy loaded afresh, control built afresh.
    expect(buildPerturbationTable(D, 'triangular')).toEqual(perturbationTable(D, 'triangular'));
    expect(protect(raw, loadPolicy({}, { allowOpen: false }), NO_RANDOM)).toEqual(before);
  });

  describe('threat 8: Laplace budget', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tessera-budget-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('threat 8: each query is charged, an exhausted budget answers 429 with nothing released, and a restart does not refill it', async () => {
      const laplace = policyOf({
        mechanism: 'laplace',
        laplace: { epsilon: 0.5, budget: 2, periodDays: 30 },
      });
      const query = parseQuery({ version: 1, cohort, stratify: ['gender'] });
      const cost = epsilonFor(query, laplace)!;
      expect(cost).toBe(1); // total + strata, 0.5 each
      const now = new Date('2026-11-21T10:00:00Z');

      const ledger = await openFileBudgetLedger(dir, budgetLimits(laplace));
      expect(await ledger.charge('alice', 'diabetes', cost, now)).toBe('ok');
      expect(await ledger.charge('alice', 'diabetes', cost, now)).toBe('ok');
      expect(await ledger.charge('alice', 'diabetes', cost, now)).toBe('exhausted');
      expect(await ledger.charge('alice', 'cardio', cost, now)).toBe('ok');
      expect(await ledger.charge('bob', 'diabetes', cost, now)).toBe('ok');
      await ledger.close();

      const restarted = await openFileBudgetLedger(dir, budgetLimits(laplace));
      expect(await restarted.charge('alice', 'diabetes', cost, now)).toBe('exhausted');
      const later = new Date(now.getTime() + 30 * 86_400_000 + 1);
      expect(await restarted.charge('alice', 'diabetes', cost, later)).toBe('ok');
      await restarted.close();

      expect(nodeErrors.ERR_BUDGET_EXHAUSTED.status).toBe(429);
    });

    it('threat 8: Laplace noise is fresh per query, so only the budget bounds repetition', () => {
      const laplace = policyOf({ mechanism: 'laplace' });
      const raw = only(cell(500));
      const answers = new Set<string>();
      const random = seeded(8);
      for (let i = 0; i < 20; i++) answers.add(JSON.stringify(protect(raw, laplace, { random })));
      expect(answers.size).toBeGreaterThan(5);
    });

    it.each([-1, 0, Number.NaN, Infinity, -Infinity])(
      'threat 8: epsilon %s in the policy stops start-up, naming laplace.epsilon',
      (epsilon) => {
        expect(() =>
          loadPolicy({ mechanism: 'laplace', laplace: { epsilon } }, { allowOpen: false }),
        ).toThrow(/^laplace\.epsilon: /);
      },
    );
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

  it('threat 10: a mean or sd is suppressed when one patient dominates or n is below the threshold', () => {
    const summary = (n: number, sumAbs: number, maxAbs: number, sd = 12) =>
      protect(
        {
          total: cell(1000),
          strata: [],
          overlapping: false,
          measures: [
            { type: 'summary', unit: 'mg/dL', n: cell(n, 42), mean: 120, sd, sumAbs, maxAbs },
          ],
        },
        policy,
        NO_RANDOM,
      ).measures[0];
    expect(summary(50, 6000, 400)).toMatchObject({ type: 'summary', mean: 120, sd: 12 });
    const n50 = summary(50, 6000, 400) as { n: unknown };
    expect(n50.n).toMatchObject({ perturbed: true });
    // One patient holds 91 % of the sum.
    expect(summary(50, 6000, 5460)).toEqual({
      type: 'summary',
      unit: 'mg/dL',
      n: n50.n,
      suppressed: true,
    });
    expect(summary(50, 6000, 5400)).toMatchObject({ mean: 120 });
    // n below the threshold: n itself is suppressed too.
    expect(summary(9, 1080, 130)).toEqual({
      type: 'summary',
      unit: 'mg/dL',
      n: { suppressed: true, range: [1, 9] },
      suppressed: true,
    });
    // All values equal: the mean would be every patient's value.
    expect(summary(50, 6000, 120, 0)).toMatchObject({ suppressed: true });
    // A stricter minN.
    const strict = policyOf({ summary: { minN: 60 } });
    const measure = protect(
      {
        total: cell(1000),
        strata: [],
        overlapping: false,
        measures: [
          { type: 'summary', unit: 'mg/dL', n: cell(50), mean: 1, sd: 1, sumAbs: 50, maxAbs: 2 },
        ],
      },
      strict,
      NO_RANDOM,
    ).measures[0];
    expect(measure).toMatchObject({ suppressed: true });
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
    expect(() => protect(raw, policyOf({ maxDimensionCodes: 200 }), NO_RANDOM)).toThrow(
      /201 strata/,
    );
    expect(() => protect({ ...raw, strata: raw.strata.slice(0, 51) }, policy, NO_RANDOM)).toThrow(
      /more than 50 codes/,
    );
  });

  it('threat 12: histogram bins are released only when each passes the threshold; extremes are not isolated; no min or max', () => {
    const raw: RawResult = {
      total: cell(120, 1),
      strata: [],
      overlapping: false,
      measures: [
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
      ],
    };
    const out = protect(raw, policy, NO_RANDOM);
    const histogram = out.measures[0]!;
    if (histogram.type !== 'histogram') throw new Error('expected a histogram');
    const cells = [...histogram.bins.map((b) => b.cell), histogram.missing];
    expect(cells[0]).toEqual({ suppressed: true, range: [1, 9] });
    expect(cells[3]).toEqual({ suppressed: true, range: [1, 9] });
    for (const c of cells) if ('count' in c) expect(c.count).toBeGreaterThanOrEqual(T);
    expect(histogram.bins.map((b) => [b.from, b.to])).toEqual([
      [0, 100],
      [100, 126],
      [126, 200],
      [200, undefined],
    ]);
    expect(JSON.stringify(out)).not.toMatch(/"(min|max)"/);

    // One extreme only: a second bin is suppressed with it.
    const lone: RawResult = {
      ...raw,
      measures: [
        {
          type: 'histogram',
          unit: 'mg/dL',
          bins: [
            { from: 0, to: 100, cell: cell(30, 11) },
            { from: 100, cell: cell(1, 12) },
          ],
          missing: cell(89, 13),
        },
      ],
    };
    const h2 = protect(lone, policy, NO_RANDOM).measures[0]!;
    if (h2.type !== 'histogram') throw new Error('expected a histogram');
    expect(
      [...h2.bins.map((b) => b.cell), h2.missing].filter((c) => 'suppressed' in c),
    ).toHaveLength(2);
    expect(h2.bins[0]!.cell).toMatchObject({
      suppressed: true,
      range: [0, expect.any(Number) as number],
    });
  });

  it('threat 13: division by zero, overflow or a failure caused by one patient answers exactly like a suppressed result', () => {
    const suppressedTotal = JSON.stringify(protect(only(cell(4)), policy, NO_RANDOM));
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
      expect(JSON.stringify(protect(only(bad), policy, NO_RANDOM))).toBe(suppressedTotal);
    }

    const summaryOf = (fields: {
      mean: number | null;
      sd: number | null;
      sumAbs: number;
      maxAbs: number;
      n?: RawCell;
    }) =>
      JSON.stringify(
        protect(
          {
            total: cell(1000),
            strata: [],
            overlapping: false,
            measures: [{ type: 'summary', unit: 'mmol/L', n: fields.n ?? cell(50, 3), ...fields }],
          },
          policy,
          NO_RANDOM,
        ).measures,
      );
    const dominated = summaryOf({ mean: 5, sd: 1, sumAbs: 250, maxAbs: 240 });
    expect(summaryOf({ mean: Number.NaN, sd: 1, sumAbs: 250, maxAbs: 5 })).toBe(dominated);
    expect(summaryOf({ mean: 5, sd: Infinity, sumAbs: 250, maxAbs: 5 })).toBe(dominated);
    expect(summaryOf({ mean: 5, sd: 1, sumAbs: Infinity, maxAbs: 5 })).toBe(dominated);
    expect(summaryOf({ mean: 5, sd: 1, sumAbs: 0, maxAbs: 0 })).toBe(dominated);
    expect(summaryOf({ mean: 5, sd: 1, sumAbs: 250, maxAbs: 5, n: cell(Number.NaN) })).toBe(
      summaryOf({ mean: 5, sd: 1, sumAbs: 250, maxAbs: 5, n: cell(3) }),
    );

    // A failing noise source (Laplace) is answered the same way.
    const laplace = policyOf({ mechanism: 'laplace' });
    const failing = { random: () => Number.NaN };
    expect(protect(only(cell(500)), laplace, failing).total).toEqual({
      suppressed: true,
      range: [1, 9],
    });

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
          },
        ],
      },
      policy,
      NO_RANDOM,
    );
    const small = { suppressed: true, range: [1, 9] };
    expect(shape.total).toEqual(small);
    expect(shape.strata.map((s) => s.cell)).toEqual(Array(4).fill(small));
    expect(shape.measures).toEqual([
      { type: 'count' },
      {
        type: 'histogram',
        unit: '%',
        bins: [
          { from: 0, to: 6.5, cell: small },
          { from: 6.5, cell: small },
        ],
        missing: small,
      },
      { type: 'summary', unit: '%', n: small, suppressed: true },
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
          { type: 'summary', unit: '%', n: cell(250), mean: 6, sd: 1, sumAbs: 1500, maxAbs: 12 },
        ],
      },
      policy,
      NO_RANDOM,
    );
    const good = () => structuredClone(asNodeResult(released));

    it('threat 14: a NodeResult made of protected parts passes', () => {
      expect(() => assertReleasable(good())).not.toThrow();
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
      ['an extra disclosure field', (r) => (at(r, 'disclosure').seed = 42)],
      ['a count below the threshold', (r) => (at(r, 'strata', 0).cell = { count: 3 })],
      [
        'a count below the threshold in a bin',
        (r) => (at(r, 'measures', 1, 'bins', 0).cell = { count: 9, perturbed: true }),
      ],
      ['a non-finite number', (r) => (r.elapsedMs = Number.NaN)],
      ['a fractional count', (r) => (r.total = { count: 10.5 })],
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
