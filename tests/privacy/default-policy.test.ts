// The privacy attack harness against the node's DEFAULT policy (loadPolicy({})):
// keyed discrete Laplace, thresholding on the noisy count, a budget per
// project and per researcher. Each attack class of docs/privacy.md runs as
// one project (three researchers, so the whole project budget) against real
// nodes over a generated population whose truth the oracle knows, until the
// node answers 429. No attack may recover a small count, a value or a
// membership with certainty from the published bounds, nor be expected to
// recover it exactly more than 90 % of the time (inference.ts). Each attack
// also runs against the open policy, where the same code must recover the
// truth: that is what makes these tests able to fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BANDS,
  differencingVariants,
  exactStatisticsAttack,
  exclusionWindows,
  extremeTargets,
  histogramEdgeAttack,
  labTargets,
  linearAttack,
  marginRound,
  membershipTargets,
  overlapRound,
  overlapTargets,
  paddingRound,
  rareConditions,
  setEqualityAttack,
  smallTableCells,
  thresholdWalkAttack,
  trackerRound,
  zeroOracleAttack,
} from './attacks.ts';
import {
  Attacker,
  type Population,
  birthWindows,
  condition,
  generatePopulation,
  onNodes,
  query,
} from './harness.ts';
import { type Trial, expectRecovered, expectResisted, rangeOf, mechanismOf } from './inference.ts';

const OPEN = { policy: 'open' as const, nodes: 1, projectsPerNode: 1 };
/** Enough for every attack against the open policy, which has no budget. */
const OPEN_QUERIES = 600;

let pop: Population;
beforeAll(async () => {
  pop = await generatePopulation(400, 7);
});
afterAll(() => pop.close());

/** Every budget-bound attack must have been stopped by the budget, not by itself. */
function expectBudgetSpent(attacker: Attacker): void {
  expect(attacker.stops).toContain('ERR_BUDGET_EXHAUSTED');
}

describe('1. exact statistics: two summaries one patient apart', () => {
  const run = (options: Parameters<typeof onNodes>[1], maxQueries = Infinity) =>
    onNodes(pop, options, async (node, project, i) => {
      const target = labTargets(pop, 4)[i % 4]!;
      const attacker = new Attacker(node, project, { maxQueries });
      return exactStatisticsAttack(attacker, pop, target, 11 + i, 20);
    });

  it('does not give the patient’s value under the default policy', async () => {
    expectResisted(await run({ nodes: 2, projectsPerNode: 2 }));
  });

  it('gives the value against the open policy', async () => {
    expectRecovered(await run(OPEN, 4));
  });
});

describe('2. exact zeros as an oracle: binary search over birth dates and sex', () => {
  const run = (options: Parameters<typeof onNodes>[1], maxQueries = Infinity) =>
    onNodes(pop, options, async (node, project, i) => {
      const target = rareConditions(pop).filter((c) => c.count <= 5)[i]!;
      const attacker = new Attacker(node, project, { maxQueries });
      return zeroOracleAttack(attacker, pop, condition(target.code), `members of ${target.code}`);
    });

  it('does not rebuild a small cohort under the default policy', async () => {
    expectResisted(await run({ nodes: 2, projectsPerNode: 2 }));
  });

  it('rebuilds it against the open policy', async () => {
    expectRecovered(await run(OPEN, OPEN_QUERIES));
  });
});

describe('3. histogram edges [-1e9, e]: binary search for one patient’s extreme value', () => {
  const run = (options: Parameters<typeof onNodes>[1]) =>
    onNodes(pop, options, async (node, project, i) => {
      const targets = extremeTargets(pop);
      return histogramEdgeAttack(new Attacker(node, project), targets[i % targets.length]!);
    });

  it('does not find the highest value under the default policy', async () => {
    expectResisted(await run({ nodes: 2, projectsPerNode: 2 }));
  });

  it('finds it against the open policy', async () => {
    expectRecovered(await run(OPEN));
  });
});

describe('4. threshold walk: padding with 1, 2, 3 … known patients until released', () => {
  const run = (options: Parameters<typeof onNodes>[1], maxQueries = Infinity) =>
    onNodes(pop, options, async (node, project, i) => {
      const targets = rareConditions(pop);
      const target = targets[i % targets.length]!;
      const attacker = new Attacker(node, project, { maxQueries });
      const inf = await thresholdWalkAttack(attacker, pop, condition(target.code), i, 40);
      return { attacker, trial: { ...inf.trial(`|${target.code}|`, target.count), queries: attacker.answers } };
    });

  it('does not give |P| under the default policy', async () => {
    const runs = await run({ nodes: 2, projectsPerNode: 4 });
    for (const r of runs) expectBudgetSpent(r.attacker);
    expectResisted(runs.map((r) => r.trial));
  });

  it('gives |P| against the open policy', async () => {
    expectRecovered((await run(OPEN, OPEN_QUERIES)).map((r) => r.trial));
  });
});

/** A linear attack per project; the trial and whether the budget stopped it. */
function linearRuns(
  options: Parameters<typeof onNodes>[1],
  plan: (i: number) => { label: string; truth: number; round: Parameters<typeof linearAttack>[1] },
  maxRounds: number,
) {
  return onNodes(pop, options, async (node, project, i) => {
    const { label, truth, round } = plan(i);
    const attacker = new Attacker(node, project);
    const inf = await linearAttack(attacker, round, { maxRounds });
    const trial: Trial = { ...inf.trial(label, truth), queries: attacker.answers };
    return { attacker, trial };
  });
}

async function expectLinearResisted(runs: Awaited<ReturnType<typeof linearRuns>>): Promise<void> {
  for (const r of runs) expectBudgetSpent(r.attacker);
  expectResisted(runs.map((r) => r.trial));
}

describe('5. padding average: (P OR Bᵢ) − (Bᵢ AND NOT P) over many Bᵢ', () => {
  const plan = (i: number) => {
    const targets = rareConditions(pop);
    const t = targets[i % targets.length]!;
    return {
      label: `|${t.code}|`,
      truth: t.count,
      round: paddingRound(condition(t.code), birthWindows(pop, 80, 400, 100 + i)),
    };
  };

  it('does not give |P| under the default policy', async () => {
    await expectLinearResisted(await linearRuns({ nodes: 2, projectsPerNode: 3 }, plan, 400));
  });

  it('gives |P| against the open policy', async () => {
    expectRecovered((await linearRuns(OPEN, plan, 400)).map((r) => r.trial));
  });
});

describe('6. many trackers: (Aᵢ OR P) + (NOT Aᵢ OR P) − Aᵢ − (NOT Aᵢ)', () => {
  const plan = (i: number) => {
    const targets = rareConditions(pop);
    const t = targets[(i + 3) % targets.length]!;
    return {
      label: `|${t.code}|`,
      truth: t.count,
      round: trackerRound(condition(t.code), birthWindows(pop, 150, 400, 200 + i)),
    };
  };

  it('does not give |P| under the default policy', async () => {
    await expectLinearResisted(await linearRuns({ nodes: 2, projectsPerNode: 3 }, plan, 400));
  });

  it('gives |P| against the open policy', async () => {
    expectRecovered((await linearRuns(OPEN, plan, 400)).map((r) => r.trial));
  });
});

describe('7. overlapping strata: stratum X + stratum Y − total in one codes breakdown', () => {
  const plan = (i: number) => {
    const t = overlapTargets(pop, 6, 300)[i % 6]!;
    return {
      label: `|${t.x} and ${t.y} in a window|`,
      truth: t.count,
      round: overlapRound(t.x, t.y, t.s, t.exclusions),
    };
  };

  it('does not give |X and Y| under the default policy', async () => {
    await expectLinearResisted(await linearRuns({ nodes: 2, projectsPerNode: 3 }, plan, 400));
  });

  it('gives it against the open policy', async () => {
    expectRecovered((await linearRuns(OPEN, plan, 400)).map((r) => r.trial));
  });
});

describe('8. margins: a 3-way table and each 1- and 2-way margin asked separately', () => {
  const plan = (i: number) => {
    const cells = smallTableCells(pop);
    const { target, count } = cells[i % cells.length]!;
    const inCell = pop.members(target.criterion);
    return {
      label: `cell ${JSON.stringify(target.key)}`,
      truth: count,
      round: marginRound(target, exclusionWindows(pop, inCell, 5, 60, 400 + i)),
    };
  };

  it('pins no small cell under the default policy', async () => {
    expect(smallTableCells(pop).length, `small cells with age bands ${BANDS.join(',')}`).toBeGreaterThan(0);
    await expectLinearResisted(await linearRuns({ nodes: 2, projectsPerNode: 3 }, plan, 400));
  });

  it('pins it against the open policy', async () => {
    expectRecovered((await linearRuns(OPEN, plan, 400)).map((r) => r.trial));
  });
});

describe('9. differencing', () => {
  const variants = (i: number) => differencingVariants(pop, 500 + i);
  const names = ['by period', 'atLeast 1 vs 2', 'stratum alone vs in a table', 'total vs summary n vs histogram missing'];

  it.each(names)('%s: no small difference under the default policy', async (name) => {
    const runs = await linearRuns(
      { nodes: 2, projectsPerNode: 2 },
      (i) => {
        const v = variants(i).find((x) => x.name === name)!;
        return { label: name, truth: v.truth, round: v.round };
      },
      400,
    );
    await expectLinearResisted(runs);
  });

  it.each(names)('%s: the difference against the open policy', async (name) => {
    const runs = await linearRuns(
      OPEN,
      (i) => {
        const v = variants(i).find((x) => x.name === name)!;
        return { label: name, truth: v.truth, round: v.round };
      },
      400,
    );
    expectRecovered(runs.map((r) => r.trial));
  });
});

describe('10. a large count is released, with a range that holds the truth', () => {
  let big: Population;
  beforeAll(async () => {
    big = await generatePopulation(2000, 10);
  });
  afterAll(() => big.close());

  it('releases count 2000 and its strata on every freshly keyed node', async () => {
    const q = query({ patient: { gender: ['female', 'male', 'other', 'unknown'] } }, { stratify: ['gender'] });
    const truth = big.truth(q);
    expect(truth.total.count).toBe(2000);
    await onNodes(big, { nodes: 3, projectsPerNode: 1 }, async (node, project) => {
      const r = (await new Attacker(node, project).ask(q))!;
      const m = mechanismOf(r.disclosure);
      expect(r.disclosure.mechanism).toBe('laplace');
      const cells = [
        { cell: r.total, truth: truth.total.count },
        ...r.strata.map((s, k) => ({ cell: s.cell, truth: truth.strata[k]!.cell.count })),
      ];
      for (const { cell, truth: t } of cells) {
        if (t >= r.disclosure.threshold + r.disclosure.maxNoise) {
          expect(cell, `a count of ${t}`).toMatchObject({ count: expect.any(Number), perturbed: true });
        }
        const [low, high] = rangeOf(cell, m);
        expect(t, JSON.stringify(cell)).toBeGreaterThanOrEqual(low);
        expect(t, JSON.stringify(cell)).toBeLessThanOrEqual(high);
      }
    });
  });
});

describe('11. set-equality oracle: A and A AND NOT x', () => {
  const run = (options: Parameters<typeof onNodes>[1], perProject: number) =>
    onNodes(pop, options, async (node, project, i) => {
      const attacker = new Attacker(node, project);
      const trials: Trial[] = [];
      for (const [k, target] of membershipTargets(pop, perProject, 700 + i).entries()) {
        const trial = await setEqualityAttack(attacker, target, `${project} #${k} (${target.code})`);
        if (trial === undefined) break;
        trials.push(trial);
      }
      return trials;
    });

  it('does not tell whether anyone in A has x under the default policy', async () => {
    const trials = (await run({ nodes: 2, projectsPerNode: 1 }, 20)).flat();
    expect(trials.length).toBeGreaterThanOrEqual(30);
    expectResisted(trials);
  });

  it('tells it against the open policy', async () => {
    expectRecovered((await run(OPEN, 6)).flat());
  });
});
