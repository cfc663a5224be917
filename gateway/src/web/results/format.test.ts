import { describe, expect, it } from 'vitest';
import type { MergedCell, MergedResult } from '@tessera/schemas';
import {
  binLabel,
  budgetRows,
  formatCell,
  formatLevel,
  formatRange,
  formatStat,
} from './format.ts';

describe("the page's figures", () => {
  it('show a count with its interval, grouped the way the language groups', () => {
    const cell: MergedCell = {
      count: 1204,
      range: [1165, 1243],
      interval: [1190, 1218],
      perturbed: true,
    };
    expect(formatCell(cell)).toBe('1,204 (1,190–1,218)');
    expect(formatCell(cell, 'de')).toBe('1.204 (1.190–1.218)');
    expect(
      formatCell({ count: 250, range: [200, 300], interval: [245, 258], perturbed: true }),
    ).toBe('250 (245–258)');
  });

  it('show a cell without a count as its range only, never a figure', () => {
    expect(formatCell({ range: [0, 9], suppressed: true })).toBe('< 10');
    expect(formatCell({ range: [0, 48], interval: [0, 15], suppressed: true })).toBe('< 49');
    expect(formatCell({ range: [11, 19], suppressed: true })).toBe('11–19');
    // The merge of `0` and a suppressed [1, 9]: no count, whatever the cell says.
    expect(formatCell({ count: 1, range: [1, 9], suppressed: true })).toBe('1–9');
  });

  it('show noisy counts with only a range, exact counts and missing cells', () => {
    expect(formatCell({ count: 121, range: [119, 131], perturbed: true })).toBe('~121 [119–131]');
    expect(formatCell({ count: 150, range: [150, 150] })).toBe('150');
    expect(formatCell(undefined)).toBe('–');
  });

  it('never round a level up; means to three significant digits; bins as half-open ranges', () => {
    expect(formatLevel(0.9025)).toBe('90.2 %');
    expect(formatLevel(0.95)).toBe('95 %');
    expect(formatRange([0, 0])).toBe('< 1');
    expect(formatStat(7.23891)).toBe('7.24');
    expect(formatStat(143.4)).toBe('143');
    expect(binLabel({ from: 6.5, to: 8 })).toBe('[6.5, 8)');
    expect(binLabel({ from: 10 })).toBe('[10, ∞)');
  });

  it("list each node's cost and what is left", () => {
    const result = {
      budget: [
        {
          node: 'lombardia',
          cost: 1.5,
          periodDays: 30,
          project: { spent: 6.5, limit: 20 },
          researcher: { spent: 10.25, limit: 10 },
        },
      ],
    } as MergedResult;
    expect(budgetRows(result)).toEqual([
      {
        node: 'lombardia',
        cost: '1.5',
        project: ['13.5', '20'],
        researcher: ['0', '10'],
        periodDays: 30,
      },
    ]);
    expect(budgetRows({} as MergedResult)).toEqual([]);
  });
});
