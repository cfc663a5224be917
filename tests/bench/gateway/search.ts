// Rate steps judged against a latency budget, and the search for the highest
// arrival rate that passes.
import type { GatewayWindow, Mode, StepRaw } from './protocol.ts';

/** Nearest-rank percentile; NaN for no samples. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Median of the finite values; NaN when there is none. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One step: what the load generator saw, its percentiles, and the gateway process's figures. */
export interface Step {
  readonly mode: Mode;
  readonly rate: number;
  readonly raw: StepRaw;
  readonly e2eP50: number;
  readonly e2eP99: number;
  readonly addedP50: number;
  readonly addedP99: number;
  readonly nodeP50: number;
  readonly lagP99: number;
  /** The gateway's process over the step (gateway mode); undefined in bare mode. */
  readonly gateway: GatewayWindow | undefined;
  /** Gateway process CPU per answered query (gateway mode), ms. */
  readonly gatewayCpuPerQuery: number;
  /** Load generator CPU per answered query, ms (the bare fan-out's own cost in bare mode). */
  readonly loadCpuPerQuery: number;
}

export function makeStep(raw: StepRaw, gateway: GatewayWindow | undefined): Step {
  return {
    mode: raw.mode,
    rate: raw.rate,
    raw,
    e2eP50: percentile(raw.e2eMs, 0.5),
    e2eP99: percentile(raw.e2eMs, 0.99),
    addedP50: percentile(raw.addedMs, 0.5),
    addedP99: percentile(raw.addedMs, 0.99),
    nodeP50: percentile(raw.nodeMs, 0.5),
    lagP99: percentile(raw.lagMs, 0.99),
    gateway,
    gatewayCpuPerQuery: gateway !== undefined && raw.ok > 0 ? gateway.cpuMs / raw.ok : Number.NaN,
    loadCpuPerQuery: raw.ok > 0 ? raw.cpuMs / raw.ok : Number.NaN,
  };
}

/** Why a step fails a budget, each reason a short kind; empty when it passes. */
export function failureKinds(step: Step, budgetMs: number): string[] {
  const kinds: string[] = [];
  const { raw } = step;
  if (raw.overloaded) kinds.push('stopped sending: too many requests outstanding');
  if (raw.unfinished > 0) kinds.push('requests unanswered at the end');
  kinds.push(...Object.keys(raw.errors));
  if (raw.ok === 0) kinds.push('no answer');
  else if (!(step.e2eP99 < budgetMs)) kinds.push(`p99 over ${budgetMs} ms`);
  return kinds;
}

export function passes(step: Step, budgetMs: number): boolean {
  return failureKinds(step, budgetMs).length === 0;
}

export interface SearchOptions {
  readonly budgetMs: number;
  /** Steps at the answer, a majority of which must pass. */
  readonly repeats: number;
  readonly minRate: number;
  readonly maxRate: number;
  /** Bisections after the doubling or halving. */
  readonly refinements: number;
  /** The first rate when no earlier step says where to start. */
  readonly start: number;
  /** A rate on the ladder (rounded, clamped). */
  readonly round: (rate: number) => number;
}

export interface Search {
  readonly budgetMs: number;
  /** Highest arrival rate that passed (its repeats by majority); 0 when none did. */
  readonly sustained: number;
  /** True when the search stopped at the maximum rate, not at a failure. */
  readonly capped: boolean;
  /** The steps this search judged, in order (some run earlier, for another budget). */
  readonly steps: readonly Step[];
  /** The steps at the sustained rate. */
  readonly atSustained: readonly Step[];
}

/**
 * The highest arrival rate whose steps pass the budget. Earlier steps of the
 * same mode (`history`, judged against this budget) bracket the answer first
 * and are reused instead of run again; then rates double (or halve) until the
 * bracket closes, `refinements` bisections on a log scale narrow it, and the
 * answer is repeated to `repeats` steps, a majority of which must pass (else
 * one rung down, at most three times).
 */
export async function findRate(
  run: (rate: number) => Promise<Step>,
  history: readonly Step[],
  options: SearchOptions,
): Promise<Search> {
  const { budgetMs, round } = options;
  const steps: Step[] = [];
  const used = new Set<Step>();
  const at = async (rate: number): Promise<boolean> => {
    const earlier = history.find((s) => s.rate === rate && !used.has(s));
    const step = earlier ?? (await run(rate));
    used.add(step);
    steps.push(step);
    return passes(step, budgetMs);
  };

  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  if (history.length === 0) {
    const first = round(options.start);
    if (await at(first)) lo = first;
    else hi = first;
  } else {
    for (const s of history) if (passes(s, budgetMs)) lo = Math.max(lo, s.rate);
    for (const s of history) if (!passes(s, budgetMs) && s.rate > lo) hi = Math.min(hi, s.rate);
  }
  if (lo > 0) {
    while (!Number.isFinite(hi) && lo < options.maxRate) {
      const rate = round(lo * 2);
      if (await at(rate)) lo = rate;
      else hi = rate;
    }
  } else {
    let rate = hi;
    while (lo === 0 && rate > options.minRate) {
      rate = round(rate / 2);
      if (await at(rate)) lo = rate;
      else hi = rate;
    }
  }
  for (let i = 0; i < options.refinements && lo > 0 && Number.isFinite(hi); i += 1) {
    const mid = round(Math.sqrt(lo * hi));
    if (mid <= lo || mid >= hi) break;
    if (await at(mid)) lo = mid;
    else hi = mid;
  }
  for (let fallbacks = 0; lo > 0 && fallbacks < 3; fallbacks += 1) {
    const atLo = (): Step[] => steps.filter((s) => s.rate === lo);
    while (atLo().length < options.repeats) await at(lo);
    const passed = atLo().filter((s) => passes(s, budgetMs)).length;
    if (passed * 2 > atLo().length) break;
    hi = lo;
    lo = lo <= options.minRate ? 0 : round(lo / 2 ** 0.25);
  }
  return {
    budgetMs,
    sustained: lo,
    capped: lo >= options.maxRate,
    steps,
    atSustained: steps.filter((s) => s.rate === lo),
  };
}
