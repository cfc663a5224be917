import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  isValid,
  schemaIds,
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

function merged(outcomes: NodeOutcome[], minNodes?: number): MergedResult {
  const m = mergeResults({ queryHash: HASH, outcomes, ...(minNodes ? { minNodes } : {}) });
  expect(isValid(schemaIds.mergedResult, m)).toBe(true);
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

  it('widens perturbed parts by maxNoise and adds suppressed ranges at their lower end', () => {
    const m = merged([
      ok(result('a', { disclosure: CELL_KEY, total: { count: 120, perturbed: true } })),
      ok(result('b', { disclosure: CELL_KEY, total: { suppressed: true, range: [1, 9] } })),
    ]);
    expect(m.total).toEqual({ count: 121, range: [119, 131], perturbed: true });
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
      { key: { gender: 'male', ageBand: '40-64' }, cell: { count: 11, range: [11, 19] } },
    ]);
  });

  it('bounds a stratum a node did not report by that node total', () => {
    const m = merged([
      ok(
        result('a', {
          total: { count: 5 },
          strata: [{ key: { deceased: 'true' }, cell: { count: 5 } }],
        }),
      ),
      ok(result('b', { disclosure: CELL_KEY, total: { count: 12, perturbed: true }, strata: [] })),
    ]);
    expect(m.strata[0]?.cell).toEqual({ count: 5, range: [5, 19] });
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
        { from: 100, cell: { count: 13, range: [13, 21] } },
      ],
      missing: { count: 4, range: [4, 12] },
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
      n: { count: 20, range: [20, 40] },
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
    expect(s.n).toEqual({ count: 53, range: [53, 61] });
    // a: 10 values of mean 6, sd 1; b: 30 values of mean 8, sd 2.
    const mean = (10 * 6 + 30 * 8) / 40;
    const sd = Math.sqrt((9 * 1 + 29 * 4 + 10 * (6 - mean) ** 2 + 30 * (8 - mean) ** 2) / 39);
    expect(s.mean).toBeCloseTo(mean, 12);
    expect(s.sd).toBeCloseTo(sd, 12);
  });
});

// ---------------------------------------------------------------------------
// Property tests: simulate each node's disclosure control on known true
// counts, merge, and check that the true sum always lies inside the range.

interface Simulated {
  readonly cell: Cell;
  readonly truth: number;
}

const disclosureArb: fc.Arbitrary<Disclosure> = fc
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
    threshold,
    mechanism: maxNoise > 0 ? 'cell-key' : 'none',
    maxNoise,
    rounding,
  }));

/** How a node treats one cell: the random choices of its disclosure control. */
const choiceArb = fc.record({
  truth: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 100_000 })),
  noise: fc.double({ min: -1, max: 1, noNaN: true }),
  rounding: fc.constantFrom('nearest', 'floor', 'ceil'),
  secondary: fc.option(fc.tuple(fc.nat(50), fc.nat(50)), { freq: 5 }),
});

type Choice = typeof choiceArb extends fc.Arbitrary<infer T> ? T : never;

function disclose(d: Disclosure, c: Choice): Simulated {
  const { truth } = c;
  if (truth >= 1 && truth <= d.threshold - 1) {
    return { truth, cell: { suppressed: true, range: [1, d.threshold - 1] } };
  }
  if (c.secondary !== null) {
    const [below, above] = c.secondary;
    return {
      truth,
      cell: { suppressed: true, range: [Math.max(0, truth - below), truth + above] },
    };
  }
  const noisy = Math.max(0, truth + Math.trunc(c.noise * d.maxNoise));
  const round = { nearest: Math.round, floor: Math.floor, ceil: Math.ceil }[c.rounding];
  const count = d.rounding * round(noisy / d.rounding);
  return { truth, cell: d.maxNoise > 0 ? { count, perturbed: true } : { count } };
}

const STRATA = ['female', 'male', 'other', 'unknown'] as const;
const EDGES = [0, 100, 126, 200] as const;

const nodeArb = fc.record({
  disclosure: disclosureArb,
  status: fc.constantFrom<NodeOutcome['status']>('ok', 'ok', 'ok', 'ok', 'timeout', 'error'),
  total: choiceArb,
  strata: fc.array(choiceArb, { minLength: STRATA.length, maxLength: STRATA.length }),
  bins: fc.array(choiceArb, { minLength: EDGES.length, maxLength: EDGES.length }),
  missing: choiceArb,
});

type NodeSpec = typeof nodeArb extends fc.Arbitrary<infer T> ? T : never;

interface Simulation {
  readonly outcome: NodeOutcome;
  readonly truths: { total: number; strata: number[]; bins: number[]; missing: number };
}

function simulate(name: string, spec: NodeSpec): Simulation {
  const d = spec.disclosure;
  const total = disclose(d, spec.total);
  const strata = spec.strata.map((c) => disclose(d, c));
  const bins = spec.bins.map((c) => disclose(d, c));
  const missing = disclose(d, spec.missing);
  const r = result(name, {
    disclosure: d,
    total: total.cell,
    strata: strata.map((s, i) => ({ key: { gender: STRATA[i]! }, cell: s.cell })),
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
      total: total.truth,
      strata: strata.map((s) => s.truth),
      bins: bins.map((b) => b.truth),
      missing: missing.truth,
    },
  };
}

function expectContains(cell: MergedCell | undefined, truth: number): void {
  expect(cell).toBeDefined();
  const [lo, hi] = cell!.range;
  expect(lo).toBeLessThanOrEqual(truth);
  expect(truth).toBeLessThanOrEqual(hi);
  if (cell!.count !== undefined) {
    expect(cell!.count).toBeGreaterThanOrEqual(lo);
    expect(cell!.count).toBeLessThanOrEqual(hi);
  }
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('mergeResults: properties', () => {
  it('always puts the true sum over answering nodes inside the merged range', () => {
    fc.assert(
      fc.property(fc.array(nodeArb, { minLength: 1, maxLength: 6 }), (specs) => {
        const sims = specs.map((s, i) => simulate(`node-${i}`, s));
        const m = mergeResults({ queryHash: HASH, outcomes: sims.map((s) => s.outcome) });
        expect(isValid(schemaIds.mergedResult, m)).toBe(true);
        const okSims = sims.filter((s) => s.outcome.status === 'ok');
        if (okSims.length === 0) {
          expect(m.total).toEqual({ range: [0, 0], suppressed: true });
          return;
        }
        expectContains(m.total, sum(okSims.map((s) => s.truths.total)));
        STRATA.forEach((_, i) =>
          expectContains(m.strata[i]?.cell, sum(okSims.map((s) => s.truths.strata[i]!))),
        );
        const hist = m.measures[1];
        expect(hist?.type).toBe('histogram');
        if (hist?.type !== 'histogram') return;
        EDGES.forEach((_, i) =>
          expectContains(hist.bins[i]?.cell, sum(okSims.map((s) => s.truths.bins[i]!))),
        );
        expectContains(hist.missing, sum(okSims.map((s) => s.truths.missing)));
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
        const s = mergeResults({ queryHash: HASH, outcomes }).measures[0];
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
