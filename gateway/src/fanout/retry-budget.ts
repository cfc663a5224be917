// A retry budget shared by every node call of one fan-out: each first attempt
// deposits `ratio` of a token, each retry spends a whole one, and the bucket
// starts with `reserve` tokens and holds at most max(reserve, 1). Retries therefore stay near `ratio` of the traffic
// however many nodes fail at once, while a quiet gateway can still retry.

export interface RetryBudgetOptions {
  /** Retries allowed per request, in the long run (config `fanout.retryBudgetRatio`). */
  readonly ratio: number;
  /** Tokens at start, and the most the bucket holds (at least 1): retries available in a burst (config `fanout.retryBudgetReserve`). */
  readonly reserve: number;
}

export interface RetryBudget {
  /** A first attempt went out. */
  deposit(): void;
  /** Takes one token for a retry; false when the budget is spent. */
  withdraw(): boolean;
  tokens(): number;
}

/**
 * @example const budget = createRetryBudget({ ratio: 0.1, reserve: 10 });
 *   budget.deposit(); if (budget.withdraw()) retry();
 */
export function createRetryBudget(options: RetryBudgetOptions): RetryBudget {
  const { ratio, reserve } = options;
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new RangeError('retry budget: ratio must be a number from 0 to 1');
  }
  if (!Number.isFinite(reserve) || reserve < 0) {
    throw new RangeError('retry budget: reserve must be a number >= 0');
  }
  const capacity = Math.max(reserve, 1);
  let tokens = reserve;
  return {
    deposit() {
      tokens = Math.min(capacity, tokens + ratio);
    },
    withdraw() {
      // A small epsilon absorbs the float error of adding 0.1 ten times.
      if (tokens < 1 - 1e-9) return false;
      tokens = Math.max(0, tokens - 1);
      return true;
    },
    tokens: () => tokens,
  };
}
