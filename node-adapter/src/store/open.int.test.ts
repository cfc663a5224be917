import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CODE_PATIENT_TABLES, EVENT_TABLES } from './layout.ts';
import { createDuckDbRunner, openStore } from './open.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A store path in a fresh temporary directory, removed after the tests. */
async function storePath(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
  dirs.push(dir);
  return join(dir, name);
}

describe('openStore', () => {
  test('a writable open creates every table of the layout; a read-only open cannot write', async () => {
    const path = await storePath('store.duckdb');
    const store = await openStore(path);
    const tables = await createDuckDbRunner(store.connection).all(
      'SELECT table_name FROM information_schema.tables ORDER BY table_name',
      [],
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      [
        'code_displays',
        'consents',
        'meta',
        'observation_value_codes',
        'patients',
        ...Object.values(EVENT_TABLES),
        ...Object.values(CODE_PATIENT_TABLES),
      ].sort(),
    );
    store.close();
    store.close();

    const readOnly = await openStore(path, { readOnly: true });
    await expect(readOnly.connection.run("INSERT INTO meta VALUES ('k', 'v')")).rejects.toThrow();
    readOnly.close();
  });
});

describe('a read-only open needs a store', () => {
  test('a missing store is refused in one line naming the path and the commands that make it', async () => {
    const path = await storePath('never-ingested.duckdb');
    const refusal = openStore(path, { readOnly: true });
    await expect(refusal).rejects.toMatchObject({ code: 'ERR_STORE_MISSING', status: 500 });
    const { message } = (await refusal.catch((err: unknown) => err)) as Error;
    expect(message).not.toContain('\n');
    expect(message).toBe(
      `${path} does not exist: create it with "tessera-node ingest --source <export> --db ${path}" or "tessera-node sync --config <file>"`,
    );
  });

  test('a path that is not a file is refused the same way', async () => {
    const path = await storePath('a-directory');
    await mkdir(path);
    await expect(openStore(path, { readOnly: true })).rejects.toMatchObject({
      code: 'ERR_STORE_MISSING',
      message: expect.stringContaining(`${path} is not a file:`),
    });
  });
});

describe('a read-only open checks the layout', () => {
  test('a store of another layout is refused at opening, naming the column', async () => {
    const path = await storePath('old.duckdb');
    const store = await openStore(path);
    // As an earlier version wrote it: the code index without record keys.
    const table = CODE_PATIENT_TABLES.condition;
    await store.connection.run(`ALTER TABLE ${table} DROP COLUMN record_key`);
    store.close();
    await expect(openStore(path, { readOnly: true })).rejects.toMatchObject({
      code: 'ERR_STORE_LAYOUT',
      status: 500,
      message: `${path}: it has no column ${table}.record_key; ingest or sync it again`,
    });

    // As ingest wrote it before patients had a death date.
    const undated = await storePath('undated.duckdb');
    const before = await openStore(undated);
    await before.connection.run('ALTER TABLE patients DROP COLUMN deceased_date');
    before.close();
    await expect(openStore(undated, { readOnly: true })).rejects.toMatchObject({
      code: 'ERR_STORE_LAYOUT',
      message: expect.stringContaining('has no column patients.deceased_date'),
    });

    const retyped = await storePath('retyped.duckdb');
    const other = await openStore(retyped);
    await other.connection.run('ALTER TABLE patients ALTER COLUMN patient_key TYPE VARCHAR');
    other.close();
    await expect(openStore(retyped, { readOnly: true })).rejects.toMatchObject({
      code: 'ERR_STORE_LAYOUT',
      message: expect.stringContaining('has VARCHAR for the INTEGER column patients.patient_key'),
    });
  });
});

describe('createDuckDbRunner', () => {
  test('rows are plain values: safe integers as numbers, dates as YYYY-MM-DD, decimals as numbers', async () => {
    const store = await openStore(':memory:');
    try {
      const runner = createDuckDbRunner(store.connection);
      const [row] = await runner.all(
        `SELECT count(*) AS n, sum(x) AS total, CAST(? AS DATE) AS d, CAST(1.25 AS DECIMAL(5, 2)) AS dec,
                CAST(9007199254740993 AS BIGINT) AS big, [1, 2] AS list, {'a': DATE '2020-01-02'} AS s,
                ? AS text, CAST(? AS UBIGINT) AS key, NULL AS nothing
           FROM range(3) t(x)`,
        ['2024-02-29', 'hello', 4294967295],
      );
      expect(row).toEqual({
        n: 3,
        total: 3,
        d: '2024-02-29',
        dec: 1.25,
        big: 9007199254740993n,
        list: [1, 2],
        s: { a: '2020-01-02' },
        text: 'hello',
        key: 4294967295,
        nothing: null,
      });
    } finally {
      store.close();
    }
  });
});
