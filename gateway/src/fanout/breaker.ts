// A per-node circuit breaker. After `failureThreshold` consecutive failed
// calls the node is not contacted for `openMs`; then a single probe goes out,
// and its verdict closes the circuit or opens it again. The clock is passed in.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit (config `fanout.breakerFailureThreshold`). */
  readonly failureThreshold: number;
  /** How long an open circuit refuses calls before it lets one probe through (config `fanout.breakerOpenMs`). */
  readonly openMs: number;
  readonly now?: () => number;
  /** Told of every change of state. */
  readonly onChange?: (state: CircuitState) => void;
}

/** What a caller may do now: an ordinary call, the single probe, or nothing. */
export type Permit = 'call' | 'probe' | 'reject';

export interface CircuitBreaker {
  acquire(): Permit;
  /** The node answered (any answer that shows it is healthy, a refusal included). */
  success(): void;
  /** The node failed: timeout, unreachable, or a broken answer. */
  failure(): void;
  /** The call ended with no verdict on the node (cancelled, or failed on our side). */
  release(permit: Permit): void;
  state(): CircuitState;
  consecutiveFailures(): number;
}

/**
 * Creates a breaker; options are checked here, not at first use.
 * @example const b = createCircuitBreaker({ failureThreshold: 5, openMs: 30_000 });
 *   if (b.acquire() !== 'reject') { ...; b.success(); }
 */
export function createCircuitBreaker(options: BreakerOptions): CircuitBreaker {
  const { failureThreshold: threshold, openMs } = options;
  const now = options.now ?? Date.now;
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new RangeError('circuit breaker: failureThreshold must be an integer >= 1');
  }
  if (!Number.isFinite(openMs) || openMs < 0) {
    throw new RangeError('circuit breaker: openMs must be a number >= 0');
  }

  let failures = 0;
  let openedAt: number | undefined;
  let probing = false;
  let reported: CircuitState = 'closed';

  const state = (): CircuitState => {
    if (openedAt === undefined) return 'closed';
    return probing || now() - openedAt >= openMs ? 'half-open' : 'open';
  };
  const report = (): void => {
    const s = state();
    if (s === reported) return;
    reported = s;
    options.onChange?.(s);
  };

  return {
    acquire() {
      if (openedAt === undefined) return 'call';
      if (probing || now() - openedAt < openMs) return 'reject';
      probing = true;
      report();
      return 'probe';
    },
    success() {
      failures = 0;
      openedAt = undefined;
      probing = false;
      report();
    },
    failure() {
      failures += 1;
      if (probing || (openedAt === undefined && failures >= threshold)) {
        openedAt = now();
        probing = false;
      }
      report();
    },
    release(permit) {
      if (permit === 'probe') probing = false;
      report();
    },
    state() {
      report();
      return state();
    },
    consecutiveFailures: () => failures,
  };
}
