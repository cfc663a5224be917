// Latency statistics over repeated runs.

export interface Stats {
  readonly runs: number;
  readonly median: number;
  /** Nearest-rank 95th percentile. */
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}

/**
 * @example summarise([3, 1, 2]) // { runs: 3, median: 2, p95: 3, min: 1, max: 3 }
 */
export function summarise(samples: readonly number[]): Stats {
  if (samples.length === 0) throw new RangeError('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (i: number): number => sorted[Math.min(n - 1, Math.max(0, i))]!;
  const median = n % 2 === 1 ? at((n - 1) / 2) : (at(n / 2 - 1) + at(n / 2)) / 2;
  return { runs: n, median, p95: at(Math.ceil(0.95 * n) - 1), min: at(0), max: at(n - 1) };
}

/** Milliseconds one call of `fn` takes. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

export interface Sample {
  /** Wall-clock milliseconds. */
  readonly wallMs: number;
  /** User + system CPU milliseconds of the whole process (every thread) meanwhile. */
  readonly cpuMs: number;
}

/**
 * Wall-clock and process CPU time of one call of `fn`. On a loaded machine the
 * CPU time stays close to what the call costs; the wall-clock time does not.
 */
export async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}
