// A vitest suite on the PostgreSQL server, a fresh schema per test, for the
// tests of tools that take a database URL. As the store's own suite: skipped
// with its reason when PostgreSQL does not answer, a failure under CI=true.
import { afterAll, afterEach, beforeAll, beforeEach, describe } from 'vitest';
import { testBackends, type TestDatabase } from './test-databases.ts';

const postgres = (await testBackends()).find((b) => b.backend.name === 'postgres')!;

/**
 * Registers `body` as a suite named `name`; `database()` is the running test's database.
 * @example describeOnPostgres('audit verify --database-url', (database) => { it('…', async () => { database().databaseUrl … }); });
 */
export function describeOnPostgres(
  name: string,
  body: (database: () => TestDatabase) => void,
): void {
  describe.skipIf(postgres.skip !== undefined)(postgres.skip ?? name, () => {
    let db: TestDatabase | undefined;
    beforeAll(() => {
      if (postgres.backend.unavailable !== undefined) {
        throw new Error(`PostgreSQL is required under CI=true: ${postgres.backend.unavailable}`);
      }
    });
    beforeEach(async () => {
      db = await postgres.backend.fresh();
    });
    afterEach(async () => {
      await db?.dispose();
      db = undefined;
    });
    afterAll(async () => {
      await postgres.backend.teardown();
    });
    body(() => {
      if (db === undefined) throw new Error('no database outside a test');
      return db;
    });
  });
}
