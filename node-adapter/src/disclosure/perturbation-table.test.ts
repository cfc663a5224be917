// The cell-key mechanism's perturbation table (mechanism `cell-key` only).
import { describe, expect, it } from 'vitest';
import {
  TABLE_SIZE,
  buildPerturbationTable,
  cellKeyNoise,
  columnOf,
  mixCellKey,
  perturbationTable,
} from './perturbation-table.ts';

describe('cell-key perturbation table', () => {
  for (const shape of ['triangular', 'uniform'] as const) {
    for (let maxNoise = 1; maxNoise <= 5; maxNoise++) {
      it(`${shape}, maxNoise ${maxNoise}: every row is zero-mean, bounded and keeps counts >= threshold`, () => {
        const table = buildPerturbationTable(maxNoise, shape);
        expect(table.rows).toHaveLength(maxNoise + 1);
        table.rows.forEach((row, j) => {
          expect(row).toHaveLength(TABLE_SIZE);
          expect(row.reduce((a, b) => a + b, 0)).toBe(0);
          const bad = row.filter(
            (v) => !Number.isInteger(v) || Math.abs(v) > Math.min(j, maxNoise),
          );
          expect(bad).toEqual([]);
        });
        // The large row uses every noise value.
        expect(new Set(table.rows[maxNoise]).size).toBe(2 * maxNoise + 1);
        const below: [number, number, number][] = [];
        for (const threshold of [2, 5, 10]) {
          for (let count = threshold; count < threshold + 3 * maxNoise; count++) {
            for (let key = 0; key < TABLE_SIZE; key++) {
              if (count + cellKeyNoise(table, threshold, count, key) < threshold) {
                below.push([threshold, count, key]);
              }
            }
          }
        }
        expect(below).toEqual([]);
      });
    }
  }

  it('is the documented table for maxNoise 2, triangular', () => {
    const large = buildPerturbationTable(2, 'triangular').rows[2]!;
    const tally = (v: number) => large.filter((x) => x === v).length;
    expect([-2, -1, 0, 1, 2].map(tally)).toEqual([28, 57, 86, 57, 28]);
  });

  it('is rebuilt identically, and built once per process', () => {
    expect(buildPerturbationTable(3, 'uniform')).toEqual(buildPerturbationTable(3, 'uniform'));
    expect(perturbationTable(3, 'uniform')).toBe(perturbationTable(3, 'uniform'));
    expect(perturbationTable(3, 'uniform')).toEqual(buildPerturbationTable(3, 'uniform'));
  });

  it("looks up by count row and the mixed cell key's column", () => {
    const table = buildPerturbationTable(2, 'triangular');
    for (const key of [0, 1, 5, 0x8000_0000, 0xffff_ffff]) {
      expect(cellKeyNoise(table, 10, 500, key)).toBe(table.rows[2]![columnOf(key)]);
      expect(cellKeyNoise(table, 10, 500, key)).toBe(cellKeyNoise(table, 10, 50, key));
      expect(cellKeyNoise(table, 10, 11, key)).toBe(table.rows[1]![columnOf(key)]);
    }
    expect(Object.is(cellKeyNoise(table, 10, 10, 0xffff_ffff), 0)).toBe(true);
    expect(() => cellKeyNoise(table, 10, 9, 0)).toThrow();
  });

  it('refuses a maximum noise it cannot lay out', () => {
    expect(() => buildPerturbationTable(0, 'uniform')).toThrow();
    expect(() => buildPerturbationTable(1.5, 'uniform')).toThrow();
  });

  it('mixes cell keys bijectively and spreads them evenly over the columns', () => {
    const seen = new Set<number>();
    const perColumn = new Array<number>(TABLE_SIZE).fill(0);
    for (let k = 0; k < 1 << 16; k++) {
      const key = Math.imul(k, 0x9e3779b1) >>> 0;
      seen.add(mixCellKey(key));
      perColumn[columnOf(key)]! += 1;
    }
    expect(seen.size).toBe(1 << 16);
    // 256 per column on average; every column within 40 %.
    for (const n of perColumn) expect(Math.abs(n - 256)).toBeLessThan(103);
    // Consecutive keys do not land on neighbouring columns.
    const steps = [...Array(1000).keys()].map((k) => Math.abs(columnOf(k + 1) - columnOf(k)));
    expect(steps.filter((s) => s <= 1).length).toBeLessThan(30);
  });
});
