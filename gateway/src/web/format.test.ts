import { describe, expect, it } from 'vitest';
import type { MergedCell, MergedResult } from '@tessera/schemas';
import { budgetRows, cellTitle, formatCell, formatLevel, formatRange } from './format.js';

describe("the page's figures", () => {
  it('show a merged count with its interval and level, its guaranteed range on hover', () => {
    const cell: MergedCell = {
      count: 1204,
      range: [1165, 1243],
      interval: [1190, 1218],
      perturbed: true,
    };
    expect(formatCell(cell, 0.95)).toBe('1,204 (1,190–1,218, 95 %)');
    expect(cellTitle(cell, 0.95)).toBe(
      'perturbed; guaranteed range 1,165–1,243; 95 % interval 1,190–1,218',
    );
  });

  it('show a cell without a count as its range only', () => {
    expect(formatCell({ range: [0, 48], interval: [0, 15], suppressed: true }, 0.9)).toBe('≤ 48');
    expect(formatCell({ range: [11, 19], suppressed: true })).toBe('11–19');
    // The merge of `0` and a suppressed [1, 9]: no count, whatever the cell says.
    expect(formatCell({ count: 1, range: [1, 9], suppressed: true })).toBe('1–9');
    expect(cellTitle({ range: [0, 48], interval: [0, 15], suppressed: true }, 0.9)).toBe(
      'no count: a part was suppressed or not reported; guaranteed range 0–48; 90 % interval 0–15',
    );
  });

  it('show older cells as before', () => {
    expect(formatCell({ count: 121, range: [119, 131], perturbed: true })).toBe('~121 [119–131]');
    expect(formatCell({ count: 150, range: [150, 150] })).toBe('150');
    expect(formatCell(undefined)).toBe('–');
  });

  it('never round a level up', () => {
    expect(formatLevel(0.9025)).toBe('90.2 %');
    expect(formatLevel(0.95)).toBe('95 %');
    expect(formatRange([0, 0])).toBe('≤ 0');
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
        project: '13.5 of 20',
        researcher: '0 of 10',
        period: '30 days',
      },
    ]);
    expect(budgetRows({} as MergedResult)).toEqual([]);
  });
});
