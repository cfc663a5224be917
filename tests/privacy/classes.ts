// Each attack class as a run of trials on a pool of nodes: the same code
// against every policy (default, cell-key, open). A trial is one project
// attacking one target until the node stops it (429), it is sure, or it
// reaches its own limit.
import { expect } from 'vitest';
import {
  type SmallTarget,
  differencingVariants,
  exactStatisticsAttack,
  exclusionPairs,
  extremeTargets,
  histogramEdgeAttack,
  labTargets,
  type LinearRound,
  linearAttack,
  marginRound,
  membershipTargets,
  overlapRound,
  overlapTargets,
  paddingRound,
  rareConditions,
  setEqualityAttack,
  smallTableCells,
  smallTargets,
  thresholdWalkAttack,
  trackerRound,
  zeroOracleAttack,
} from './attacks.ts';
import {
  Attacker,
  type NodePool,
  type Population,
  birthWindows,
  condition,
  query,
} from './harness.ts';
import { type CountInference, type Trial, mechanismOf, rangeOf } from './inference.ts';

/** A trial and the attacker that ran it (to see what stopped it). */
export interface Run {
  readonly attacker: Attacker;
  readonly trial: Trial;
}

export interface RunOptions {
  /** The attacker's own limit on answers (for mechanisms without a budget). */
  readonly maxQueries?: number;
  /** Rounds a linear attack asks at most. */
  readonly maxRounds?: number;
}

const trialsOf = (runs: readonly Run[]): Trial[] => runs.map((r) => r.trial);

/** Every run was stopped by the budget (429 ERR_BUDGET_EXHAUSTED), not by the attacker. */
export function expectBudgetSpent(runs: readonly Run[]): void {
  for (const r of runs) expect(r.attacker.stops, r.trial.label).toContain('ERR_BUDGET_EXHAUSTED');
}

// 1. Exact statistics ---------------------------------------------------------

export async function exactStatistics(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions = {},
): Promise<Trial[]> {
  const targets = labTargets(pop, 4);
  return pool.trials(trials, (node, project, i) =>
    exactStatisticsAttack(
      new Attacker(node, project, options),
      pop,
      targets[i % targets.length]!,
      11 + i,
      20,
    ),
  );
}

// 2. Exact zeros ----------------------------------------------------------------

export async function zeroOracle(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions = {},
): Promise<Trial[]> {
  // Cohorts of 2 to 5: the open policy's search asks about 15 queries per member.
  const targets = rareConditions(pop)
    .filter((c) => c.count >= 2 && c.count <= 5)
    .reverse();
  return pool.trials(trials, (node, project, i) => {
    const target = targets[i % targets.length]!;
    return zeroOracleAttack(
      new Attacker(node, project, options),
      pop,
      condition(target.code),
      `members of ${target.code}`,
    );
  });
}

// 3. Histogram edges -------------------------------------------------------------

export async function histogramEdges(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions = {},
): Promise<Trial[]> {
  const targets = extremeTargets(pop);
  return pool.trials(trials, (node, project, i) =>
    histogramEdgeAttack(new Attacker(node, project, options), targets[i % targets.length]!),
  );
}

// Attacks on the size of a small cohort P (classes 4, 5, 6) ---------------------

async function countRuns(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions,
  attack: (attacker: Attacker, target: SmallTarget, i: number) => Promise<CountInference>,
  targets: readonly SmallTarget[] = smallTargets(pop),
): Promise<Run[]> {
  return pool.trials(trials, async (node, project, i) => {
    const target = targets[i % targets.length]!;
    const attacker = new Attacker(node, project, options);
    const inf = await attack(attacker, target, i);
    return {
      attacker,
      trial: { ...inf.trial(`|${target.label}|`, target.count), queries: attacker.answers },
    };
  });
}

// 4. Threshold walk -------------------------------------------------------------

export function thresholdWalk(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions & { readonly targets?: readonly SmallTarget[]; readonly seed?: number } = {},
): Promise<Run[]> {
  return countRuns(
    pool,
    pop,
    trials,
    options,
    (attacker, target, i) =>
      thresholdWalkAttack(
        attacker,
        pop,
        target.cohort,
        (options.seed ?? 0) + i,
        options.maxRounds ?? 40,
      ),
    options.targets,
  );
}

/** The small targets of exactly threshold - 1 = 9 patients. */
export const nearThreshold = (pop: Population): SmallTarget[] =>
  smallTargets(pop).filter((t) => t.count === 9);

// 5. Padding average --------------------------------------------------------------

export function paddingAverage(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions = {},
): Promise<Run[]> {
  return countRuns(pool, pop, trials, options, (attacker, target, i) =>
    linearAttack(attacker, paddingRound(target.cohort, birthWindows(pop, 80, 400, 100 + i)), {
      maxRounds: options.maxRounds ?? 400,
    }),
  );
}

// 6. Many trackers ------------------------------------------------------------------

export function manyTrackers(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions = {},
): Promise<Run[]> {
  return countRuns(pool, pop, trials, options, (attacker, target, i) =>
    linearAttack(attacker, trackerRound(target.cohort, birthWindows(pop, 150, 400, 200 + i)), {
      maxRounds: options.maxRounds ?? 400,
    }),
  );
}

// Linear attacks on their own targets (classes 7, 8, 9) ------------------------

interface Plan {
  readonly label: string;
  readonly truth: number;
  readonly round: (i: number) => LinearRound;
}

function linearRuns(
  pool: NodePool,
  trials: number,
  options: RunOptions,
  plan: (i: number) => Plan,
): Promise<Run[]> {
  return pool.trials(trials, async (node, project, i) => {
    const { label, truth, round } = plan(i);
    const attacker = new Attacker(node, project, options);
    const inf = await linearAttack(attacker, round, { maxRounds: options.maxRounds ?? 400 });
    return { attacker, trial: { ...inf.trial(label, truth), queries: attacker.answers } };
  });
}

// 7. Overlapping strata ------------------------------------------------------------

export function overlappingStrata(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions = {},
): Promise<Run[]> {
  const targets = overlapTargets(pop, 4, 300);
  return linearRuns(pool, trials, options, (i) => {
    const t = targets[i % targets.length]!;
    return {
      label: `|${t.x} and ${t.y} in a window|`,
      truth: t.count,
      round: overlapRound(t.x, t.y, t.s, t.exclusions),
    };
  });
}

// 8. Margins ----------------------------------------------------------------------

export function margins(
  pool: NodePool,
  pop: Population,
  trials: number,
  options: RunOptions = {},
): Promise<Run[]> {
  const cells = smallTableCells(pop);
  expect(cells.length, 'small cells of the 3-way table').toBeGreaterThan(0);
  return linearRuns(pool, trials, options, (i) => {
    const { target, count } = cells[i % cells.length]!;
    return {
      label: `cell ${JSON.stringify(target.key)}`,
      truth: count,
      round: marginRound(target, exclusionPairs(pop, pop.members(target.partner), 300, 400 + i)),
    };
  });
}

// 9. Differencing ------------------------------------------------------------------

export const DIFFERENCING = [
  'by period',
  'atLeast 1 vs 2',
  'stratum alone vs in a table',
  'total vs summary n vs histogram missing',
] as const;

export function differencing(
  pool: NodePool,
  pop: Population,
  name: (typeof DIFFERENCING)[number],
  trials: number,
  options: RunOptions = {},
): Promise<Run[]> {
  return linearRuns(pool, trials, options, (i) => {
    const v = differencingVariants(pop, 500 + i).find((x) => x.name === name)!;
    return { label: name, truth: v.truth, round: v.round };
  });
}

// 10. A large count ------------------------------------------------------------------

/**
 * Asks a count of every patient (2000) by gender on each node: every count
 * far above the threshold is released, and every cell's bounds hold the truth.
 */
export async function expectLargeCountsReleased(
  pool: NodePool,
  big: Population,
  trials: number,
  mechanism: string,
): Promise<void> {
  const q = query(
    { patient: { gender: ['female', 'male', 'other', 'unknown'] } },
    { stratify: ['gender'] },
  );
  const truth = big.truth(q);
  expect(truth.total.count).toBe(2000);
  await pool.trials(trials, async (node, project) => {
    const r = (await new Attacker(node, project).ask(q))!;
    expect(r.disclosure.mechanism).toBe(mechanism);
    const m = mechanismOf(r.disclosure);
    const cells = [
      { cell: r.total, truth: truth.total.count },
      ...r.strata.map((s, k) => ({ cell: s.cell, truth: truth.strata[k]!.cell.count })),
    ];
    for (const { cell, truth: t } of cells) {
      if (t >= r.disclosure.threshold + r.disclosure.maxNoise) {
        expect(cell, `a count of ${t}`).toMatchObject({ count: expect.any(Number) });
      }
      const [low, high] = rangeOf(cell, m);
      expect(t, JSON.stringify(cell)).toBeGreaterThanOrEqual(low);
      expect(t, JSON.stringify(cell)).toBeLessThanOrEqual(high);
    }
  });
}

// 11. Set-equality oracle ------------------------------------------------------------

/** `projects` projects, each testing up to `perProject` memberships while its budget lasts. */
export async function setEquality(
  pool: NodePool,
  pop: Population,
  projects: number,
  perProject: number,
): Promise<Trial[]> {
  const runs = await pool.trials(projects, async (node, project, i) => {
    const attacker = new Attacker(node, project);
    const trials: Trial[] = [];
    for (const [k, target] of membershipTargets(pop, perProject, 700 + i).entries()) {
      const trial = await setEqualityAttack(attacker, target, `${project} #${k} (${target.code})`);
      if (trial === undefined) break;
      trials.push(trial);
    }
    return trials;
  });
  return runs.flat();
}

export { trialsOf };
