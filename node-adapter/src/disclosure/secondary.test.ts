// Secondary suppression, used by the cell-key mechanism only: laplace noises
// every cell and needs none.
import { describe, expect, it } from 'vitest';
import { secondarySuppression, strataGroups } from './secondary.ts';

describe('cell-key strataGroups', () => {
  it('one dimension: the whole table, summing to the total', () => {
    expect(strataGroups([{ gender: 'female' }, { gender: 'male' }], 1, 0)).toEqual([
      { members: [1, 2], sum: 0 },
    ]);
  });

  it('two dimensions: the whole table and every row and column', () => {
    const keys = [
      { gender: 'female' as const, deceased: 'true' as const },
      { gender: 'female' as const, deceased: 'false' as const },
      { gender: 'male' as const, deceased: 'true' as const },
      { gender: 'male' as const, deceased: 'false' as const },
    ];
    const groups = strataGroups(keys, 1, 0).map((g) => g.members);
    expect(groups).toHaveLength(1 + 2 + 2);
    expect(groups).toContainEqual([1, 2, 3, 4]);
    expect(groups).toContainEqual([1, 2]);
    expect(groups).toContainEqual([3, 4]);
    expect(groups).toContainEqual([1, 3]);
    expect(groups).toContainEqual([2, 4]);
  });

  it('no strata, no groups', () => {
    expect(strataGroups([], 1, 0)).toEqual([]);
  });
});

describe('cell-key secondarySuppression', () => {
  const t = 10;

  it('suppresses the smallest non-zero released partner of a lone suppressed cell', () => {
    // total 85 = 5 + 40 + 0 + 30 + 10
    const counts = [85, 5, 40, 0, 30, 10];
    const hidden = [false, true, false, false, false, false];
    expect(secondarySuppression(counts, hidden, [{ members: [1, 2, 3, 4, 5], sum: 0 }], t)).toEqual(
      new Set([5]),
    );
  });

  it('leaves groups with two or more suppressed cells alone', () => {
    const counts = [60, 5, 5, 50];
    expect(
      secondarySuppression(counts, [false, true, true, false], [{ members: [1, 2, 3], sum: 0 }], t),
    ).toEqual(new Set());
  });

  it('leaves groups whose sum is itself suppressed alone', () => {
    const counts = [6, 6, 0];
    expect(
      secondarySuppression(counts, [true, true, false], [{ members: [1, 2], sum: 0 }], t),
    ).toEqual(new Set());
    // A margin below the threshold is suppressed wherever it would be released.
    expect(secondarySuppression([6, 0], [true, false], [{ members: [0, 1] }], t)).toEqual(
      new Set(),
    );
  });

  it('iterates until no group holds exactly one suppressed cell', () => {
    // 2 x 2: a=3 b=20 / c=30 d=12; rows {a,b} {c,d}, columns {a,c} {b,d}, whole sums to the total.
    const counts = [65, 3, 20, 30, 12];
    const groups = [
      { members: [1, 2, 3, 4], sum: 0 },
      { members: [1, 2] },
      { members: [3, 4] },
      { members: [1, 3] },
      { members: [2, 4] },
    ];
    const added = secondarySuppression(counts, [false, true, false, false, false], groups, t);
    const hidden = new Set([1, ...added]);
    for (const g of groups) {
      expect(g.members.filter((i) => hidden.has(i)).length).not.toBe(1);
    }
    expect(added).toEqual(new Set([2, 3, 4]));
  });

  it('treats an unknown count as suppressed and its group as released', () => {
    expect(
      secondarySuppression([undefined, 20, 30], [true, false, false], [{ members: [0, 1, 2] }], t),
    ).toEqual(new Set([1]));
  });

  it('takes a zero when only zeros are left to pair with, and the sum when nothing is', () => {
    expect(
      secondarySuppression(
        [40, undefined, 0],
        [false, true, false],
        [{ members: [1, 2], sum: 0 }],
        t,
      ),
    ).toEqual(new Set([2]));
    expect(
      secondarySuppression([40, undefined], [false, true], [{ members: [1], sum: 0 }], t),
    ).toEqual(new Set([0]));
  });

  it('prefers a partner that is not left alone among zeros in another group', () => {
    // 2 x 2 with an empty first row: a=0 b=0 / c=5 d=30; c is the primary.
    // Partner d would be alone in column {b, d} (b = 0), so a zero goes instead.
    const counts = [35, 0, 0, 5, 30];
    const groups = [
      { members: [1, 2, 3, 4], sum: 0 },
      { members: [1, 2] },
      { members: [3, 4] },
      { members: [1, 3] },
      { members: [2, 4] },
    ];
    const added = secondarySuppression(counts, [false, false, false, true, false], groups, t);
    const hidden = new Set([3, ...added]);
    for (const g of groups) {
      const sum = g.members.reduce((a, i) => a + counts[i]!, 0);
      if (sum >= t) expect(g.members.filter((i) => hidden.has(i)).length).not.toBe(1);
    }
  });
});
