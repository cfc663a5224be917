// Runs ingest tasks on worker threads (or inline, for small inputs and for
// tests): JSON parsing and flattening are the costly part of ingest, and
// they parallelise by file segment.
import { Worker } from 'node:worker_threads';
import { CsvFiles } from './csv-files.ts';
import type { CsvOutput } from './csv-files.ts';
import { isNodeErrorCode, nodeProblem } from '../errors.ts';
import { runTask } from './task.ts';
import type { IngestTask, TaskResult } from './task.ts';

export interface WorkerSettings {
  readonly dir: string;
  readonly prefix: string;
  readonly secret: Uint8Array;
}

export type ToWorker =
  { readonly type: 'task'; readonly task: IngestTask } | { readonly type: 'finish' };

export type FromWorker =
  | {
      readonly type: 'progress';
      readonly file: string;
      readonly bytes: number;
      readonly lines: number;
    }
  | { readonly type: 'done'; readonly result: TaskResult }
  | { readonly type: 'finished'; readonly output: CsvOutput }
  | { readonly type: 'error'; readonly code?: string; readonly detail?: string | undefined };

export interface PoolOptions {
  /** Worker threads; 0 runs every task on the calling thread. */
  readonly workers: number;
  /** Directory for the staging CSV files. */
  readonly dir: string;
  readonly secret: Uint8Array;
  readonly onProgress: (file: string, bytes: number, lines: number) => void;
}

export interface PoolOutput {
  readonly results: TaskResult[];
  readonly outputs: CsvOutput[];
}

/** Runs every task; the first failure stops all workers and rejects. */
export async function runTasks(
  tasks: readonly IngestTask[],
  options: PoolOptions,
): Promise<PoolOutput> {
  if (options.workers <= 0 || tasks.length === 0) return runInline(tasks, options);
  return runOnWorkers(tasks, options);
}

async function runInline(tasks: readonly IngestTask[], options: PoolOptions): Promise<PoolOutput> {
  const sink = new CsvFiles(options.dir, 'main');
  const results: TaskResult[] = [];
  try {
    for (const task of tasks) {
      results.push(
        await runTask(task, options.secret, sink, (bytes, lines) =>
          options.onProgress(task.target.path, bytes, lines),
        ),
      );
    }
  } catch (err) {
    sink.abort();
    throw err;
  }
  return { results, outputs: [sink.close()] };
}

function taskBytes(task: IngestTask): number {
  const { start, end } = task.target;
  return start !== undefined && end !== undefined ? end - start : 0;
}

function runOnWorkers(tasks: readonly IngestTask[], options: PoolOptions): Promise<PoolOutput> {
  // Largest first, so the last task to finish is a small one.
  const queue = [...tasks].sort((a, b) => taskBytes(b) - taskBytes(a));
  const count = Math.min(options.workers, tasks.length);
  const results: TaskResult[] = [];
  const outputs: CsvOutput[] = [];
  const workers: Worker[] = [];

  return new Promise<PoolOutput>((resolve, reject) => {
    let failed = false;
    let running = count;
    const finished = new Set<Worker>();
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      for (const w of workers) void w.terminate();
      reject(err);
    };
    const next = (worker: Worker): void => {
      const task = queue.shift();
      const message: ToWorker = task === undefined ? { type: 'finish' } : { type: 'task', task };
      worker.postMessage(message);
    };
    for (let i = 0; i < count; i++) {
      const settings: WorkerSettings = {
        dir: options.dir,
        prefix: `w${i}`,
        secret: options.secret,
      };
      const worker = new Worker(new URL('./ingest-worker.js', import.meta.url), {
        workerData: settings,
        execArgv: [],
      });
      workers.push(worker);
      worker.on('message', (message: FromWorker) => {
        if (failed) return;
        switch (message.type) {
          case 'progress':
            options.onProgress(message.file, message.bytes, message.lines);
            break;
          case 'done':
            results.push(message.result);
            next(worker);
            break;
          case 'finished':
            outputs.push(message.output);
            finished.add(worker);
            running -= 1;
            if (running === 0) resolve({ results, outputs });
            break;
          case 'error':
            fail(workerProblem(message.code, message.detail));
            break;
        }
      });
      worker.on('error', () => fail(new Error('an ingest worker failed')));
      worker.on('exit', (code) => {
        if (code !== 0 && !finished.has(worker))
          fail(new Error(`an ingest worker exited with code ${code}`));
      });
      next(worker);
    }
  });
}

function workerProblem(code: string | undefined, detail: string | undefined): Error {
  if (code !== undefined && isNodeErrorCode(code)) {
    return nodeProblem(code, detail === undefined ? {} : { detail });
  }
  return new Error(`an ingest worker failed${detail === undefined ? '' : `: ${detail}`}`);
}
