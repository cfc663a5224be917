// The privacy attack harness against the node's DEFAULT policy (loadPolicy({})):
// keyed discrete Laplace, thresholding on the noisy count, a budget per
// project and per researcher. Each attack class of docs/privacy.md runs as
// one project (three researchers, so the whole project budget) against real
// nodes over a generated population whose truth the oracle knows, until the
// node answers 429. No attack may recover a small count, a value or a
// membership with certainty from the published bounds, nor be expected to
// recover it exactly more than 90 % of the time (inference.ts says how that
// is judged). Each attack also runs against the open policy, where the same
// code must recover the truth: that is what makes these tests able to fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIFFERENCING,
  differencing,
  exactStatistics,
  expectBudgetSpent,
  expectLargeCountsReleased,
  histogramEdges,
  manyTrackers,
  margins,
  nearThreshold,
  overlappingStrata,
  paddingAverage,
  setEquality,
  thresholdWalk,
  trialsOf,
  zeroOracle,
} from './classes.ts';
import { NodePool, type Population, generatePopulation } from './harness.ts';
import { expectRecovered, expectResisted } from './inference.ts';

/** The attacker's own limit against the open policy, which has no budget. */
const OPEN = { maxQueries: 600 };

let pop: Population;
let laplace: NodePool;
let open: NodePool;
beforeAll(async () => {
  pop = await generatePopulation(400, 7);
  laplace = new NodePool(pop, { nodes: 2 });
  open = new NodePool(pop, { policy: 'open', nodes: 1 });
  await laplace.start();
  await open.start();
});
afterAll(async () => {
  await laplace?.close();
  await open?.close();
  await pop?.close();
});

describe('1. exact statistics: two summaries one patient apart', () => {
  it('do not give the patient’s value under the default policy', async () => {
    expectResisted(await exactStatistics(laplace, pop, 4));
  });
  it('give it against the open policy', async () => {
    expectRecovered(await exactStatistics(open, pop, 1, { maxQueries: 4 }));
  });
});

describe('2. exact zeros as an oracle: binary search over birth dates and sex', () => {
  it('does not rebuild a small cohort under the default policy', async () => {
    expectResisted(await zeroOracle(laplace, pop, 2));
  });
  it('rebuilds it against the open policy', async () => {
    expectRecovered(await zeroOracle(open, pop, 1, OPEN));
  });
});

describe('3. histogram edges [-1e9, e]: binary search for one patient’s extreme value', () => {
  it('do not find the highest value under the default policy', async () => {
    expectResisted(await histogramEdges(laplace, pop, 4));
  });
  it('find it against the open policy', async () => {
    expectRecovered(await histogramEdges(open, pop, 1, OPEN));
  });
});

describe('4. threshold walk: padding P with 1, 2, 3 … known patients until released', () => {
  it('does not give |P| under the default policy', async () => {
    const runs = await thresholdWalk(laplace, pop, 12);
    expectBudgetSpent(runs);
    expectResisted(trialsOf(runs));
  });

  // The strongest count attack here: every answer measures |P| + j with j
  // known, and the whole project budget (40 tables) goes to one count near
  // the threshold. At epsilon 0.25 per table and 10 per project it gets |P|
  // right about half the time and never close to 99 % sure (at 0.5 and 20 it
  // was 99 % sure in about one trial in five, which set these defaults).
  it('does not make the attacker 99 % sure of |P| = threshold - 1 under the default policy', async () => {
    const runs = await thresholdWalk(laplace, pop, 8, { targets: nearThreshold(pop), seed: 50 });
    expect(runs.length).toBe(8);
    expectBudgetSpent(runs);
    expectResisted(trialsOf(runs));
  });

  it('gives |P| against the open policy', async () => {
    expectRecovered(trialsOf(await thresholdWalk(open, pop, 2, OPEN)));
  });
});

describe('5. padding average: (P OR Bᵢ) − (Bᵢ AND NOT P) over many Bᵢ', () => {
  it('does not give |P| under the default policy', async () => {
    const runs = await paddingAverage(laplace, pop, 4);
    expectBudgetSpent(runs);
    expectResisted(trialsOf(runs));
  });
  it('gives |P| against the open policy', async () => {
    expectRecovered(trialsOf(await paddingAverage(open, pop, 2, OPEN)));
  });
});

describe('6. many trackers: (Aᵢ OR P) + (NOT Aᵢ OR P) − Aᵢ − (NOT Aᵢ)', () => {
  it('do not give |P| under the default policy', async () => {
    const runs = await manyTrackers(laplace, pop, 4);
    expectBudgetSpent(runs);
    expectResisted(trialsOf(runs));
  });
  it('give |P| against the open policy', async () => {
    expectRecovered(trialsOf(await manyTrackers(open, pop, 2, OPEN)));
  });
});

describe('7. overlapping strata: stratum X + stratum Y − total in one codes breakdown', () => {
  it('do not give |X and Y| under the default policy', async () => {
    const runs = await overlappingStrata(laplace, pop, 4);
    expectBudgetSpent(runs);
    expectResisted(trialsOf(runs));
  });
  it('give it against the open policy', async () => {
    expectRecovered(trialsOf(await overlappingStrata(open, pop, 1, OPEN)));
  });
});

describe('8. margins: a 3-way table and each 1- and 2-way margin asked separately', () => {
  it('pin no small cell under the default policy', async () => {
    const runs = await margins(laplace, pop, 4);
    expectBudgetSpent(runs);
    expectResisted(trialsOf(runs));
  });
  it('pin it against the open policy', async () => {
    expectRecovered(trialsOf(await margins(open, pop, 1, OPEN)));
  });
});

describe('9. differencing', () => {
  it.each(DIFFERENCING)('%s: no small difference under the default policy', async (name) => {
    const runs = await differencing(laplace, pop, name, 2);
    expectBudgetSpent(runs);
    expectResisted(trialsOf(runs));
  });
  it.each(DIFFERENCING)('%s: the difference against the open policy', async (name) => {
    expectRecovered(trialsOf(await differencing(open, pop, name, 1, OPEN)));
  });
});

describe('10. a broken noise source: a large count comes back suppressed', () => {
  let big: Population;
  let nodes: NodePool;
  beforeAll(async () => {
    big = await generatePopulation(2000, 10);
    nodes = new NodePool(big, { nodes: 2, projectsPerNode: 2 });
    await nodes.start();
  });
  afterAll(async () => {
    await nodes?.close();
    await big?.close();
  });

  it('releases a count of 2000 and its strata, each with a range that holds the truth', async () => {
    await expectLargeCountsReleased(nodes, big, 2, 'laplace');
  });
});

describe('11. set-equality oracle: A and A AND NOT x', () => {
  it('does not tell whether anyone in A has x under the default policy', async () => {
    const trials = await setEquality(laplace, pop, 2, 20);
    expect(trials.length).toBeGreaterThanOrEqual(30);
    expectResisted(trials);
  });
  it('tells it against the open policy', async () => {
    expectRecovered(await setEquality(open, pop, 1, 6));
  });
});
