import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPLAY_FILE, openFileReplayCache } from './file-replay-cache.ts';

describe('openFileReplayCache (threat 48)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-replay-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('remembers an id across a reopen until it expires', async () => {
    const first = await openFileReplayCache(dir, { now: () => 1_000 });
    expect(await first.remember('a', 5_000, 1_000)).toBe(true);
    expect(await first.remember('a', 5_000, 1_100)).toBe(false);
    await first.close();

    const second = await openFileReplayCache(dir, { now: () => 2_000 });
    expect(await second.remember('a', 5_000, 2_000)).toBe(false);
    expect(await second.remember('b', 5_000, 2_000)).toBe(true);
    await second.close();

    // Reopened after both expired: the file is rewritten without them.
    const third = await openFileReplayCache(dir, { now: () => 6_000 });
    expect(await readFile(join(dir, REPLAY_FILE), 'utf8')).toBe('');
    expect(await third.remember('a', 9_000, 6_000)).toBe(true);
    await third.close();
  });

  it('refuses a concurrent second use of one id', async () => {
    const cache = await openFileReplayCache(dir, { now: () => 0 });
    const answers = await Promise.all([
      cache.remember('x', 5_000, 0),
      cache.remember('x', 5_000, 0),
    ]);
    expect(answers.sort()).toEqual([false, true]);
    await cache.close();
  });

  it('skips a torn last line but refuses to start over any other unreadable line', async () => {
    const path = join(dir, REPLAY_FILE);
    await writeFile(path, `${JSON.stringify({ jti: 'a', exp: 5_000 })}\n{"jti":"b","ex`);
    const cache = await openFileReplayCache(dir, { now: () => 0 });
    expect(await cache.remember('a', 5_000, 0)).toBe(false);
    expect(await cache.remember('b', 5_000, 0)).toBe(true);
    await cache.close();

    await appendFile(path, 'garbage\n');
    await expect(openFileReplayCache(dir, { now: () => 0 })).rejects.toThrow(/line 3/);
  });

  it('refuses rather than forgets when full of live ids', async () => {
    const cache = await openFileReplayCache(dir, { maxEntries: 2, now: () => 0 });
    expect(await cache.remember('a', 5_000, 0)).toBe(true);
    expect(await cache.remember('b', 5_000, 0)).toBe(true);
    expect(await cache.remember('c', 5_000, 0)).toBe(false);
    expect(await cache.remember('c', 9_000, 6_000)).toBe(true);
    await cache.close();
  });

  it('compacts the file once it holds far more lines than live ids', async () => {
    const cache = await openFileReplayCache(dir, { compactAfterLines: 20, now: () => 0 });
    for (let i = 0; i < 110; i += 1) {
      expect(await cache.remember(`id-${i}`, i < 100 ? 10 : 99_999, i < 100 ? 0 : 100)).toBe(true);
    }
    await cache.close();
    const lines = (await readFile(join(dir, REPLAY_FILE), 'utf8')).trim().split('\n');
    expect(lines.length).toBeLessThan(20);
    const reopened = await openFileReplayCache(dir, { now: () => 100 });
    expect(await reopened.remember('id-109', 99_999, 100)).toBe(false);
    await reopened.close();
  });
});
