// Property tests: the disclosure rules hold for any table fast-check can build.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Cell, type Dimension, type StratumKey, dimensionName } from '@tessera/schemas';
import type { RawCell, RawResult } from '../engine/raw-result.ts';
import { assertReleasable } from './output-check.ts';
import type { NodePolicy } from './policy.ts';
import { type ProtectContext, type ProtectedResult, protect } from './protect.ts';
import {
  NO_NOISE,
  asNodeResult,
  cellKeyPolicy,
  laplacePolicy,
  policyOf,
  releaseContext,
  strataKeys,
} from '../../test/support/disclosure.ts';

const DIMENSIONS: Dimension[] = [
  'gender',
  { codes: { of: 'condition', in: [{ system: 'http://snomed.info/sct', code: '73211009' }] } },
  'deceased',
  { ageBand: [0, 18, 65] },
  {
    codes: {
      of: 'condition',
      in: [
        { system: 'http://snomed.info/sct', code: '44054006' },
        { system: 'http://snomed.info/sct', code: '15777000' },
      ],
    },
  },
];

/** Splits `total` into `parts` non-negative counts. */
function partition(total: number, parts: number): fc.Arbitrary<number[]> {
  if (parts === 0) return fc.constant([]);
  return fc
    .array(fc.integer({ min: 0, max: total }), { minLength: parts - 1, maxLength: parts - 1 })
    .map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), total];
      return points.slice(1).map((p, i) => p - points[i]!);
    });
}

const cellKey = fc.integer({ min: 0, max: 0xffff_ffff });
const withKeys = (counts: number[]): fc.Arbitrary<RawCell[]> =>
  fc
    .array(cellKey, { minLength: counts.length, maxLength: counts.length })
    .map((keys) => counts.map((count, i) => ({ count, cellKey: keys[i]! })));

const rawResult: fc.Arbitrary<RawResult> = fc
  .record({
    stratify: fc.uniqueArray(fc.constantFrom(...DIMENSIONS), {
      maxLength: 3,
      selector: (d) => dimensionName(d),
    }),
    total: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 400 })),
    bins: fc.integer({ min: 1, max: 5 }),
  })
  .chain(({ stratify, total, bins }) => {
    const keys = strataKeys(stratify);
    return fc.record({
      keys: fc.constant(keys),
      overlapping: fc.constant(stratify.some((d) => typeof d === 'object' && 'codes' in d)),
      total: withKeys([total]),
      strata: partition(total, keys.length).chain(withKeys),
      histogram: partition(total, bins + 1).chain(withKeys),
      n: fc.integer({ min: 0, max: total }).chain((n) => withKeys([n])),
      value: fc.double({ min: 0, max: 20, noNaN: true }),
    });
  })
  .map(({ keys, overlapping, total, strata, histogram, n, value }) => ({
    total: total[0]!,
    strata: keys.map((key, i) => ({ key, cell: strata[i]! })),
    overlapping,
    measures: [
      { type: 'count' as const },
      {
        type: 'histogram' as const,
        unit: 'mg/dL',
        bins: histogram.slice(0, -1).map((cell, i) => ({ from: i * 10, to: i * 10 + 10, cell })),
        missing: histogram.at(-1)!,
      },
      {
        type: 'summary' as const,
        unit: 'mg/dL',
        n: n[0]!,
        mean: n[0]!.count > 0 ? value : null,
        sd: n[0]!.count > 1 ? 0 : null,
        sumAbs: n[0]!.count * value,
        maxAbs: n[0]!.count > 0 ? value : 0,
        clampedSum: n[0]!.count * value,
        clampedSumSquares: n[0]!.count * value * value,
      },
    ],
  }));

/** Bounds for the summary (measure 2), as summaryBoundsFor would give them. */
const SUMMARY_BOUNDS = [undefined, undefined, { min: 0, max: 20 }];

const policyArb = (mechanism: 'cell-key' | 'laplace'): fc.Arbitrary<NodePolicy> =>
  fc
    .record({
      threshold: fc.integer({ min: 2, max: 15 }),
      rounding: fc.constantFrom(1, 1, 2, 5, 10),
      cellKey: fc.record({
        maxNoise: fc.integer({ min: 1, max: 5 }),
        table: fc.constantFrom('triangular' as const, 'uniform' as const),
      }),
      laplace: fc.record({ epsilon: fc.constantFrom(0.1, 0.5, 1, 3) }),
      summary: fc.record({ minN: fc.integer({ min: 15, max: 40 }) }),
    })
    .map((p) => (mechanism === 'cell-key' ? cellKeyPolicy(p) : laplacePolicy(p)));

/** The context a policy's release gets: keyed noise for laplace, none for the others. */
function contextOf(policy: NodePolicy, release: string): ProtectContext {
  return policy.mechanism === 'laplace'
    ? releaseContext(policy, { queryHash: release, summaryBounds: SUMMARY_BOUNDS })
    : NO_NOISE;
}

/** Every (true, released) pair of counts in an answer. */
function pairs(raw: RawResult, out: ProtectedResult): [RawCell, Cell][] {
  const list: [RawCell, Cell][] = [[raw.total, out.total]];
  raw.strata.forEach((s, i) => list.push([s.cell, out.strata[i]!.cell]));
  raw.measures.forEach((m, i) => {
    const o = out.measures[i]!;
    if (m.type === 'histogram' && o.type === 'histogram') {
      m.bins.forEach((b, j) => list.push([b.cell, o.bins[j]!.cell]));
      list.push([m.missing, o.missing]);
    } else if (m.type === 'summary' && o.type === 'summary') {
      list.push([m.n, o.n]);
    }
  });
  return list;
}

const releaseArb = fc.string({ maxLength: 12 });

describe('disclosure properties', () => {
  it('no released count lies below the threshold, zero included (cell-key and laplace)', () => {
    fc.assert(
      fc.property(
        rawResult,
        fc.oneof(policyArb('cell-key'), policyArb('laplace')),
        releaseArb,
        (raw, policy, release) => {
          const out = protect(raw, policy, contextOf(policy, release));
          for (const [, cell] of pairs(raw, out)) {
            if ('count' in cell) {
              expect(cell.count).toBeGreaterThanOrEqual(policy.threshold);
              expect(cell.perturbed).toBe(true);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("every cell's range contains the true count (cell-key: suppressed cells; laplace: every cell)", () => {
    fc.assert(
      fc.property(rawResult, policyArb('cell-key'), (raw, policy) => {
        for (const [truth, cell] of pairs(raw, protect(raw, policy, NO_NOISE))) {
          if ('suppressed' in cell) {
            expect(truth.count).toBeGreaterThanOrEqual(cell.range[0]);
            expect(truth.count).toBeLessThanOrEqual(cell.range[1]);
          }
        }
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(rawResult, policyArb('laplace'), releaseArb, (raw, policy, release) => {
        for (const [truth, cell] of pairs(raw, protect(raw, policy, contextOf(policy, release)))) {
          expect(cell.range).toBeDefined();
          expect(cell.interval).toBeDefined();
          expect(truth.count).toBeGreaterThanOrEqual(cell.range![0]);
          expect(truth.count).toBeLessThanOrEqual(cell.range![1]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('|released - true| <= maxNoise + rounding - 1 (cell-key and laplace)', () => {
    fc.assert(
      fc.property(
        rawResult,
        fc.oneof(policyArb('cell-key'), policyArb('laplace')),
        releaseArb,
        (raw, policy, release) => {
          const out = protect(raw, policy, contextOf(policy, release));
          const bound = out.disclosure.maxNoise + out.disclosure.rounding - 1;
          if (policy.mechanism === 'cell-key') {
            expect(out.disclosure.maxNoise).toBe(policy.cellKey.maxNoise);
          }
          for (const [truth, cell] of pairs(raw, out)) {
            if ('count' in cell) {
              expect(Math.abs(cell.count - truth.count)).toBeLessThanOrEqual(bound);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('mean and sd only under laplace, with bounds and a released n of at least minN; within the bounds', () => {
    fc.assert(
      fc.property(
        rawResult,
        fc.oneof(policyArb('cell-key'), policyArb('laplace')),
        releaseArb,
        (raw, policy, release) => {
          const summary = protect(raw, policy, contextOf(policy, release)).measures[2]!;
          if (summary.type !== 'summary') throw new Error('expected a summary');
          const n = 'count' in summary.n ? summary.n.count : undefined;
          const expected =
            policy.mechanism === 'laplace' && n !== undefined && n >= policy.summary.minN;
          expect(summary.mean !== undefined).toBe(expected);
          expect(summary.sd !== undefined).toBe(expected);
          expect(summary.suppressed).toBe(expected ? undefined : true);
          if (summary.mean !== undefined) {
            expect(summary.mean).toBeGreaterThanOrEqual(0);
            expect(summary.mean).toBeLessThanOrEqual(20);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('secondary suppression never leaves exactly one suppressed cell in a group whose total is released', () => {
    fc.assert(
      fc.property(rawResult, policyArb('cell-key'), (raw, policy) => {
        const out = protect(raw, policy, NO_NOISE);
        const totalReleased = 'count' in out.total;
        const hidden = (c: Cell) => 'suppressed' in c;
        // The oracle: every margin of the stratification, built independently.
        const dims = [
          ...new Set(raw.strata.flatMap((s) => Object.keys(s.key))),
        ] as (keyof StratumKey)[];
        for (let mask = 0; mask < 2 ** dims.length - 1 && raw.strata.length > 0; mask++) {
          const fixed = dims.filter((_, i) => (mask >> i) & 1);
          const groups = new Map<string, number[]>();
          raw.strata.forEach((s, i) => {
            const id = fixed.map((d) => s.key[d]).join('|');
            groups.set(id, [...(groups.get(id) ?? []), i]);
          });
          for (const members of groups.values()) {
            if (mask !== 0 && members.length === 1) continue; // a one-stratum margin is the stratum
            const sum = members.reduce((a, i) => a + raw.strata[i]!.cell.count, 0);
            const released = mask === 0 ? totalReleased : sum >= policy.threshold;
            if (!released) continue;
            expect(members.filter((i) => hidden(out.strata[i]!.cell)).length).not.toBe(1);
          }
        }
        const histogram = out.measures[1]!;
        if (histogram.type === 'histogram' && totalReleased) {
          const cells = [...histogram.bins.map((b) => b.cell), histogram.missing];
          expect(cells.filter(hidden).length).not.toBe(1);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('every answer passes the output check, and is reproducible from its release', () => {
    fc.assert(
      fc.property(
        rawResult,
        fc.oneof(
          policyArb('cell-key'),
          policyArb('laplace'),
          fc.constant(policyOf({ mechanism: 'none' })),
        ),
        releaseArb,
        (raw, policy, release) => {
          const out = protect(raw, policy, contextOf(policy, release));
          expect(() => assertReleasable(asNodeResult(out))).not.toThrow();
          expect(protect(raw, policy, contextOf(policy, release))).toEqual(out);
        },
      ),
      { numRuns: 200 },
    );
  });
});
