import { describe, expect, it } from 'vitest';
import { createMemoryReplayCache } from './replay-cache.ts';

describe('createMemoryReplayCache', () => {
  it('answers false for an id seen before it expires', () => {
    const cache = createMemoryReplayCache();
    expect(cache.remember('a', 2_000, 1_000)).toBe(true);
    expect(cache.remember('a', 2_000, 1_500)).toBe(false);
    expect(cache.remember('b', 2_000, 1_500)).toBe(true);
  });

  it('forgets ids once they expire', () => {
    const cache = createMemoryReplayCache({ maxEntries: 2 });
    expect(cache.remember('a', 2_000, 1_000)).toBe(true);
    expect(cache.remember('b', 2_000, 1_000)).toBe(true);
    expect(cache.remember('a', 5_000, 2_000)).toBe(true);
  });

  it('refuses rather than forgets when full of live ids', () => {
    const cache = createMemoryReplayCache({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) expect(cache.remember(id, 60_000, 0)).toBe(true);
    expect(cache.remember('d', 60_000, 10)).toBe(false);
    // The live ids are all still known.
    for (const id of ['a', 'b', 'c']) expect(cache.remember(id, 60_000, 20)).toBe(false);
    // Once they expire there is room again.
    expect(cache.remember('d', 120_000, 60_001)).toBe(true);
  });

  it('clears expired ids behind a longer-lived one when full', () => {
    const cache = createMemoryReplayCache({ maxEntries: 3 });
    expect(cache.remember('long', 60_000, 0)).toBe(true);
    expect(cache.remember('short-1', 1_000, 0)).toBe(true);
    expect(cache.remember('short-2', 1_000, 0)).toBe(true);
    expect(cache.remember('next', 61_000, 2_000)).toBe(true);
    expect(cache.remember('long', 60_000, 2_000)).toBe(false);
  });

  it('stays bounded under a flood of ids', () => {
    const cache = createMemoryReplayCache({ maxEntries: 1_000 });
    let accepted = 0;
    for (let i = 0; i < 50_000; i += 1) {
      if (cache.remember(`id-${i}`, i + 60_000, i)) accepted += 1;
    }
    // At most maxEntries live at any moment; the rest are refused, never evicted early.
    expect(accepted).toBeLessThan(50_000);
    expect(cache.remember('id-49999', 110_000, 50_000)).toBe(false);
  });

  it('refuses a bad size', () => {
    expect(() => createMemoryReplayCache({ maxEntries: 0 })).toThrow(/"maxEntries"/);
  });
});
