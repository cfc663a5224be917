// Waiting on a shared AbortSignal: one listener per signal however many
// wait, removed when the last stops, and every waiter told when it aborts.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort, sleep } from './abort.ts';

const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('onAbort', () => {
  it('shares one listener among many waiters and removes it after the last', () => {
    const controller = new AbortController();
    const stops = Array.from({ length: 25 }, () => onAbort(controller.signal, () => undefined));
    expect(listeners(controller.signal)).toBe(1);
    stops.forEach((stop) => stop());
    expect(listeners(controller.signal)).toBe(0);
    // Stopping twice is harmless.
    stops[0]!();
    expect(listeners(controller.signal)).toBe(0);
  });

  it('calls every waiter still waiting when the signal aborts', () => {
    const controller = new AbortController();
    const called: number[] = [];
    const stops = [1, 2, 3].map((n) => onAbort(controller.signal, () => called.push(n)));
    stops[1]!();
    controller.abort();
    expect(called).toEqual([1, 3]);
    expect(listeners(controller.signal)).toBe(0);
  });
});

describe('sleep', () => {
  it('parallel sleeps under one signal add one listener, and none is left after', async () => {
    const controller = new AbortController();
    const sleeps = Array.from({ length: 30 }, () =>
      sleep(5, controller.signal, () => new Error('cancelled')),
    );
    expect(listeners(controller.signal)).toBe(1);
    await Promise.all(sleeps);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('rejects every sleeper with the reason when the signal aborts', async () => {
    const controller = new AbortController();
    const sleeps = Array.from({ length: 12 }, () =>
      sleep(60_000, controller.signal, (s) => new Error(String(s.reason))),
    );
    controller.abort('stop');
    const results = await Promise.allSettled(sleeps);
    expect(results.every((r) => r.status === 'rejected' && /stop/.test(String(r.reason)))).toBe(
      true,
    );
    await expect(sleep(1, controller.signal, () => new Error('already'))).rejects.toThrow(
      'already',
    );
  });
});
