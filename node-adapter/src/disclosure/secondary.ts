// Secondary suppression: when a group of cells adds up to a figure that is
// released (here or by another query), a single suppressed cell in it is the
// difference of that figure and the released cells. So whenever a group whose
// sum is released holds exactly one suppressed cell, a partner cell of the
// group is suppressed too (normally the smallest non-zero one), and the rule is
// applied again until nothing changes (one new suppression can isolate a cell
// in another group). A margin counts as released when its true sum reaches the
// threshold; the whole table's sum is the answer's own total.
//
// Groups of a stratification: for every proper subset F of the dimensions and
// every combination of F's values, the strata that agree on F. F = {} is the
// whole table, which sums to the result's total; the others are the margins
// another query (stratified by F) would release. A `codes` dimension is
// treated like any other: its strata overlap, so they need not add up, but the
// node cannot tell from a count whether they overlap in this cohort (a cohort
// of patients with exactly one of the codes makes them additive), and treating
// them as additive only ever suppresses more.
import type { StratumKey } from '@tessera/schemas';

export interface SuppressionGroup {
  /** Cells that add up to the group's sum. */
  readonly members: readonly number[];
  /** The cell holding the group's sum when it is part of the same answer (the total). */
  readonly sum?: number;
}

/**
 * The groups of a stratification, as indices into `keys` shifted by `offset`;
 * the whole table's group sums to the cell at `totalIndex`.
 * @example strataGroups([{ gender: 'female' }, { gender: 'male' }], 1, 0) // [{ members: [1, 2], sum: 0 }]
 */
export function strataGroups(
  keys: readonly StratumKey[],
  offset: number,
  totalIndex: number,
): SuppressionGroup[] {
  if (keys.length === 0) return [];
  const dims = [...new Set(keys.flatMap((k) => Object.keys(k)))].sort() as (keyof StratumKey)[];
  const groups: SuppressionGroup[] = [];
  // Every proper subset of the dimensions, as a bit mask.
  for (let mask = 0; mask < (1 << dims.length) - 1; mask++) {
    const fixed = dims.filter((_, i) => (mask & (1 << i)) !== 0);
    const byValues = new Map<string, number[]>();
    keys.forEach((key, i) => {
      const id = JSON.stringify(fixed.map((d) => key[d] ?? null));
      const members = byValues.get(id) ?? [];
      members.push(offset + i);
      byValues.set(id, members);
    });
    for (const members of byValues.values()) {
      if (mask === 0) groups.push({ members, sum: totalIndex });
      // A margin of one stratum is that stratum itself: nothing to subtract.
      else if (members.length > 1) groups.push({ members });
    }
  }
  return groups;
}

/**
 * Applies the secondary suppression rule until stable and returns the cells it
 * suppressed. `counts` are the true counts (undefined when unknown: such a cell
 * is suppressed and its group is treated as released); `suppressed` marks the
 * cells already suppressed.
 *
 * The partner for a group's lone suppressed cell is, in this order:
 * 1. the smallest non-zero released member that does not itself end up alone
 *    among zeros in another released group (there it would be the difference
 *    of that group's sum and the zeros, and the chain would lead back);
 * 2. else a released zero member: zeros are released exactly, so a suppressed
 *    zero shares its range with the other partners and hides which is which;
 * 3. else the smallest non-zero member anyway (its other groups then take
 *    a zero in turn);
 * 4. else the group's sum cell, when it is part of the answer.
 * @example secondarySuppression([30, 5, 25], [false, true, false], [{ members: [1, 2], sum: 0 }], 10) // Set {2}
 */
export function secondarySuppression(
  counts: readonly (number | undefined)[],
  suppressed: readonly boolean[],
  groups: readonly SuppressionGroup[],
  threshold: number,
): Set<number> {
  const hidden = [...suppressed];
  const added = new Set<number>();
  const groupsOf = new Map<number, number[]>();
  groups.forEach((group, g) => {
    for (const i of group.members) {
      const list = groupsOf.get(i) ?? [];
      list.push(g);
      groupsOf.set(i, list);
    }
  });
  // True sums, fixed: Infinity when a member's count is unknown.
  const sums = groups.map((group) =>
    group.members.reduce((sum, i) => sum + (counts[i] ?? Infinity), 0),
  );
  const hiddenIn = groups.map((group) => group.members.filter((i) => hidden[i]).length);

  const sumReleased = (g: number): boolean => {
    const group = groups[g]!;
    // A sum below the threshold is suppressed wherever it appears.
    return group.sum !== undefined ? !hidden[group.sum] : sums[g]! >= threshold;
  };

  const releasedNonZero = (i: number): boolean => !hidden[i] && (counts[i] ?? 0) > 0;

  /** Whether hiding `i` leaves it alone, with no non-zero partner, in a released group other than `from`. */
  const strands = (i: number, from: number): boolean =>
    (groupsOf.get(i) ?? []).some(
      (g) =>
        g !== from &&
        groups[g]!.sum === undefined &&
        sumReleased(g) &&
        groups[g]!.members.every((j) => j === i || (!hidden[j] && !releasedNonZero(j))),
    );

  const partner = (g: number): number | undefined => {
    const group = groups[g]!;
    const candidates = group.members
      .filter(releasedNonZero)
      .sort((a, b) => counts[a]! - counts[b]! || a - b);
    const safe = candidates.find((i) => !strands(i, g));
    if (safe !== undefined) return safe;
    const zero = group.members.find((i) => !hidden[i] && counts[i] === 0);
    if (zero !== undefined) return zero;
    if (candidates[0] !== undefined) return candidates[0];
    if (group.sum !== undefined && !hidden[group.sum]) return group.sum;
    return undefined;
  };

  // A work list of groups to look at: all of them, then those a new suppression touched.
  const queue = groups.map((_, g) => g);
  for (let head = 0; head < queue.length; head++) {
    const next = queue[head]!;
    if (hiddenIn[next] !== 1 || !sumReleased(next)) continue;
    const cell = partner(next);
    if (cell === undefined) continue;
    hidden[cell] = true;
    added.add(cell);
    for (const g of groupsOf.get(cell) ?? []) {
      hiddenIn[g]! += 1;
      queue.push(g);
    }
  }
  return added;
}
