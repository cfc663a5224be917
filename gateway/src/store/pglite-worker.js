// PGlite in a worker thread. PostgreSQL compiled to WebAssembly runs every
// statement synchronously on the thread that calls it; on the gateway's main
// thread it would stall HTTP, fan-out and merge for as long as each
// statement takes. Here it has a thread of its own and the main thread only
// posts statements and awaits their rows (pglite-store.ts, `workerDriver`).
//
// Plain JavaScript on purpose: a worker does not inherit the TypeScript
// loader the gateway's entry point registers.
//
// Messages in:  { id, op: 'query', sql, params, tx? } | { id, op: 'exec', sql, tx? }
//               { id, op: 'begin' } | { id, op: 'commit' | 'rollback', tx } | { id, op: 'close' }
// Messages out: { id, rows? , tx? } or { id, error: { message, code } }
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

/**
 * PostgreSQL's own buffer cache, in 8 kB pages: 16 MB rather than PGlite's
 * 128 MB. The gateway reads single rows by key; the operating system's page
 * cache sits behind this one, and every page of it is resident memory
 * WebAssembly never gives back.
 */
const SHARED_BUFFERS = 2048;

/** PGlite's own start parameters, as it passes them when given none. */
const PGLITE_START_PARAMS = [
  '--single',
  '-F',
  '-O',
  '-j',
  '-c',
  'search_path=public',
  '-c',
  'exit_on_error=false',
  '-c',
  'log_checkpoints=false',
  '-c',
  'max_worker_processes=0',
  '-c',
  'max_parallel_workers=0',
  '-c',
  'max_parallel_workers_per_gather=0',
  '-c',
  'io_method=sync',
  '-c',
  'max_parallel_maintenance_workers=0',
];

const db = await PGlite.create(workerData.dataDir, {
  startParams: [...PGLITE_START_PARAMS, '-c', `shared_buffers=${SHARED_BUFFERS}`],
});
if (workerData.initOnly) {
  // Creating a database takes far more memory than using one, and a
  // WebAssembly instance never returns memory: this worker only creates it
  // and ends, taking that memory with it.
  await db.close();
  process.exit(0);
}

/** Open transactions: PGlite's own transaction mutex keeps others (and plain statements) waiting. */
const transactions = new Map();
let nextTx = 1;

function reply(id, fields) {
  parentPort.postMessage({ id, ...fields });
}

function fail(id, err) {
  const error = err instanceof Error ? err : new Error(String(err));
  reply(id, {
    error: {
      message: error.message,
      ...(typeof error.code === 'string' ? { code: error.code } : {}),
    },
  });
}

function runnerFor(tx) {
  if (tx === undefined) return db;
  const open = transactions.get(tx);
  if (open?.runner === undefined) throw new Error(`store: transaction ${tx} is not open`);
  return open.runner;
}

function begin(id) {
  const tx = nextTx++;
  const open = { runner: undefined, end: undefined, done: undefined };
  const ended = new Promise((resolve, reject) => {
    open.end = { commit: resolve, rollback: reject };
  });
  transactions.set(tx, open);
  let started = false;
  open.done = db
    .transaction(async (runner) => {
      open.runner = runner;
      started = true;
      reply(id, { tx });
      await ended;
    })
    .finally(() => transactions.delete(tx));
  // A transaction that could not even begin answers its `begin` with the
  // error; one that began is settled through commit or rollback.
  open.done.catch((err) => {
    if (!started) fail(id, err);
  });
}

async function finish(tx, commit) {
  const open = transactions.get(tx);
  if (open === undefined) throw new Error(`store: transaction ${tx} is not open`);
  if (commit) open.end.commit();
  else open.end.rollback(new Error('rolled back'));
  try {
    await open.done;
  } catch (err) {
    if (commit) throw err;
  }
}

parentPort.on('message', (message) => {
  const { id, op } = message;
  void (async () => {
    try {
      switch (op) {
        case 'query': {
          const result = await runnerFor(message.tx).query(message.sql, message.params);
          reply(id, { rows: result.rows });
          return;
        }
        case 'exec':
          await runnerFor(message.tx).exec(message.sql);
          reply(id, {});
          return;
        case 'begin':
          begin(id);
          return;
        case 'commit':
        case 'rollback':
          await finish(message.tx, op === 'commit');
          reply(id, {});
          return;
        case 'close':
          await db.close();
          reply(id, {});
          return;
        default:
          throw new Error(`store: unknown operation ${op}`);
      }
    } catch (err) {
      fail(id, err);
    }
  })();
});

parentPort.postMessage({ ready: true });
