import { describe, expect, it } from 'vitest';
import { createCircuitBreaker, type CircuitState } from './breaker.ts';

function clocked() {
  let t = 1_000;
  const changes: CircuitState[] = [];
  const breaker = createCircuitBreaker({
    failureThreshold: 3,
    openMs: 100,
    now: () => t,
    onChange: (s) => changes.push(s),
  });
  return { breaker, changes, advance: (ms: number) => (t += ms) };
}

describe('createCircuitBreaker', () => {
  it('opens after the threshold of consecutive failures, not before', () => {
    const { breaker, changes } = clocked();
    breaker.failure();
    breaker.failure();
    expect(breaker.acquire()).toBe('call');
    breaker.failure();
    expect(breaker.state()).toBe('open');
    expect(breaker.acquire()).toBe('reject');
    expect(breaker.consecutiveFailures()).toBe(3);
    expect(changes).toEqual(['open']);
  });

  it('forgets failures after a success', () => {
    const { breaker } = clocked();
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state()).toBe('closed');
  });

  it('lets exactly one probe through after openMs, and closes when it succeeds', () => {
    const { breaker, advance, changes } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(99);
    expect(breaker.acquire()).toBe('reject');
    advance(1);
    expect(breaker.state()).toBe('half-open');
    expect(breaker.acquire()).toBe('probe');
    expect(breaker.acquire()).toBe('reject');
    breaker.success();
    expect(breaker.state()).toBe('closed');
    expect(breaker.consecutiveFailures()).toBe(0);
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again for a full openMs when the probe fails', () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(100);
    expect(breaker.acquire()).toBe('probe');
    advance(50);
    breaker.failure();
    expect(breaker.state()).toBe('open');
    advance(99);
    expect(breaker.acquire()).toBe('reject');
    advance(1);
    expect(breaker.acquire()).toBe('probe');
  });

  it('frees the probe slot when the probe ends without a verdict', () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(100);
    expect(breaker.acquire()).toBe('probe');
    breaker.release('probe');
    expect(breaker.acquire()).toBe('probe');
  });

  it('checks its options when created', () => {
    expect(() => createCircuitBreaker({ failureThreshold: 0, openMs: 1000 })).toThrow(
      /failureThreshold/,
    );
    expect(() => createCircuitBreaker({ failureThreshold: 1, openMs: -1 })).toThrow(/openMs/);
  });
});
