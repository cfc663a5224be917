import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  isValid,
  type Cell,
  type Disclosure,
  type MergedCell,
  type MergedResult,
  type NodeOutcome,
  type NodeResult,
} from '@tessera/schemas';
import { MAX_NODE_COUNT, mergeResults } from './merge.ts';

const HASH = `sha256:${'a'.repeat(64)}`;
const OTHER_HASH = `sha256:${'b'.repeat(64)}`;

const EXACT: Disclosure = { threshold: 10, mechanism: 'none', maxNoise: 0, rounding: 1 };
const CELL_KEY: Disclosure = { threshold: 10, mechanism: 'cell-key', maxNoise: 2, rounding: 1 };
const LAPLACE: Disclosure = {
  threshold: 10,
  mechanism: 'laplace',
  maxNoise: 39,
  rounding: 1,
  epsilon: 0.5,
  delta: 1e-9,
  confidence: 0.95,
};

function result(node: string, fields: Partial<NodeResult> = {}): NodeResult {
  return {
    node,
    queryHash: HASH,
    dataVersion: '2026-11-20T10:00:00Z#a1b2',
    evaluatedAt: '2026-11-20T10:00:00Z',
    elapsedMs: 12,
    disclosure: EXACT,
    total: { count: 0 },
    strata: [],
    measures: [{ type: 'count' }],
    ...fields,
  };
}

function ok(r: NodeResult): NodeOutcome {
  return { node: r.node, status: 'ok', elapsedMs: 20, attempts: 1, result: r };
}

function merged(outcomes: NodeOutcome[], minNodes = 1): MergedResult {
  const m = mergeResults({ queryHash: HASH, outcomes, minNodes });
  expect(isValid('merged-result', m)).toBe(true);
  return m;
}

describe('mergeResults: cells', () => {
  it('sums exact counts into a point range', () => {
    const m = merged([
      ok(result('a', { total: { count: 120 } })),
      ok(result('b', { total: { count: 30 } })),
    ]);
    expect(m.total).toEqual({ count: 150, range: [150, 150] });
    expect(m.complete).toBe(true);
    expect(m.missing).toBeUndefined();
  });

  it('widens perturbed parts by maxNoise and adds suppressed ranges, with no count', () => {
    const m = merged([
      ok(result('a', { disclosure: CELL_KEY, total: { count: 120, perturbed: true } })),
      ok(result('b', { disclosure: CELL_KEY, total: { suppressed: true, range: [1, 9] } })),
    ]);
    expect(m.total).toEqual({ range: [119, 131], suppressed: true });
  });

  it('shows no count for 0 plus a suppressed part, only the range', () => {
    // Once merged as `count: 1, range: [1, 9]`: a figure no node released.
    const m = merged([
      ok(result('a', { total: { count: 0 } })),
      ok(result('b', { total: { suppressed: true, range: [1, 9] } })),
    ]);
    expect(m.total).toEqual({ range: [1, 9], suppressed: true });
    expect(m.total.count).toBeUndefined();
  });

  it('never lets a perturbed lower bound go below zero', () => {
    const m = merged([
      ok(result('a', { disclosure: CELL_KEY, total: { count: 1, perturbed: true } })),
    ]);
    expect(m.total).toEqual({ count: 1, range: [0, 3], perturbed: true });
  });

  it('rounds fractional noise bounds inwards, since true counts are integers', () => {
    const laplace: Disclosure = { ...CELL_KEY, mechanism: 'laplace', maxNoise: 2.5, epsilon: 1 };
    const m = merged([
      ok(result('a', { disclosure: laplace, total: { count: 10, perturbed: true } })),
    ]);
    expect(m.total.range).toEqual([8, 12]);
  });

  it('widens rounded counts by rounding - 1 even when not marked perturbed', () => {
    const rounded: Disclosure = { ...EXACT, rounding: 5 };
    const m = merged([ok(result('a', { disclosure: rounded, total: { count: 100 } }))]);
    expect(m.total).toEqual({ count: 100, range: [96, 104], perturbed: true });
  });

  it('combines noise and rounding', () => {
    const both: Disclosure = { ...CELL_KEY, rounding: 3 };
    const m = merged([
      ok(result('a', { disclosure: both, total: { count: 30, perturbed: true } })),
    ]);
    expect(m.total.range).toEqual([26, 34]);
  });

  it('marks a cell suppressed, without a count, when no part was released', () => {
    const m = merged([
      ok(result('a', { total: { suppressed: true, range: [1, 9] } })),
      ok(result('b', { total: { suppressed: true, range: [1, 4] } })),
    ]);
    expect(m.total).toEqual({ range: [2, 13], suppressed: true });
  });
});

describe('mergeResults: nodes', () => {
  it('lists nodes that did not answer and leaves them out of the sums', () => {
    const m = merged([
      ok(result('a', { total: { count: 50 } })),
      { node: 'c', status: 'timeout', elapsedMs: 300, attempts: 1 },
      { node: 'b', status: 'refused', code: 'ERR_BUDGET_EXHAUSTED', attempts: 1 },
    ]);
    expect(m.complete).toBe(false);
    expect(m.missing).toEqual(['b', 'c']);
    expect(m.total).toEqual({ count: 50, range: [50, 50] });
    expect(m.nodes.map((n) => n.node)).toEqual(['a', 'b', 'c']);
  });

  it('drops a result attached to an outcome that is not ok', () => {
    const m = merged([
      ok(result('a', { total: { count: 50 } })),
      { node: 'b', status: 'error', result: result('b', { total: { count: 7 } }) },
    ]);
    expect(m.total.count).toBe(50);
    expect(m.nodes.find((n) => n.node === 'b')).toEqual({ node: 'b', status: 'error' });
  });

  it('treats an answer to another query, or from another node, as an error', () => {
    const m = merged([
      ok(result('a', { total: { count: 50 } })),
      ok(result('b', { queryHash: OTHER_HASH, total: { count: 7 } })),
      { node: 'c', status: 'ok', result: result('x', { total: { count: 9 } }) },
      { node: 'd', status: 'ok' },
    ]);
    expect(m.total.count).toBe(50);
    expect(m.missing).toEqual(['b', 'c', 'd']);
    for (const n of m.nodes.slice(1)) {
      expect(n.status).toBe('error');
      expect(n.result).toBeUndefined();
    }
  });

  it('counts a node listed twice once', () => {
    const a = ok(result('a', { total: { count: 50 } }));
    expect(merged([a, a]).total.count).toBe(50);
  });

  it('withholds every figure, and each node result, below minNodes', () => {
    const outcomes = [
      ok(
        result('a', {
          total: { count: 50 },
          strata: [{ key: { gender: 'female' }, cell: { count: 50 } }],
          measures: [
            { type: 'count' },
            { type: 'summary', unit: 'mg/dL', n: { count: 50 }, mean: 100, sd: 10 },
          ],
        }),
      ),
      { node: 'b', status: 'unavailable', attempts: 3 } satisfies NodeOutcome,
    ];
    const m = merged(outcomes, 2);
    const withheld: MergedCell = { range: [0, MAX_NODE_COUNT], suppressed: true };
    expect(m.total).toEqual(withheld);
    expect(m.strata).toEqual([{ key: { gender: 'female' }, cell: withheld }]);
    expect(m.measures).toEqual([
      { type: 'count' },
      { type: 'summary', unit: 'mg/dL', n: withheld },
    ]);
    expect(m.nodes.every((n) => n.result === undefined)).toBe(true);
    expect(m.complete).toBe(false);
  });

  it('answers a query no node answered with an empty, suppressed table', () => {
    const m = merged([{ node: 'a', status: 'timeout' }]);
    expect(m.total).toEqual({ range: [0, 0], suppressed: true });
    expect(m.strata).toEqual([]);
    expect(m.measures).toEqual([]);
  });

  it('refuses a minNodes that is not a positive integer', () => {
    expect(() => mergeResults({ queryHash: HASH, outcomes: [], minNodes: 0 })).toThrow(RangeError);
  });
});

describe('mergeResults: strata and measures', () => {
  it('matches strata by key whatever the order of the key fields or of the strata', () => {
    const m = merged([
      ok(
        result('a', {
          total: { count: 30 },
          strata: [
            { key: { gender: 'female', ageBand: '40-64' }, cell: { count: 20 } },
            { key: { gender: 'male', ageBand: '40-64' }, cell: { count: 10 } },
          ],
        }),
      ),
      ok(
        result('b', {
          total: { count: 12 },
          strata: [
            {
              key: { ageBand: '40-64', gender: 'male' },
              cell: { suppressed: true, range: [1, 9] },
            },
            { key: { ageBand: '40-64', gender: 'female' }, cell: { count: 11 } },
          ],
        }),
      ),
    ]);
    expect(m.strata).toEqual([
      { key: { gender: 'female', ageBand: '40-64' }, cell: { count: 31, range: [31, 31] } },
      { key: { gender: 'male', ageBand: '40-64' }, cell: { range: [11, 19], suppressed: true } },
    ]);
  });

  it('bounds a stratum a node did not report by that node total, and gives it no count', () => {
    const m = merged([
      ok(
        result('a', {
          total: { count: 5 },
          strata: [{ key: { deceased: 'true' }, cell: { count: 5 } }],
        }),
      ),
      ok(result('b', { disclosure: CELL_KEY, total: { count: 12, perturbed: true }, strata: [] })),
    ]);
    expect(m.strata[0]?.cell).toEqual({ range: [5, 19], suppressed: true });
    expect(m.overlapping).toBeUndefined();
  });

  it('passes overlapping strata on', () => {
    const m = merged([ok(result('a', { overlapping: true })), ok(result('b'))]);
    expect(m.overlapping).toBe(true);
  });

  it('merges histograms bin by bin, matching bins by their edges', () => {
    const hist = (bins: [number, number | undefined, Cell][], missing: Cell) => ({
      type: 'histogram' as const,
      unit: 'mg/dL',
      bins: bins.map(([from, to, cell]) =>
        to === undefined ? { from, cell } : { from, to, cell },
      ),
      missing,
    });
    const m = merged([
      ok(
        result('a', {
          measures: [
            { type: 'count' },
            hist(
              [
                [0, 100, { count: 40 }],
                [100, undefined, { count: 12 }],
              ],
              { count: 3 },
            ),
          ],
        }),
      ),
      ok(
        result('b', {
          measures: [
            { type: 'count' },
            hist(
              [
                [100, undefined, { suppressed: true, range: [1, 9] }],
                [0, 100, { count: 25 }],
              ],
              { suppressed: true, range: [1, 9] },
            ),
          ],
        }),
      ),
    ]);
    expect(m.measures[1]).toEqual({
      type: 'histogram',
      unit: 'mg/dL',
      bins: [
        { from: 0, to: 100, cell: { count: 65, range: [65, 65] } },
        { from: 100, cell: { range: [13, 21], suppressed: true } },
      ],
      missing: { range: [4, 12], suppressed: true },
    });
  });

  it('counts a measure with another unit as absent rather than adding it up', () => {
    const summary = (unit: string) => ({
      type: 'summary' as const,
      unit,
      n: { count: 20 },
      mean: 5,
      sd: 1,
    });
    const m = merged([
      ok(result('a', { total: { count: 20 }, measures: [summary('mmol/L')] })),
      ok(result('b', { total: { count: 20 }, measures: [summary('mg/dL')] })),
    ]);
    expect(m.measures[0]).toEqual({
      type: 'summary',
      unit: 'mmol/L',
      n: { range: [20, 40], suppressed: true },
      mean: 5,
      sd: 1,
      pooledFrom: ['a'],
    });
  });

  it('pools n, mean and sd only over nodes that released them with a released n', () => {
    const m = merged([
      ok(
        result('a', {
          measures: [{ type: 'summary', unit: '%', n: { count: 10 }, mean: 6, sd: 1 }],
        }),
      ),
      ok(
        result('b', {
          measures: [{ type: 'summary', unit: '%', n: { count: 30 }, mean: 8, sd: 2 }],
        }),
      ),
      ok(
        result('c', {
          measures: [{ type: 'summary', unit: '%', n: { suppressed: true, range: [1, 9] } }],
        }),
      ),
      ok(
        result('d', {
          measures: [{ type: 'summary', unit: '%', n: { count: 12 }, suppressed: true }],
        }),
      ),
    ]);
    const s = m.measures[0];
    expect(s?.type).toBe('summary');
    if (s?.type !== 'summary') return;
    expect(s.pooledFrom).toEqual(['a', 'b']);
    // c's n is suppressed: n has its range only; mean and sd are a's and b's.
    expect(s.n).toEqual({ range: [53, 61], suppressed: true });
    // a: 10 values of mean 6, sd 1; b: 30 values of mean 8, sd 2.
    const mean = (10 * 6 + 30 * 8) / 40;
    const sd = Math.sqrt((9 * 1 + 29 * 4 + 10 * (6 - mean) ** 2 + 30 * (8 - mean) ** 2) / 39);
    expect(s.mean).toBeCloseTo(mean, 12);
    expect(s.sd).toBeCloseTo(sd, 12);
  });
});

describe('mergeResults: ranges and intervals stated by the nodes', () => {
  it("sums the nodes' own ranges and intervals, at the Bonferroni level", () => {
    const m = merged([
      ok(
        result('a', {
          disclosure: LAPLACE,
          total: { count: 118, perturbed: true, range: [79, 157], interval: [112, 124] },
        }),
      ),
      ok(
        result('b', {
          disclosure: LAPLACE,
          total: { count: 50, perturbed: true, range: [11, 89], interval: [44, 56] },
        }),
      ),
    ]);
    expect(m.confidence).toBe(0.9);
    expect(m.total).toEqual({
      count: 168,
      range: [90, 246],
      interval: [156, 180],
      perturbed: true,
    });
  });

  it('states 1 - the sum of the misses, exactly as written', () => {
    const m = merged(
      ['a', 'b', 'c'].map((n) =>
        ok(result(n, { disclosure: LAPLACE, total: { count: 20, range: [0, 59] } })),
      ),
    );
    expect(m.confidence).toBe(0.85);
  });

  it('gives a suppressed part its range and interval, and the merged cell no count', () => {
    const m = merged([
      ok(
        result('a', {
          disclosure: LAPLACE,
          total: { count: 1204, perturbed: true, range: [1165, 1243], interval: [1198, 1210] },
        }),
      ),
      ok(
        result('b', {
          disclosure: LAPLACE,
          total: { suppressed: true, range: [0, 48], interval: [0, 15] },
        }),
      ),
    ]);
    expect(m.total).toEqual({ range: [1165, 1291], interval: [1198, 1225], suppressed: true });
  });

  it('lets a part without an interval contribute its range, and costs no level', () => {
    const m = merged([
      ok(
        result('a', {
          disclosure: LAPLACE,
          total: { count: 100, perturbed: true, range: [61, 139], interval: [94, 106] },
        }),
      ),
      ok(result('b', { disclosure: CELL_KEY, total: { count: 40, perturbed: true } })),
      ok(result('c', { total: { count: 7 } })),
    ]);
    expect(m.confidence).toBe(0.95);
    expect(m.total).toEqual({
      count: 147,
      range: [106, 188],
      interval: [139, 155],
      perturbed: true,
    });
  });

  it('ignores an interval whose node states no confidence', () => {
    const m = merged([
      ok(
        result('a', {
          disclosure: CELL_KEY,
          total: { count: 100, perturbed: true, range: [98, 102], interval: [99, 101] },
        }),
      ),
    ]);
    expect(m.confidence).toBeUndefined();
    expect(m.total).toEqual({ count: 100, range: [98, 102], perturbed: true });
  });

  it('keeps an interval inside its range and a count inside its range', () => {
    const m = merged([
      ok(
        result('a', {
          disclosure: LAPLACE,
          total: { count: 50, perturbed: true, range: [40, 45], interval: [30, 60] },
        }),
      ),
    ]);
    expect(m.total).toEqual({ count: 50, range: [40, 50], interval: [40, 50], perturbed: true });
  });

  it('bounds an absent stratum by the upper ends of the node total range and interval', () => {
    const m = merged([
      ok(
        result('a', {
          disclosure: LAPLACE,
          total: { count: 300, perturbed: true, range: [261, 339], interval: [294, 306] },
          strata: [
            {
              key: { gender: 'female' },
              cell: { count: 200, perturbed: true, range: [161, 239], interval: [194, 206] },
            },
          ],
        }),
      ),
      ok(
        result('b', {
          disclosure: LAPLACE,
          total: { count: 20, perturbed: true, range: [0, 59], interval: [14, 26] },
          strata: [],
        }),
      ),
    ]);
    expect(m.strata[0]?.cell).toEqual({
      range: [161, 298],
      interval: [194, 232],
      suppressed: true,
    });
  });

  it('gives no interval when the levels leave nothing', () => {
    const half: Disclosure = { ...LAPLACE, confidence: 0.5 };
    const m = merged(
      ['a', 'b'].map((n) =>
        ok(
          result(n, {
            disclosure: half,
            total: { count: 20, perturbed: true, range: [0, 59], interval: [19, 21] },
          }),
        ),
      ),
    );
    expect(m.confidence).toBeUndefined();
    expect(m.total).toEqual({ count: 40, range: [0, 118], perturbed: true });
  });

  it('gives no interval, and no level, for withheld figures', () => {
    const m = merged(
      [
        ok(
          result('a', {
            disclosure: LAPLACE,
            total: { count: 20, perturbed: true, range: [0, 59], interval: [14, 26] },
          }),
        ),
      ],
      2,
    );
    expect(m.confidence).toBeUndefined();
    expect(m.total).toEqual({ range: [0, MAX_NODE_COUNT], suppressed: true });
  });
});

describe('mergeResults: budget', () => {
  const budget = (cost: number, project: number, researcher: number) => ({
    cost,
    periodDays: 30,
    project: { spent: project, limit: 20 },
    researcher: { spent: researcher, limit: 10 },
  });

  it("lists each answering node's cost and spending, by node", () => {
    const m = merged([
      ok(result('b', { budget: budget(1.5, 6.5, 2) })),
      ok(result('a', { budget: budget(0, 3, 3) })),
      ok(result('c')),
      { node: 'd', status: 'refused', code: 'ERR_BUDGET_EXHAUSTED', attempts: 1 },
    ]);
    expect(m.budget).toEqual([
      { node: 'a', ...budget(0, 3, 3) },
      { node: 'b', ...budget(1.5, 6.5, 2) },
    ]);
  });

  it('is absent when no node reports a budget', () => {
    expect(merged([ok(result('a'))]).budget).toBeUndefined();
  });

  it('is given even when the figures are withheld', () => {
    const m = merged([ok(result('a', { budget: budget(1, 1, 1) }))], 2);
    expect(m.nodes[0]?.result).toBeUndefined();
    expect(m.budget).toEqual([{ node: 'a', ...budget(1, 1, 1) }]);
  });
});

// ---------------------------------------------------------------------------
// Property tests: simulate each node's disclosure control on known true
// counts, merge, and check the promises: the true sum always lies inside the
// range, inside the interval whenever every node's interval held, and a
// count is given exactly when every node released its part.

interface Simulated {
  readonly cell: Cell;
  readonly truth: number;
  /** Whether the cell's interval (its range when it has none) holds the truth. */
  readonly intervalHolds: boolean;
}

/** A node's disclosure and, for nodes that state intervals, their half-width. */
interface NodeDisclosure {
  readonly disclosure: Disclosure;
  readonly halfWidth?: number;
}

/** Nodes of earlier versions: released counts carry no range of their own. */
const legacyDisclosureArb: fc.Arbitrary<NodeDisclosure> = fc
  .record({
    threshold: fc.integer({ min: 1, max: 20 }),
    maxNoise: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 5 }),
      fc.double({ min: 0, max: 5, noNaN: true }),
    ),
    rounding: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 5 })),
  })
  .map(({ threshold, maxNoise, rounding }) => ({
    disclosure: { threshold, mechanism: maxNoise > 0 ? 'cell-key' : 'none', maxNoise, rounding },
  }));

/** Truncated-noise nodes: every cell states its range and its interval. */
const statedDisclosureArb: fc.Arbitrary<NodeDisclosure> = fc
  .record({
    threshold: fc.integer({ min: 1, max: 20 }),
    maxNoise: fc.integer({ min: 0, max: 40 }),
    rounding: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3 })),
    confidence: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ threshold, maxNoise, rounding, confidence, share }) => ({
    disclosure: {
      threshold,
      mechanism: 'laplace',
      maxNoise,
      rounding,
      epsilon: 0.5,
      delta: 1e-9,
      confidence,
    },
    halfWidth: Math.round(share * maxNoise),
  }));

const disclosureArb = fc.oneof(legacyDisclosureArb, statedDisclosureArb);

/** How a node treats one cell: the random choices of its disclosure control. */
const choiceArb = fc.record({
  truth: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 100_000 })),
  noise: fc.oneof(fc.constant(0), fc.double({ min: -1, max: 1, noNaN: true })),
  rounding: fc.constantFrom('nearest', 'floor', 'ceil'),
  secondary: fc.option(fc.tuple(fc.nat(50), fc.nat(50)), { freq: 5 }),
});

type Choice = typeof choiceArb extends fc.Arbitrary<infer T> ? T : never;

function disclose({ disclosure: d, halfWidth }: NodeDisclosure, c: Choice): Simulated {
  const { truth } = c;
  const round = { nearest: Math.round, floor: Math.floor, ceil: Math.ceil }[c.rounding];
  if (halfWidth !== undefined) {
    // Noise truncated at maxNoise, threshold on the noisy count.
    const T = d.maxNoise;
    const noisy = truth + Math.round(c.noise * T);
    const slack = d.rounding - 1;
    const between = (lo: number, hi: number): boolean => lo <= truth && truth <= hi;
    if (noisy < d.threshold) {
      const interval: [number, number] = [0, d.threshold - 1 + halfWidth];
      return {
        truth,
        cell: { suppressed: true, range: [0, d.threshold - 1 + T], interval },
        intervalHolds: between(...interval),
      };
    }
    const count = d.rounding * round(noisy / d.rounding);
    const interval: [number, number] = [
      Math.max(0, count - halfWidth - slack),
      count + halfWidth + slack,
    ];
    return {
      truth,
      cell: {
        count,
        perturbed: true,
        range: [Math.max(0, count - T - slack), count + T + slack],
        interval,
      },
      intervalHolds: between(...interval),
    };
  }
  if (truth >= 1 && truth <= d.threshold - 1) {
    return {
      truth,
      cell: { suppressed: true, range: [1, d.threshold - 1] },
      intervalHolds: true,
    };
  }
  if (c.secondary !== null) {
    const [below, above] = c.secondary;
    return {
      truth,
      cell: { suppressed: true, range: [Math.max(0, truth - below), truth + above] },
      intervalHolds: true,
    };
  }
  const noisy = Math.max(0, truth + Math.trunc(c.noise * d.maxNoise));
  const count = d.rounding * round(noisy / d.rounding);
  return {
    truth,
    cell: d.maxNoise > 0 ? { count, perturbed: true } : { count },
    intervalHolds: true,
  };
}

const STRATA = ['female', 'male', 'other', 'unknown'] as const;
const EDGES = [0, 100, 126, 200] as const;

const nodeArb = fc.record({
  disclosure: disclosureArb,
  status: fc.constantFrom<NodeOutcome['status']>('ok', 'ok', 'ok', 'ok', 'timeout', 'error'),
  total: choiceArb,
  strata: fc.array(choiceArb, { minLength: STRATA.length, maxLength: STRATA.length }),
  /** Strata the node leaves out of its answer. */
  dropped: fc.oneof(
    fc.constant([false, false, false, false]),
    fc.array(fc.boolean(), { minLength: STRATA.length, maxLength: STRATA.length }),
  ),
  bins: fc.array(choiceArb, { minLength: EDGES.length, maxLength: EDGES.length }),
  missing: choiceArb,
});

type NodeSpec = typeof nodeArb extends fc.Arbitrary<infer T> ? T : never;

/** What a node knows about one cell: its truth and how it released it. */
interface Truth {
  readonly truth: number;
  /** The node's part of the merged interval holds the truth. */
  readonly intervalHolds: boolean;
  /** The node released a count for the cell (it reported it, unsuppressed). */
  readonly count: number | undefined;
}

interface Simulation {
  readonly outcome: NodeOutcome;
  readonly truths: { total: Truth; strata: Truth[]; bins: Truth[]; missing: Truth };
}

function truthOf(s: Simulated): Truth {
  return {
    truth: s.truth,
    intervalHolds: s.intervalHolds,
    count: 'count' in s.cell ? s.cell.count : undefined,
  };
}

function simulate(name: string, spec: NodeSpec): Simulation {
  const d = spec.disclosure;
  const strata = spec.strata.map((c) => disclose(d, c));
  // No stratum of a cohort is larger than the cohort.
  const totalTruth = Math.max(spec.total.truth, ...strata.map((s) => s.truth));
  const total = disclose(d, { ...spec.total, truth: totalTruth });
  const bins = spec.bins.map((c) => disclose(d, c));
  const missing = disclose(d, spec.missing);
  const r = result(name, {
    disclosure: d.disclosure,
    total: total.cell,
    strata: strata.flatMap((s, i) =>
      spec.dropped[i] ? [] : [{ key: { gender: STRATA[i]! }, cell: s.cell }],
    ),
    measures: [
      { type: 'count' },
      {
        type: 'histogram',
        unit: 'mg/dL',
        bins: bins.map((b, i) => {
          const to = EDGES[i + 1];
          return to === undefined
            ? { from: EDGES[i]!, cell: b.cell }
            : { from: EDGES[i]!, to, cell: b.cell };
        }),
        missing: missing.cell,
      },
    ],
  });
  return {
    outcome: spec.status === 'ok' ? ok(r) : { node: name, status: spec.status, attempts: 1 },
    truths: {
      total: truthOf(total),
      // An absent stratum's interval is bounded by the total's.
      strata: strata.map((s, i) =>
        spec.dropped[i]
          ? { truth: s.truth, intervalHolds: total.intervalHolds, count: undefined }
          : truthOf(s),
      ),
      bins: bins.map(truthOf),
      missing: truthOf(missing),
    },
  };
}

/** Checks one merged cell against the node truths it was made from. */
function expectHonest(cell: MergedCell | undefined, parts: readonly Truth[]): void {
  expect(cell).toBeDefined();
  const truth = sum(parts.map((p) => p.truth));
  const [lo, hi] = cell!.range;
  expect(lo).toBeLessThanOrEqual(truth);
  expect(truth).toBeLessThanOrEqual(hi);
  if (cell!.interval !== undefined) {
    const [a, b] = cell!.interval;
    expect(lo).toBeLessThanOrEqual(a);
    expect(b).toBeLessThanOrEqual(hi);
    if (parts.every((p) => p.intervalHolds)) {
      expect(a).toBeLessThanOrEqual(truth);
      expect(truth).toBeLessThanOrEqual(b);
    }
  }
  const counts = parts.map((p) => p.count);
  if (counts.every((c) => c !== undefined)) {
    expect(cell!.count).toBe(sum(counts));
    expect(cell!.count).toBeGreaterThanOrEqual(lo);
    expect(cell!.count).toBeLessThanOrEqual(hi);
    expect(cell!.suppressed).toBeUndefined();
  } else {
    expect(cell!.count).toBeUndefined();
    expect(cell!.suppressed).toBe(true);
  }
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('mergeResults: properties', () => {
  it('keeps every promise: range, interval, and a count only when all released', () => {
    fc.assert(
      fc.property(fc.array(nodeArb, { minLength: 1, maxLength: 6 }), (specs) => {
        const sims = specs.map((s, i) => simulate(`node-${i}`, s));
        const m = mergeResults({
          queryHash: HASH,
          outcomes: sims.map((s) => s.outcome),
          minNodes: 1,
        });
        expect(isValid('merged-result', m)).toBe(true);
        const okSims = sims.filter((s) => s.outcome.status === 'ok');
        if (okSims.length === 0) {
          expect(m.total).toEqual({ range: [0, 0], suppressed: true });
          return;
        }
        const misses = specs.flatMap((spec, i) => {
          const c = spec.disclosure.disclosure.confidence;
          return sims[i]!.outcome.status !== 'ok' || c === undefined ? [] : [1 - c];
        });
        const level = 1 - sum(misses);
        if (misses.length === 0 || level <= 1e-9) expect(m.confidence).toBeUndefined();
        else expect(m.confidence).toBeCloseTo(level, 8);
        const withInterval = m.confidence !== undefined;
        expect(m.total.interval !== undefined).toBe(withInterval);

        expectHonest(
          m.total,
          okSims.map((s) => s.truths.total),
        );
        const strata = new Map(m.strata.map((s) => [s.key.gender, s.cell]));
        STRATA.forEach((gender, i) => {
          const parts = okSims.map((s) => s.truths.strata[i]!);
          // A stratum no answering node reported is not in the table.
          if (parts.every((p) => p.count === undefined) && !strata.has(gender)) return;
          expectHonest(strata.get(gender), parts);
        });
        const hist = m.measures[1];
        expect(hist?.type).toBe('histogram');
        if (hist?.type !== 'histogram') return;
        EDGES.forEach((_, i) =>
          expectHonest(
            hist.bins[i]?.cell,
            okSims.map((s) => s.truths.bins[i]!),
          ),
        );
        expectHonest(
          hist.missing,
          okSims.map((s) => s.truths.missing),
        );
        expect(m.complete).toBe(okSims.length === sims.length);
      }),
      { numRuns: 500 },
    );
  });

  it('does not depend on the order of the outcomes', () => {
    const arb = fc
      .array(nodeArb, { minLength: 1, maxLength: 6 })
      .map((specs) => specs.map((s, i) => simulate(`node-${i}`, s).outcome))
      .chain((outcomes) =>
        fc.tuple(
          fc.constant(outcomes),
          fc.shuffledSubarray(outcomes, { minLength: outcomes.length }),
          fc.integer({ min: 1, max: 3 }),
        ),
      );
    fc.assert(
      fc.property(arb, ([outcomes, shuffled, minNodes]) => {
        expect(mergeResults({ queryHash: HASH, outcomes: shuffled, minNodes })).toEqual(
          mergeResults({ queryHash: HASH, outcomes, minNodes }),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('pools mean and sd exactly as if all values were in one place', () => {
    const valuesArb = fc.array(
      fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 2, maxLength: 40 }),
      {
        minLength: 1,
        maxLength: 5,
      },
    );
    fc.assert(
      fc.property(valuesArb, (perNode) => {
        const outcomes = perNode.map((values, i) => {
          const { mean, sd } = stats(values);
          return ok(
            result(`node-${i}`, {
              measures: [{ type: 'summary', unit: 'mg/dL', n: { count: values.length }, mean, sd }],
            }),
          );
        });
        const s = mergeResults({ queryHash: HASH, outcomes, minNodes: 1 }).measures[0];
        expect(s?.type).toBe('summary');
        if (s?.type !== 'summary') return;
        const all = stats(perNode.flat());
        expect(s.n.count).toBe(perNode.flat().length);
        expect(s.mean).toBeCloseTo(all.mean, 8);
        expect(s.sd).toBeCloseTo(all.sd, 8);
        expect(s.pooledFrom).toHaveLength(perNode.length);
      }),
      { numRuns: 300 },
    );
  });
});

function stats(values: readonly number[]): { mean: number; sd: number } {
  const mean = sum(values) / values.length;
  const sd = Math.sqrt(sum(values.map((v) => (v - mean) ** 2)) / (values.length - 1));
  return { mean, sd };
}
