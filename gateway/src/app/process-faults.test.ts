import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
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

  it('in a real process: a stray rejection is logged, the server closed, and the exit code is 1', async () => {
    const module = fileURLToPath(new URL('./process-faults.ts', import.meta.url));
    // The process the handlers protect: a listening server and a promise nobody handles.
    const script = `
      import { createServer } from 'node:http';
      import pino from 'pino';
      import { exitOnProcessFaults } from ${JSON.stringify(module)};
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        exitOnProcessFaults(process, {
          logger: pino(),
          stop: (code) => server.close(() => { process.exitCode = code; console.error('server closed'); }),
        });
        void Promise.reject(new Error('nobody handles this'));
      });
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('server closed');
    const line = JSON.parse(stdout.trim().split('\n')[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 60,
      fault: 'unhandledRejection',
      err: { message: 'nobody handles this' },
    });
  });
});
