import { describe, expect, it } from 'vitest';
import type { MergedResult, NodeResult } from '../../src/index.ts';
import { toCsv } from '../../src/render/csv.ts';
import {
  EXT_CONFIDENCE,
  EXT_INTERVAL,
  EXT_RANGE,
  toMeasureReport,
} from '../../src/render/measure-report.ts';

const HASH = `sha256:${'a'.repeat(64)}`;

const node: NodeResult = {
  node: 'lombardia',
  queryHash: HASH,
  dataVersion: 'v1',
  evaluatedAt: '2026-11-20T10:00:00Z',
  elapsedMs: 12,
  disclosure: {
    threshold: 10,
    mechanism: 'laplace',
    maxNoise: 39,
    rounding: 1,
    epsilon: 0.5,
    delta: 1e-9,
    confidence: 0.95,
  },
  total: { count: 118, perturbed: true, range: [79, 157], interval: [112, 124] },
  strata: [
    { key: { gender: 'female' }, cell: { suppressed: true, range: [0, 48], interval: [0, 15] } },
  ],
  measures: [{ type: 'count' }],
};

const merged: MergedResult = {
  queryHash: HASH,
  complete: true,
  nodes: [{ node: 'lombardia', status: 'ok', result: node }],
  confidence: 0.95,
  total: { count: 118, range: [79, 157], interval: [112, 124], perturbed: true },
  strata: [
    { key: { gender: 'female' }, cell: { range: [0, 48], interval: [0, 15], suppressed: true } },
  ],
  measures: [{ type: 'count' }],
};

describe('toCsv', () => {
  it('gives a count only where the cell has one, with range, interval and level', () => {
    expect(toCsv(merged).split('\n')).toEqual([
      'source,gender,count,low,high,perturbed,suppressed,interval_low,interval_high,confidence',
      'merged,total,118,79,157,true,false,112,124,0.95',
      'merged,female,,0,48,false,true,0,15,0.95',
      'lombardia,total,118,79,157,true,false,112,124,0.95',
      'lombardia,female,,0,48,false,true,0,15,0.95',
      '',
    ]);
  });

  it('never writes a count for a merged cell without one', () => {
    const legacy: MergedResult = {
      ...merged,
      nodes: [],
      total: { range: [1, 9], suppressed: true },
      strata: [],
    };
    delete legacy.confidence;
    expect(toCsv(legacy).split('\n')[1]).toBe('merged,,1,9,false,true,,,');
  });
});

describe('toMeasureReport', () => {
  it('gives no count for a cell without one, and intervals at the stated level', () => {
    const report = toMeasureReport(merged, { date: '2026-11-20T10:00:00Z' }) as {
      extension: unknown[];
      group: {
        population: Record<string, unknown>[];
        stratifier: { stratum: { population: Record<string, unknown>[] }[] }[];
      }[];
    };
    expect(report.extension).toEqual([{ url: EXT_CONFIDENCE, valueDecimal: 0.95 }]);
    const total = report.group[0]!.population[0]!;
    expect(total.count).toBe(118);
    expect(total.extension).toContainEqual({
      url: EXT_INTERVAL,
      valueRange: { low: { value: 112 }, high: { value: 124 } },
    });
    const female = report.group[0]!.stratifier[0]!.stratum[0]!.population[0]!;
    expect(female).not.toHaveProperty('count');
    expect(female.extension).toContainEqual({
      url: EXT_RANGE,
      valueRange: { low: { value: 0 }, high: { value: 48 } },
    });
  });

  it('leaves intervals out when no level is stated', () => {
    const noLevel = { ...merged };
    delete noLevel.confidence;
    const report = toMeasureReport(noLevel, { date: '2026-11-20T10:00:00Z' });
    expect(report).not.toHaveProperty('extension');
    expect(JSON.stringify(report)).not.toContain(EXT_INTERVAL);
  });
});
