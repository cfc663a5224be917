// A forked TypeScript child process with typed messages both ways.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface Child<In, Out> {
  readonly process: ChildProcess;
  send(message: In): void;
  /** The next message (buffered ones first) that `match` accepts. */
  next<T extends Out>(match: (message: Out) => message is T, timeoutMs?: number): Promise<T>;
  /** Sends `stop`, waits for the exit, kills the process after `graceMs`. */
  stop(stop: In, graceMs?: number): Promise<void>;
}

interface Waiter<Out> {
  readonly match: (message: Out) => boolean;
  readonly resolve: (message: Out) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Forks `file` under the same loader flags as this process (tsx), with `init`
 * as JSON in argv[2].
 * @example const host = forkChild<ToNodeHost, FromNodeHost>(file, 'node host', init);
 */
export function forkChild<In, Out>(file: string, name: string, init: unknown): Child<In, Out> {
  const child = fork(file, [JSON.stringify(init)], {
    execArgv: [...process.execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const buffered: Out[] = [];
  const waiters: Waiter<Out>[] = [];
  let exited: Error | undefined;

  child.on('message', (raw) => {
    const message = raw as Out;
    const i = waiters.findIndex((w) => w.match(message));
    if (i === -1) buffered.push(message);
    else waiters.splice(i, 1)[0]!.resolve(message);
  });
  const onGone = (why: string): void => {
    exited ??= new Error(`${name}: ${why}`);
    for (const w of waiters.splice(0)) w.reject(exited);
  };
  child.on('exit', (code, signal) => onGone(`exited (${signal ?? code ?? '?'})`));
  child.on('error', (err) => onGone(err.message));

  return {
    process: child,
    send(message) {
      if (exited) throw exited;
      child.send(message as object);
    },
    next<T extends Out>(match: (message: Out) => message is T, timeoutMs = 120_000): Promise<T> {
      const i = buffered.findIndex(match);
      if (i !== -1) return Promise.resolve(buffered.splice(i, 1)[0] as T);
      if (exited) return Promise.reject(exited);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          const at = waiters.indexOf(waiter);
          if (at !== -1) waiters.splice(at, 1);
          reject(new Error(`${name}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter: Waiter<Out> = {
          match,
          resolve: (message) => {
            clearTimeout(timer);
            resolve(message as T);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        waiters.push(waiter);
      });
    },
    async stop(stop, graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        child.send(stop as object);
      } catch {
        // already disconnected
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}
