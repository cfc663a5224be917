import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSupervisor } from './supervisor.ts';

/** A pino logger whose lines land in `lines`, parsed. */
function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(sink), lines };
}

function counter() {
  const counts = new Map<string, number>();
  return {
    counts,
    inc: ({ task }: { task: string }) => counts.set(task, (counts.get(task) ?? 0) + 1),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createSupervisor', () => {
  it('logs and counts a task that rejects or throws, by task', async () => {
    const { logger, lines } = capture();
    const failures = counter();
    const supervisor = createSupervisor({ logger, failures });
    supervisor.run('query', () => Promise.reject(new Error('store down')));
    supervisor.run('query', () => {
      throw new TypeError('thrown before any await');
    });
    supervisor.run('node-health', () => Promise.resolve('fine'));
    await supervisor.idle();
    expect(failures.counts).toEqual(new Map([['query', 2]]));
    expect(lines.map((l) => [l.task, (l.err as { message: string }).message])).toEqual([
      ['query', 'thrown before any await'],
      ['query', 'store down'],
    ]);
  });

  it('starts the work before run returns', () => {
    const supervisor = createSupervisor({ logger: capture().logger });
    let started = false;
    supervisor.run('query', () => {
      started = true;
      return new Promise(() => undefined);
    });
    expect(started).toBe(true);
  });

  it('survives a logger and a counter that throw', async () => {
    const logger = capture().logger;
    vi.spyOn(logger, 'error').mockImplementation(() => {
      throw new Error('log sink gone');
    });
    const supervisor = createSupervisor({
      logger,
      failures: {
        inc: () => {
          throw new Error('metrics gone');
        },
      },
    });
    supervisor.run('query', () => Promise.reject(new Error('store down')));
    await expect(supervisor.idle()).resolves.toBeUndefined();
  });

  it('waits in idle() for tasks started while it waits', async () => {
    const supervisor = createSupervisor({ logger: capture().logger });
    const order: string[] = [];
    supervisor.run('outer', async () => {
      await Promise.resolve();
      supervisor.run('inner', async () => {
        await Promise.resolve();
        order.push('inner');
      });
      order.push('outer');
    });
    await supervisor.idle();
    expect(order).toEqual(['outer', 'inner']);
  });

  it('runs periodic work, skipping a tick while the last run is still going, until closed', async () => {
    vi.useFakeTimers();
    const supervisor = createSupervisor({ logger: capture().logger });
    let runs = 0;
    let finish: () => void = () => undefined;
    supervisor.every(
      'node-health',
      1_000,
      () => {
        runs += 1;
        return new Promise<void>((resolve) => (finish = resolve));
      },
      { immediately: true },
    );
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(runs).toBe(1);
    finish();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(2);
    finish();
    await supervisor.close();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toBe(2);
  });
});
