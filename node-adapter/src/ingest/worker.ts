// An ingest worker thread: runs the tasks the pool sends, one at a time,
// writing its own staging CSV files, and reports results as messages.
import { parentPort, workerData } from 'node:worker_threads';
import { ProblemError } from '@tessera/schemas';
import { CsvFiles } from './csv-files.ts';
import type { FromWorker, ToWorker, WorkerSettings } from './pool.ts';
import { runTask } from './task.ts';

const port = parentPort;
if (port === null) throw new Error('worker.ts runs only as a worker thread');
const settings = workerData as WorkerSettings;
const sink = new CsvFiles(settings.dir, settings.prefix);
const post = (message: FromWorker): void => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  if (message.type === 'finish') {
    post({ type: 'finished', output: sink.close() });
    port.close();
    return;
  }
  const { task } = message;
  runTask(task, settings.secret, sink, (bytes, lines) => {
    post({ type: 'progress', file: task.target.path, bytes, lines });
  }).then(
    (result) => post({ type: 'done', result }),
    (err: unknown) => {
      sink.abort();
      post(
        err instanceof ProblemError
          ? { type: 'error', code: err.code, detail: err.detail }
          : { type: 'error', detail: err instanceof Error ? err.message : 'unknown failure' },
      );
    },
  );
});
