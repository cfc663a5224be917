import { describe, expect, it } from 'vitest';
import { createRepeatLimiter } from './repeat-limiter.ts';

const t0 = Date.parse('2026-11-21T10:00:00Z');
const at = (seconds: number) => new Date(t0 + seconds * 1000);

describe('repeat limiter', () => {
  it('slides its window: old hits stop counting one window later', () => {
    const limiter = createRepeatLimiter({ count: 2, windowSeconds: 10 });
    expect(limiter.hit('h', 's', at(0))).toBe('ok');
    expect(limiter.hit('h', 's', at(5))).toBe('ok');
    expect(limiter.hit('h', 's', at(9))).toBe('exceeded');
    expect(limiter.hit('h', 's', at(10))).toBe('ok');
    expect(limiter.hit('h', 's', at(11))).toBe('exceeded');
  });

  it('refused hits do not extend the lock-out', () => {
    const limiter = createRepeatLimiter({ count: 1, windowSeconds: 10 });
    expect(limiter.hit('h', 's', at(0))).toBe('ok');
    for (let s = 1; s < 10; s++) expect(limiter.hit('h', 's', at(s))).toBe('exceeded');
    expect(limiter.hit('h', 's', at(10))).toBe('ok');
  });

  it('keeps subject and hash apart, even when they contain separators', () => {
    const limiter = createRepeatLimiter({ count: 1, windowSeconds: 10 });
    expect(limiter.hit('b|c', 'a', at(0))).toBe('ok');
    expect(limiter.hit('c', 'a|b', at(0))).toBe('ok');
  });

  it('bounds its memory, forgetting idle pairs first, then the least recently used', () => {
    const idle = createRepeatLimiter({ count: 1, windowSeconds: 10 }, { maxKeys: 3 });
    idle.hit('old', 's', at(0));
    idle.hit('a', 's', at(20));
    idle.hit('b', 's', at(21));
    idle.hit('c', 's', at(22)); // over the bound: 'old' has no hit in the window and goes
    expect(idle.hit('a', 's', at(23))).toBe('exceeded');

    const busy = createRepeatLimiter({ count: 1, windowSeconds: 100 }, { maxKeys: 3 });
    busy.hit('kept', 's', at(0));
    busy.hit('a', 's', at(1));
    busy.hit('b', 's', at(2));
    expect(busy.hit('kept', 's', at(3))).toBe('exceeded'); // used again: now the most recent
    busy.hit('c', 's', at(4)); // 'a' goes
    busy.hit('d', 's', at(5)); // 'b' goes
    expect(busy.hit('kept', 's', at(6))).toBe('exceeded');
    expect(busy.hit('a', 's', at(7))).toBe('ok');
  });

  it('refuses a nonsensical limit', () => {
    expect(() => createRepeatLimiter({ count: 0, windowSeconds: 10 })).toThrow();
    expect(() => createRepeatLimiter({ count: 1, windowSeconds: Number.NaN })).toThrow();
  });
});
