// The cell-key perturbation table (the Australian Bureau of Statistics'
// TableBuilder method). Noise is looked up, never drawn: the row is chosen by
// the true count, the column by the cell key (the sum of the members' record
// keys modulo 2^32), so the same set of patients always gets the same noise,
// whatever query selected it, and nothing needs to be remembered between
// queries or restarts.
//
// The table is generated here, deterministically, from (maxNoise, shape):
//
// - TABLE_SIZE = 256 columns. The column is the top byte of mix(cellKey), where
//   mix is a fixed bijective 32-bit integer hash (lowbias32). Record keys are
//   uniform 32-bit values, so every cell key, and so every column, is uniform.
//   The mix matters because cell keys add up: key(A) + key(not A) = key(all)
//   (mod 2^32). Indexed by the key itself, the three noises of a tracker
//   (A OR P, NOT A OR P, all) are tied together, and their sum depends on
//   whether P is empty; after the mix the relation is gone and different member
//   sets get independent noise (threat 6 pins this).
// - Rows are chosen by the count c relative to the threshold t. Counts 1..t-1
//   are suppressed and zero cells are released as they are, so only counts
//   c >= t are perturbed. Row j (0 <= j < maxNoise) serves c = t + j and holds
//   noise in [-j, +j]; the "large" row serves every c >= t + maxNoise and holds
//   noise in [-maxNoise, +maxNoise]. So c + noise >= t always: a perturbed count
//   never falls below the threshold and is never negative, and nothing has to
//   be suppressed after noise. Near the threshold the noise is narrower.
// - Within a row the noise values -m..m get integer column counts n(k) that
//   follow the shape's weights (triangular: m + 1 - |k|, uniform: 1), rounded
//   with n(-k) = n(k) and n(0) taking the remainder, so every row sums to
//   exactly 0 (zero mean) over its 256 columns. Columns are laid out in
//   ascending noise order (the ABS layout: the mixed key, read as a fraction
//   of 2^32, picks a point on the row's cumulative distribution).
//
// For maxNoise 2, triangular: the large row is -2 x28, -1 x57, 0 x86, +1 x57,
// +2 x28 (variance 1.32); row 1 (c = t + 1) is -1 x64, 0 x128, +1 x64; row 0
// (c = t) is all 0.

/** Columns of the table; a power of two, so the top bits of a uniform key pick a uniform column. */
export const TABLE_SIZE = 256;

export type TableShape = 'triangular' | 'uniform';

export interface PerturbationTable {
  readonly maxNoise: number;
  readonly shape: TableShape;
  /** rows[j] serves count threshold + j for j < maxNoise; rows[maxNoise] every larger count. */
  readonly rows: readonly (readonly number[])[];
}

function weight(shape: TableShape, m: number, k: number): number {
  return shape === 'uniform' ? 1 : m + 1 - Math.abs(k);
}

/** One row: TABLE_SIZE integer noise values in [-m, m], summing to exactly 0. */
function buildRow(m: number, shape: TableShape): number[] {
  let total = 0;
  for (let k = -m; k <= m; k++) total += weight(shape, m, k);
  const counts = new Map<number, number>();
  let sides = 0;
  for (let k = 1; k <= m; k++) {
    const n = Math.round((TABLE_SIZE * weight(shape, m, k)) / total);
    counts.set(k, n);
    sides += 2 * n;
  }
  const zero = TABLE_SIZE - sides;
  if (zero < 1) throw new Error(`perturbation row for noise ${m} leaves no zero column`);
  const row: number[] = [];
  // Written as 0 - m so that row 0 holds +0, never -0.
  for (let k = 0 - m; k <= m; k++) {
    const n = k === 0 ? zero : counts.get(Math.abs(k))!;
    for (let i = 0; i < n; i++) row.push(k);
  }
  return row;
}

/**
 * The perturbation table for a maximum noise and a shape; the same arguments
 * always give the same table.
 * @example buildPerturbationTable(2, 'triangular').rows[2]!.filter((v) => v === 2).length // 28
 */
export function buildPerturbationTable(maxNoise: number, shape: TableShape): PerturbationTable {
  if (!Number.isInteger(maxNoise) || maxNoise < 1 || maxNoise > 10) {
    throw new Error(`maxNoise must be an integer from 1 to 10, not ${maxNoise}`);
  }
  const rows: number[][] = [];
  for (let j = 0; j <= maxNoise; j++) rows.push(buildRow(j, shape));
  return Object.freeze({ maxNoise, shape, rows: Object.freeze(rows.map((r) => Object.freeze(r))) });
}

const built = new Map<string, PerturbationTable>();

/**
 * The table for a policy's settings, built once per process: a deterministic
 * function of its arguments, so reusing it is the same as rebuilding it.
 * @example perturbationTable(2, 'triangular') === perturbationTable(2, 'triangular') // true
 */
export function perturbationTable(maxNoise: number, shape: TableShape): PerturbationTable {
  const id = `${shape}:${maxNoise}`;
  let table = built.get(id);
  if (!table) {
    table = buildPerturbationTable(maxNoise, shape);
    built.set(id, table);
  }
  return table;
}

/**
 * A bijective 32-bit integer hash (Wellons' lowbias32): spreads the additive
 * structure of cell keys so related sets land on unrelated columns.
 * @example mixCellKey(0) // 0
 */
export function mixCellKey(cellKey: number): number {
  let x = cellKey >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The table column of a cell key. */
export function columnOf(cellKey: number): number {
  return Math.floor((mixCellKey(cellKey) * TABLE_SIZE) / 0x1_0000_0000);
}

/**
 * The noise for a count at or above the threshold with its cell key: a pure
 * lookup, so the same (count, cellKey) gets the same noise in every query,
 * process and restart.
 * @example cellKeyNoise(table, 10, 120, 0x1234_5678) // -2..2
 */
export function cellKeyNoise(
  table: PerturbationTable,
  threshold: number,
  count: number,
  cellKey: number,
): number {
  if (count < threshold) throw new Error('counts below the threshold are never perturbed');
  const row = table.rows[Math.min(count - threshold, table.maxNoise)]!;
  return row[columnOf(cellKey)]!;
}
