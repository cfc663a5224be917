import { describe, expect, it } from 'vitest';
import { createRetryBudget } from './retry-budget.ts';

describe('createRetryBudget', () => {
  it('allows a burst of `reserve` retries, then about `ratio` retries per request', () => {
    const budget = createRetryBudget({ ratio: 0.1, reserve: 2 });
    expect(budget.withdraw()).toBe(true);
    expect(budget.withdraw()).toBe(true);
    expect(budget.withdraw()).toBe(false);
    let retries = 0;
    for (let i = 0; i < 100; i++) {
      budget.deposit();
      if (budget.withdraw()) retries += 1;
    }
    expect(retries).toBe(10);
  });

  it('never holds more than its reserve', () => {
    const budget = createRetryBudget({ ratio: 0.5, reserve: 3 });
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(budget.tokens()).toBe(3);
  });

  it('still earns a retry with no reserve', () => {
    const budget = createRetryBudget({ ratio: 0.25, reserve: 0 });
    expect(budget.withdraw()).toBe(false);
    for (let i = 0; i < 4; i++) budget.deposit();
    expect(budget.withdraw()).toBe(true);
  });

  it('checks its options when created', () => {
    expect(() => createRetryBudget({ ratio: 2, reserve: 10 })).toThrow(/ratio/);
    expect(() => createRetryBudget({ ratio: 0.1, reserve: Number.NaN })).toThrow(/reserve/);
  });
});
