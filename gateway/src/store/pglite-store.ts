// The default store: PostgreSQL compiled to WebAssembly (PGlite), persisted
// in a data directory. One process owns a data directory at a time (PGlite
// has no locking of its own and two writers would corrupt it), so opening
// takes a lock file that names the owning process; a lock left by a process
// that no longer runs is taken over.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
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
    return openSqlStore(pgliteDriver(await PGlite.create(), { owned: true }), storeOptions);
  }
  const dataDir = resolve(options.dataDir);
  const release = await lockDataDir(dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (err) {
    await release();
    throw err;
  }
  return openSqlStore(pgliteDriver(db, { owned: true }), { ...storeOptions, onClose: release });
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

function dataDirInUse(dataDir: string, pid: number): Error {
  return new Error(
    `store: data directory ${dataDir} is in use by process ${pid}; stop it first, or use PostgreSQL for several gateway processes`,
  );
}
