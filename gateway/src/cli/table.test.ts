import { describe, expect, it } from 'vitest';
import type { Disclosure, MergedResult, NodeResult } from '@tessera/schemas';
import { formatCell, formatLevel, renderTable } from './table.ts';

const HASH = `sha256:${'a'.repeat(64)}`;
const LAPLACE: Disclosure = {
  threshold: 10,
  mechanism: 'laplace',
  maxNoise: 39,
  rounding: 1,
  epsilon: 0.5,
  delta: 1e-9,
  confidence: 0.95,
};

function node(name: string, fields: Partial<NodeResult>): NodeResult {
  return {
    node: name,
    queryHash: HASH,
    dataVersion: 'v1',
    evaluatedAt: '2026-11-20T10:00:00Z',
    elapsedMs: 12,
    disclosure: LAPLACE,
    total: { count: 0 },
    strata: [],
    measures: [{ type: 'count' }],
    ...fields,
  };
}

describe('formatCell', () => {
  it('shows a count with its interval and level', () => {
    expect(
      formatCell(
        { count: 1204, range: [1165, 1243], interval: [1190, 1218], perturbed: true },
        0.95,
      ),
    ).toBe('1,204 (1,190-1,218, 95 %)');
  });

  it('shows a cell without a count as its range alone, never a figure', () => {
    expect(formatCell({ range: [0, 48], interval: [0, 15], suppressed: true }, 0.9)).toBe('<= 48');
    expect(formatCell({ range: [11, 19], suppressed: true })).toBe('11-19');
    expect(formatCell({ suppressed: true, range: [1, 9] })).toBe('1-9');
  });

  it('shows a count without an interval with its range when that is wider', () => {
    expect(formatCell({ count: 121, range: [119, 131], perturbed: true })).toBe('~121 [119-131]');
    expect(formatCell({ count: 150, range: [150, 150] })).toBe('150');
    expect(formatCell({ count: 42, perturbed: true })).toBe('~42');
    expect(formatCell(undefined)).toBe('-');
  });

  it('ignores an interval when no level is known', () => {
    expect(formatCell({ count: 50, range: [40, 60], interval: [45, 55] })).toBe('50 [40-60]');
  });

  it('never rounds a level up', () => {
    expect(formatLevel(0.9025)).toBe('90.2 %');
    expect(formatLevel(0.85)).toBe('85 %');
  });
});

describe('renderTable', () => {
  const result: MergedResult = {
    queryHash: HASH,
    complete: false,
    missing: ['c'],
    nodes: [
      {
        node: 'a',
        status: 'ok',
        result: node('a', {
          total: { count: 118, perturbed: true, range: [79, 157], interval: [112, 124] },
          strata: [
            {
              key: { gender: 'male' },
              cell: { suppressed: true, range: [0, 48], interval: [0, 15] },
            },
            {
              key: { gender: 'female' },
              cell: { count: 100, perturbed: true, range: [61, 139], interval: [94, 106] },
            },
          ],
        }),
      },
      { node: 'c', status: 'refused', code: 'ERR_BUDGET_EXHAUSTED' },
    ],
    budget: [
      {
        node: 'a',
        cost: 1.5,
        periodDays: 30,
        project: { spent: 6.5, limit: 20 },
        researcher: { spent: 2, limit: 10 },
      },
    ],
    confidence: 0.95,
    total: { count: 118, range: [79, 157], interval: [112, 124], perturbed: true },
    strata: [
      {
        key: { gender: 'female' },
        cell: { count: 100, range: [61, 139], interval: [94, 106], perturbed: true },
      },
      { key: { gender: 'male' }, cell: { range: [0, 48], interval: [0, 15], suppressed: true } },
    ],
    measures: [{ type: 'count' }],
  };

  it('shows merged and node cells, matching node strata by key', () => {
    const lines = renderTable(result).split('\n');
    expect(lines[0]).toMatch(/^gender\s+merged\s+guaranteed\s+a$/);
    expect(lines[2]).toMatch(/^total\s+118 \(112-124, 95 %\)\s+79-157\s+118 \(112-124, 95 %\)$/);
    expect(lines[3]).toMatch(/^female\s+100 \(94-106, 95 %\)\s+61-139\s+100 \(94-106, 95 %\)$/);
    expect(lines[4]).toMatch(/^male\s+<= 48\s+0-48\s+<= 48$/);
    expect(lines[5]).toBe('incomplete: c refused (ERR_BUDGET_EXHAUSTED)');
  });

  it('shows each warning with its code and where in the query it is', () => {
    const warned: MergedResult = {
      ...result,
      warnings: [
        {
          code: 'WARN_CODE_NOT_HELD',
          pointer: '/cohort/condition/code/0/code',
          detail: 'no node lists condition code E1l',
        },
      ],
    };
    expect(renderTable(warned).split('\n')).toContain(
      'warning WARN_CODE_NOT_HELD at /cohort/condition/code/0/code: no node lists condition code E1l',
    );
    expect(renderTable(result)).not.toMatch(/warning/);
  });

  it("shows each node's cost and what is left of the project's and researcher's budgets", () => {
    const text = renderTable(result);
    expect(text).toMatch(/budget\s+cost \(epsilon\)\s+project\s+researcher\s+period/);
    expect(text).toMatch(/\na\s+1\.5\s+13\.5 of 20 left\s+8 of 10 left\s+30 days/);
  });
});

describe('renderTable with histograms and summaries', () => {
  const nodeA = node('a', {
    total: { count: 300 },
    measures: [
      {
        type: 'histogram',
        unit: '%',
        bins: [
          { from: 0, to: 6.5, cell: { count: 180 } },
          { from: 6.5, cell: { suppressed: true, range: [0, 9] } },
        ],
        missing: { count: 20 },
      },
      { type: 'summary', unit: 'a', n: { count: 300 }, mean: 57.4321, sd: 12.05 },
    ],
  });
  const result: MergedResult = {
    queryHash: HASH,
    complete: true,
    nodes: [{ node: 'a', status: 'ok', result: nodeA }],
    total: { count: 300, range: [300, 300] },
    strata: [],
    measures: [
      {
        type: 'histogram',
        unit: '%',
        bins: [
          { from: 0, to: 6.5, cell: { count: 180, range: [180, 180] } },
          { from: 6.5, cell: { range: [0, 9], suppressed: true } },
        ],
        missing: { count: 20, range: [20, 20] },
      },
      { type: 'summary', unit: 'a', n: { count: 300, range: [300, 300] } },
    ],
  };

  it('shows each histogram bin by bin and each summary, merged and per node', () => {
    const lines = renderTable(result).split('\n');
    const at = lines.findIndex((l) => l.startsWith('histogram (%)'));
    expect(lines[at]).toMatch(/^histogram \(%\)\s+merged\s+a$/);
    expect(lines[at + 2]).toMatch(/^0-<6\.5 %\s+180\s+180$/);
    expect(lines[at + 3]).toMatch(/^>= 6\.5 %\s+<= 9\s+<= 9$/);
    expect(lines[at + 4]).toMatch(/^no value\s+20\s+20$/);
    const summary = lines.findIndex((l) => l.startsWith('summary (a)'));
    expect(lines[summary + 2]).toMatch(/^n\s+300\s+300$/);
    // A merged summary without a pooled mean says so; a node's mean to sensible precision.
    expect(lines[summary + 3]).toMatch(/^mean\s+withheld\s+57\.4$/);
    expect(lines[summary + 4]).toMatch(/^sd\s+withheld\s+12\.1$/);
  });
});
