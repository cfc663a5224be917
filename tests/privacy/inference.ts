// What an attacker can conclude from released cells, using only what every
// answer publishes (`disclosure`: mechanism, threshold, maxNoise, rounding,
// epsilon) and each cell's guaranteed `range`:
//
// - certainty: the values of a secret that every published bound allows.
//   One value left means the secret is disclosed with certainty.
// - confidence: a posterior over the secret from the mechanism's public noise
//   model: truncated discrete Laplace with ratio exp(-epsilon) (laplace), the
//   cell-key table's triangular noise with true counts below the threshold
//   suppressed (cell-key), no noise (none). The prior is uniform over what a
//   suppressed answer for a small count publishes (smallCounts). The
//   attacker's guess is the most probable value; its posterior probability is
//   the attacker's own, calibrated, chance of being right.
//
// And how the harness judges an attack over several independent trials
// (expectResisted, expectRecovered).
import type { Cell, Disclosure } from '@tessera/schemas';
import { expect } from 'vitest';

export interface Mechanism {
  readonly kind: Disclosure['mechanism'];
  readonly threshold: number;
  readonly maxNoise: number;
  readonly rounding: number;
  readonly epsilon: number;
}

export function mechanismOf(d: Disclosure): Mechanism {
  return {
    kind: d.mechanism,
    threshold: d.threshold,
    maxNoise: d.maxNoise,
    rounding: d.rounding,
    epsilon: d.epsilon ?? 0,
  };
}

export const isReleased = (cell: Cell): cell is Cell & { count: number } => 'count' in cell;

/**
 * The bounds a cell guarantees for its true count: its own `range` when it
 * states one; otherwise what the mechanism's published rules imply (cell-key
 * releases only true counts at or above the threshold, with noise of at most
 * maxNoise; the open policy releases counts as they are).
 */
export function rangeOf(cell: Cell, m: Mechanism): [number, number] {
  if (cell.range !== undefined) return [cell.range[0], cell.range[1]];
  if (!isReleased(cell)) return [0, Infinity];
  const slack = m.maxNoise + m.rounding - 1;
  const low = Math.max(0, cell.count - slack);
  return [m.kind === 'cell-key' ? Math.max(m.threshold, low) : low, cell.count + slack];
}

type Pmf = ReadonlyMap<number, number>;

function laplacePmf(m: Mechanism): Pmf {
  const ratio = Math.exp(-m.epsilon);
  const weights = new Map<number, number>();
  let total = 0;
  for (let k = -m.maxNoise; k <= m.maxNoise; k++) {
    const w = ratio ** Math.abs(k);
    weights.set(k, w);
    total += w;
  }
  for (const [k, w] of weights) weights.set(k, w / total);
  return weights;
}

function triangularPmf(width: number): Pmf {
  const weights = new Map<number, number>();
  let total = 0;
  for (let k = -width; k <= width; k++) total += width + 1 - Math.abs(k);
  for (let k = -width; k <= width; k++) weights.set(k, (width + 1 - Math.abs(k)) / total);
  return weights;
}

/** The noise of one released count well above the threshold. */
export function noisePmf(m: Mechanism): Pmf {
  switch (m.kind) {
    case 'laplace':
      return laplacePmf(m);
    case 'cell-key':
      return triangularPmf(m.maxNoise);
    case 'none':
      return new Map([[0, 1]]);
  }
}

const sums = new Map<string, Pmf>();

/** The error of a sum or difference of `terms` independent noises. */
export function sumPmf(m: Mechanism, terms: number): Pmf {
  const id = `${m.kind}:${m.epsilon}:${m.maxNoise}:${terms}`;
  let pmf = sums.get(id);
  if (pmf !== undefined) return pmf;
  const one = noisePmf(m);
  let acc: Map<number, number> = new Map([[0, 1]]);
  // The noises are symmetric, so a difference has the law of a sum.
  for (let t = 0; t < terms; t++) {
    const next = new Map<number, number>();
    for (const [a, pa] of acc) {
      for (const [b, pb] of one) next.set(a + b, (next.get(a + b) ?? 0) + pa * pb);
    }
    acc = next;
  }
  sums.set(id, acc);
  pmf = acc;
  return pmf;
}

/** P(this cell | the true count), under the mechanism's public model. */
export function cellLikelihood(cell: Cell, trueCount: number, m: Mechanism): number {
  if (trueCount < 0) return 0;
  const [low, high] = rangeOf(cell, m);
  if (trueCount < low || trueCount > high) return 0;
  switch (m.kind) {
    case 'none':
      return isReleased(cell) && cell.count === trueCount ? 1 : 0;
    case 'cell-key': {
      // A suppressed cell's range says all it tells (small, or secondary).
      if (!isReleased(cell)) return 1;
      if (trueCount < m.threshold) return 0;
      // Near the threshold the table's rows are narrower.
      const width = Math.min(trueCount - m.threshold, m.maxNoise);
      return triangularPmf(width).get(cell.count - trueCount) ?? 0;
    }
    case 'laplace': {
      const pmf = laplacePmf(m);
      if (isReleased(cell)) return pmf.get(cell.count - trueCount) ?? 0;
      let p = 0;
      for (const [k, pk] of pmf) if (trueCount + k < m.threshold) p += pk;
      return p;
    }
  }
}

/**
 * The values a small count may take before the attack: what a suppressed
 * answer for it publishes, [0, threshold - 1 + maxNoise] under laplace,
 * [0, threshold - 1] under cell-key ([0, 9] under the open policy, which
 * suppresses nothing).
 */
export function smallCounts(m: Mechanism): number[] {
  const top =
    m.kind === 'laplace'
      ? m.threshold - 1 + m.maxNoise + m.rounding - 1
      : m.kind === 'cell-key'
        ? m.threshold - 1
        : 9;
  return Array.from({ length: top + 1 }, (_, i) => i);
}

/** One signed cell of a linear statistic. */
export interface Term {
  readonly cell: Cell;
  readonly sign: 1 | -1;
}

/**
 * What an attacker knows about one small count: the values every published
 * bound still allows, and a posterior over its possible values (uniform
 * prior over `smallCounts`, or the candidates given).
 */
export class CountInference {
  #candidates: readonly number[] | undefined;
  #log: number[] = [];
  low = 0;
  high = Infinity;
  /** Measurements and observations taken into account. */
  evidence = 0;

  constructor(candidates?: readonly number[]) {
    if (candidates !== undefined) this.#init(candidates);
  }

  #init(candidates: readonly number[]): void {
    this.#candidates = candidates;
    this.#log = candidates.map(() => 0);
  }

  #ensure(m: Mechanism): readonly number[] {
    if (this.#candidates === undefined) this.#init(smallCounts(m));
    return this.#candidates!;
  }

  get candidates(): readonly number[] {
    return this.#candidates ?? [];
  }

  #bound(low: number, high: number): void {
    this.low = Math.max(this.low, Math.ceil(low));
    this.high = Math.min(this.high, Math.floor(high));
  }

  /** A cell whose true count is `base + slope * secret` (base known to the attacker). */
  observe(cell: Cell, base: number, m: Mechanism, slope: 1 | -1 = 1): void {
    const candidates = this.#ensure(m);
    const [low, high] = rangeOf(cell, m);
    if (slope === 1) this.#bound(low - base, high - base);
    else this.#bound(base - high, base - low);
    candidates.forEach((c, i) => {
      this.#log[i]! += Math.log(cellLikelihood(cell, base + slope * c, m));
    });
    this.evidence += 1;
  }

  /** Bounds on the secret proven some other way (e.g. by propagating a table's ranges). */
  restrict(low: number, high: number, m: Mechanism): void {
    const candidates = this.#ensure(m);
    this.#bound(low, high);
    candidates.forEach((c, i) => {
      if (c < low || c > high) this.#log[i] = -Infinity;
    });
  }

  /**
   * A linear statistic of released cells whose true value is the secret
   * (padding differences, trackers, margins). Returns false, taking nothing
   * into account, when one of the cells was suppressed.
   */
  measure(terms: readonly Term[], m: Mechanism): boolean {
    const candidates = this.#ensure(m);
    if (!terms.every((t) => isReleased(t.cell))) return false;
    let value = 0;
    let low = 0;
    let high = 0;
    for (const { cell, sign } of terms) {
      const [l, h] = rangeOf(cell, m);
      value += sign * (cell as { count: number }).count;
      low += sign > 0 ? l : -h;
      high += sign > 0 ? h : -l;
    }
    this.#bound(low, high);
    const error = sumPmf(m, terms.length);
    candidates.forEach((c, i) => {
      this.#log[i]! += Math.log(error.get(value - c) ?? 0);
    });
    this.evidence += 1;
    return true;
  }

  /** The values left by the published bounds (within [0, infinity)). */
  get allowed(): [number, number] {
    return [Math.max(0, this.low), this.high];
  }

  /** True when the published bounds leave exactly one value. */
  get certain(): boolean {
    const [low, high] = this.allowed;
    return low === high;
  }

  get posterior(): number[] {
    const max = Math.max(-Infinity, ...this.#log);
    if (max === -Infinity) return this.candidates.map(() => 0);
    const weights = this.#log.map((l) => Math.exp(l - max));
    const total = weights.reduce((a, b) => a + b, 0);
    return weights.map((w) => w / total);
  }

  /** The attacker's guess and its posterior probability. */
  get guess(): { value: number | undefined; probability: number } {
    const post = this.posterior;
    if (post.length === 0 || this.evidence === 0) return { value: undefined, probability: 0 };
    let best = 0;
    for (let i = 1; i < post.length; i++) if (post[i]! > post[best]!) best = i;
    return { value: this.candidates[best]!, probability: post[best]! };
  }

  /** The trial this inference amounts to, against the truth. */
  trial(label: string, truth: number): Trial {
    const { value, probability } = this.guess;
    return {
      label,
      truth,
      guess: this.certain ? this.allowed[0] : value,
      certain: this.certain,
      confidence: this.certain ? 1 : probability,
      bounds: this.allowed,
    };
  }
}

// ---------------------------------------------------------------------------
// Judging an attack
// ---------------------------------------------------------------------------

/** One run of an attack against one target on one node, as one project. */
export interface Trial {
  readonly label: string;
  readonly truth: unknown;
  /** What the attacker concludes; undefined when it concludes nothing. */
  readonly guess: unknown;
  /** The published bounds (or the mechanism's published rules) prove the guess. */
  readonly certain: boolean;
  /** The attacker's posterior probability of its guess, when it has a model. */
  readonly confidence?: number;
  /** The values the published bounds leave for the secret, when it is a count. */
  readonly bounds?: readonly [number, number];
  /** Queries the node answered. */
  readonly queries?: number;
}

const correct = (t: Trial): boolean => JSON.stringify(t.guess) === JSON.stringify(t.truth);

/** An attack counts as resisted when its expected exact-recovery rate stays below this. */
export const MAX_EXPECTED_RECOVERY = 0.9;

/**
 * The fewest failures out of `n` trials that reject "this attack recovers the
 * truth at least 99 % of the time" at level 0.001: P(Bin(n, 0.01) >= k) <= 0.001.
 */
export function failuresToReject(n: number): number {
  const p = 0.01;
  for (let k = 0; k <= n; k++) {
    let tail = 0;
    for (let i = k; i <= n; i++) tail += binomial(n, i) * p ** i * (1 - p) ** (n - i);
    if (tail <= 0.001) return k;
  }
  return Infinity;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

function reportOf(trials: readonly Trial[]): string {
  return trials
    .map(
      (t) =>
        `${t.label}: truth ${JSON.stringify(t.truth)}, guess ${JSON.stringify(t.guess)}` +
        `${t.certain ? ' (certain)' : ''}` +
        `${t.confidence === undefined ? '' : `, confidence ${t.confidence.toFixed(3)}`}` +
        `${t.queries === undefined ? '' : `, ${t.queries} queries`}`,
    )
    .join('\n');
}

/** A published bound that excludes the truth is a broken guarantee, whatever the attack. */
function expectBoundsHold(trials: readonly Trial[], report: string): void {
  const broken = trials.filter(
    (t) =>
      t.bounds !== undefined &&
      typeof t.truth === 'number' &&
      (t.truth < t.bounds[0] || t.truth > t.bounds[1]),
  );
  expect(
    broken.map((t) => t.label),
    `bounds that exclude the truth:\n${report}`,
  ).toEqual([]);
}

/** No attacker with a model of the noise may end up this sure of any guess. */
export const MAX_CONFIDENCE = 0.99;

/**
 * The attack failed: the published bounds hold the truth and prove no
 * trial's guess, no trial's guess reached 99 % posterior probability for an
 * attacker with a model of the noise, and the attacker is not shown to
 * recover the truth 99 % of the time: either its own expected exact-recovery
 * rate (the mean posterior probability of its guesses) is below `limit` (0.9,
 * well below 0.99), or enough trials failed to reject a 99 % rate at level
 * 0.001.
 */
export function expectResisted(
  trials: readonly Trial[],
  limit: number = MAX_EXPECTED_RECOVERY,
): void {
  const report = reportOf(trials);
  if (process.env.TESSERA_PRIVACY_REPORT === '1') console.log(report);
  expect(trials.length, 'trials').toBeGreaterThan(0);
  expectBoundsHold(trials, report);
  expect(
    trials.filter((t) => t.certain).map((t) => t.label),
    `proven by published bounds:\n${report}`,
  ).toEqual([]);
  expect(
    trials.filter((t) => (t.confidence ?? 0) >= MAX_CONFIDENCE).map((t) => t.label),
    `at least ${MAX_CONFIDENCE * 100} % sure:\n${report}`,
  ).toEqual([]);
  const failures = trials.filter((t) => !correct(t)).length;
  if (failures >= failuresToReject(trials.length)) return;
  const modelled = trials.every((t) => t.confidence !== undefined);
  const expected = modelled
    ? trials.reduce((a, t) => a + t.confidence!, 0) / trials.length
    : 1 - failures / trials.length;
  expect(
    expected,
    `expected exact-recovery rate (${trials.length - failures} of ${trials.length} right):\n${report}`,
  ).toBeLessThan(limit);
}

/** The attack worked: every trial recovered the truth, proven by what was published. */
export function expectRecovered(trials: readonly Trial[]): void {
  const report = reportOf(trials);
  if (process.env.TESSERA_PRIVACY_REPORT === '1') console.log(report);
  expect(trials.length, 'trials').toBeGreaterThan(0);
  expectBoundsHold(trials, report);
  expect(
    trials.filter((t) => !correct(t) || !t.certain).map((t) => t.label),
    report,
  ).toEqual([]);
}
