// Child processes for whole-system tests: the services' own command lines,
// started on free loopback ports, waited for, stopped, and never left behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.ts';

export const NODE_BIN = join(REPO_ROOT, 'node-adapter/bin/tessera-node.js');
export const GATEWAY_BIN = join(REPO_ROOT, 'gateway/bin/tessera-gateway.js');

/** Keeps the last part of a stream, for error messages. */
const LOG_TAIL_BYTES = 16 * 1024;

/** Every child still running; killed if the test process exits first. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A free loopback port, so every service can be told the others' addresses up front. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** The tail of what the process wrote to stdout and stderr. */
  logs(): string;
  /** Lines written to stdout so far (the stand-in node reports requests there). */
  stdoutLines(): string[];
  /** Settles when the process has exited. */
  readonly exited: Promise<void>;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Starts a long-running process (`node <args>`, or `command <args>`); output is kept, not shown.
 * @example const node = startService('lombardia', [NODE_BIN, 'serve', '--config', file]);
 */
export function startService(
  name: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; command?: string } = {},
): Service {
  const child = spawn(options.command ?? process.execPath, [...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let tail = '';
  let stdout = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-LOG_TAIL_BYTES);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    keep(chunk);
    stdout = (stdout + chunk.toString('utf8')).slice(-LOG_TAIL_BYTES);
  });
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (hasExited(child)) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  void exited.then(() => live.delete(child));
  return {
    name,
    child,
    logs: () => tail,
    stdoutLines: () => stdout.split('\n').filter((line) => line !== ''),
    exited,
  };
}

/**
 * Waits until `${url}/readyz` answers 200.
 * @throws naming the service, with its last output, when it exits or the time runs out
 */
export async function waitReady(url: string, service: Service, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (hasExited(service.child)) {
      throw new Error(
        `${service.name} exited during start-up (${service.child.exitCode ?? service.child.signalCode}):\n${service.logs()}`,
      );
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(
    `${service.name} was not ready at ${url} within ${timeoutMs} ms:\n${service.logs()}`,
  );
}

/**
 * Sends `signal` and waits for the exit; SIGKILL after `graceMs` if needed.
 */
export async function stopService(
  service: Service,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 15_000,
): Promise<void> {
  if (hasExited(service.child)) return;
  service.child.kill(signal);
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  try {
    await service.exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command line to completion (`node <args>`).
 * @example const { code, stdout } = await runCli([GATEWAY_BIN, 'audit', 'verify', '--data-dir', dir]);
 */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; command?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.command ?? process.execPath, [...args], {
      cwd: REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like runCli, but a non-zero exit throws with the command's output. */
export async function runCliOk(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; command?: string } = {},
): Promise<CliResult> {
  const result = await runCli(args, options);
  if (result.code !== 0) {
    throw new Error(
      `${args.slice(1, 3).join(' ')} exited with ${result.code}:\n${result.stderr.slice(-4000)}`,
    );
  }
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws `what` on time-out. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= until) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
