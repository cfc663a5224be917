// The process fault handlers with stand-ins for the process, the logger and
// the exit; process-faults.int.test.ts runs them in a real child process.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FAULT_EXIT_CODE, exitOnProcessFaults } from './process-faults.ts';

afterEach(() => {
  vi.useRealTimers();
});

function setup() {
  const target = new EventEmitter();
  const logged: unknown[] = [];
  const logger = pino({ level: 'fatal' });
  vi.spyOn(logger, 'fatal').mockImplementation((fields: unknown) => void logged.push(fields));
  const stop = vi.fn<(code: number) => void>();
  const exit = vi.fn<(code: number) => void>();
  const remove = exitOnProcessFaults(target, { logger, stop, exit, graceMs: 1_000 });
  return { target, logged, stop, exit, remove };
}

describe('exitOnProcessFaults', () => {
  it.each(['unhandledRejection', 'uncaughtException'] as const)(
    'logs a %s and starts one orderly stop with a non-zero code',
    (fault) => {
      const { target, logged, stop } = setup();
      const err = new Error('boom');
      target.emit(fault, err);
      target.emit('uncaughtException', new Error('while stopping'));
      expect(stop.mock.calls).toEqual([[FAULT_EXIT_CODE]]);
      expect(FAULT_EXIT_CODE).not.toBe(0);
      expect(logged).toEqual([
        { fault, err },
        { fault: 'uncaughtException', err: new Error('while stopping') },
      ]);
    },
  );

  it('ends the process when the orderly stop does not finish within its grace', () => {
    vi.useFakeTimers();
    const { target, exit } = setup();
    target.emit('unhandledRejection', new Error('boom'));
    vi.advanceTimersByTime(999);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(exit.mock.calls).toEqual([[FAULT_EXIT_CODE]]);
  });

  it('removes its handlers when asked', () => {
    const { target, remove } = setup();
    remove();
    expect(target.listenerCount('unhandledRejection')).toBe(0);
    expect(target.listenerCount('uncaughtException')).toBe(0);
  });
});
