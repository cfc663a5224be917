// The default store: PostgreSQL compiled to WebAssembly (PGlite), persisted
// in a data directory. PGlite runs in a worker thread of its own
// (pglite-worker.js), so its statements never hold up the gateway's requests.
// One process owns a data directory at a time (PGlite has no locking of its
// own and two writers would corrupt it), so opening takes a lock file that
// names the owning process; a lock left by a process that no longer runs is
// taken over.
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { SqlDriver, SqlParam, SqlRunner } from './sql.ts';
import { openSqlStore, type SqlStoreOptions } from './sql-store.ts';
import type { Store } from './store.ts';

export type PgliteStoreOptions = (
  | {
      /** Where the database lives; created when missing. Absent: in memory. */
      readonly dataDir?: string;
      readonly pglite?: undefined;
    }
  | {
      /**
       * An open PGlite owned by the caller, shared by several stores in one
       * process (tests of replica behaviour); close() leaves it open.
       */
      readonly pglite: PGlite;
      readonly dataDir?: undefined;
    }
) &
  Pick<SqlStoreOptions, 'migrate'>;

function runner(db: PGlite | Transaction): SqlRunner {
  return {
    async query(sql, params: readonly SqlParam[] = []) {
      const result = await db.query<Record<string, unknown>>(sql, [...params]);
      return result.rows;
    },
    async exec(sql) {
      await db.exec(sql);
    },
  };
}

/** A SqlDriver over one PGlite; its transactions are serialised by PGlite itself. */
export function pgliteDriver(db: PGlite, options: { readonly owned: boolean }): SqlDriver {
  return {
    ...runner(db),
    transaction: (fn) => db.transaction((tx) => fn(runner(tx))),
    async close() {
      if (options.owned) await db.close();
    },
  };
}

interface WorkerReply {
  readonly id: number;
  readonly rows?: Record<string, unknown>[];
  readonly tx?: number;
  readonly error?: { readonly message: string; readonly code?: string };
}

type WorkerRequest =
  | { op: 'query'; sql: string; params: readonly SqlParam[]; tx?: number }
  | { op: 'exec'; sql: string; tx?: number }
  | { op: 'begin' }
  | { op: 'commit' | 'rollback'; tx: number }
  | { op: 'close' };

const WORKER_SCRIPT = new URL('./pglite-worker.js', import.meta.url);

/** Creates a database in `dataDir` in a worker of its own, which ends when it has (see pglite-worker.js). */
async function initialiseDataDir(dataDir: string): Promise<void> {
  const worker = new Worker(WORKER_SCRIPT, { workerData: { dataDir, initOnly: true } });
  const code = await new Promise<number>((resolveExit, rejectExit) => {
    worker.once('error', rejectExit);
    worker.once('exit', resolveExit);
  });
  if (code !== 0) throw new Error(`store: could not create a database in ${dataDir}`);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * A SqlDriver over a PGlite in a worker thread (`dataDir` absent: in
 * memory). Statements travel as messages; the worker keeps PGlite's own
 * ordering, so a transaction's statements run alone, as in-process.
 */
export async function pgliteWorkerDriver(dataDir: string | undefined): Promise<SqlDriver> {
  if (dataDir !== undefined && !(await exists(join(dataDir, 'PG_VERSION')))) {
    await initialiseDataDir(dataDir);
  }
  const worker = new Worker(WORKER_SCRIPT, { workerData: { dataDir } });
  const pending = new Map<
    number,
    { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }
  >();
  let nextId = 1;
  let exited: Error | undefined;
  const ready = new Promise<void>((resolveReady, rejectReady) => {
    worker.on('message', (message: WorkerReply | { ready: true }) => {
      if ('ready' in message) {
        resolveReady();
        return;
      }
      const call = pending.get(message.id);
      if (call === undefined) return;
      pending.delete(message.id);
      if (pending.size === 0) worker.unref();
      if (message.error === undefined) call.resolve(message);
      else
        call.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
    });
    worker.on('error', (err) => {
      exited = err;
      rejectReady(err);
    });
    worker.on('exit', (code) => {
      exited ??= new Error(`store: the database worker stopped (exit code ${code})`);
      rejectReady(exited);
      for (const call of pending.values()) call.reject(exited);
      pending.clear();
    });
  });
  await ready;
  // An idle worker must not keep an otherwise finished process alive (the
  // store's close() ends it); one with a statement in flight must.
  worker.unref();

  function send(request: WorkerRequest): Promise<WorkerReply> {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    return new Promise((resolveCall, rejectCall) => {
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve: resolveCall, reject: rejectCall });
      worker.postMessage({ id, ...request });
    });
  }

  const runnerIn = (tx: number | undefined): SqlRunner => ({
    async query(sql, params = []) {
      const reply = await send({ op: 'query', sql, params, ...(tx === undefined ? {} : { tx }) });
      return reply.rows ?? [];
    },
    async exec(sql) {
      await send({ op: 'exec', sql, ...(tx === undefined ? {} : { tx }) });
    },
  });

  return {
    ...runnerIn(undefined),
    async transaction(fn) {
      const { tx } = await send({ op: 'begin' });
      if (tx === undefined) throw new Error('store: the database worker opened no transaction');
      let result;
      try {
        result = await fn(runnerIn(tx));
      } catch (err) {
        await send({ op: 'rollback', tx });
        throw err;
      }
      await send({ op: 'commit', tx });
      return result;
    },
    async close() {
      if (!exited) await send({ op: 'close' });
      await worker.terminate();
    },
  };
}

/**
 * Opens (and migrates) a PGlite store.
 * @example const store = await createPgliteStore({ dataDir: '.data/gateway' });
 */
export async function createPgliteStore(options: PgliteStoreOptions = {}): Promise<Store> {
  const storeOptions = { migrate: options.migrate };
  if (options.pglite !== undefined) {
    return openSqlStore(pgliteDriver(options.pglite, { owned: false }), storeOptions);
  }
  if (options.dataDir === undefined) {
    return openSqlStore(await pgliteWorkerDriver(undefined), {
      ...storeOptions,
      singleWriter: true,
    });
  }
  const dataDir = resolve(options.dataDir);
  const release = await lockDataDir(dataDir);
  let driver: SqlDriver;
  try {
    driver = await pgliteWorkerDriver(dataDir);
  } catch (err) {
    await release();
    throw err;
  }
  // The lock makes this process the directory's only writer (a tool that
  // only reads does not write at all).
  return openSqlStore(driver, {
    ...storeOptions,
    singleWriter: options.migrate !== false,
    onClose: release,
  });
}

const LOCK_FILE = 'tessera.lock';

/** Data directories this process holds open, so a lock naming our own pid can be told apart from a stale one. */
const heldHere = new Set<string>();

/**
 * Takes `<dataDir>/tessera.lock` (PostgreSQL ignores files it does not know
 * there). It tells processes on one host apart; a data directory on a volume
 * shared between hosts or containers is not supported. Returns the release
 * function.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const lockFile = join(dataDir, LOCK_FILE);
  if (heldHere.has(dataDir)) throw dataDirInUse(dataDir, process.pid);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      heldHere.add(dataDir);
      return async () => {
        heldHere.delete(dataDir);
        await rm(lockFile, { force: true });
      };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const owner = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
    // Our own pid here means an earlier run of this process image (a container
    // restarted with the same pid), since heldHere says we do not hold it.
    if (Number.isSafeInteger(owner) && owner !== process.pid && isRunning(owner)) {
      throw dataDirInUse(dataDir, owner);
    }
    await rm(lockFile, { force: true });
  }
  throw new Error(`store: could not lock ${dataDir}; another process is starting on it`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

/** Another process (a running gateway) holds the data directory; tools tell the operator to stop it. */
export class DataDirInUseError extends Error {
  readonly dataDir: string;
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(
      `store: data directory ${dataDir} is in use by process ${pid}; stop it first, or use PostgreSQL for several gateway processes`,
    );
    this.name = 'DataDirInUseError';
    this.dataDir = dataDir;
    this.pid = pid;
  }
}

function dataDirInUse(dataDir: string, pid: number): Error {
  return new DataDirInUseError(dataDir, pid);
}
