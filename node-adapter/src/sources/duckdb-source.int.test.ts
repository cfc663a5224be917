// A store renamed over the source's path by another process (a sync run by
// the Helm chart's CronJob, or by hand) is picked up by the running node.
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { ingest } from '../ingest/ingest.ts';
import { openDuckDbSource } from './duckdb-source.ts';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/synthea/', import.meta.url));
const SECRET = new Uint8Array(32).fill(7);
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Resolves once `condition` holds, looking every few milliseconds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('switches to a store another process renamed over its path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-duckdb-source-'));
  dirs.push(dir);
  const path = join(dir, 'region.duckdb');
  const first = await ingest({
    sources: [join(FIXTURES, '10-patients')],
    dbPath: path,
    recordKeySecret: SECRET,
    workers: 0,
  });
  const next = join(dir, 'region.duckdb.next');
  const second = await ingest({
    sources: [join(FIXTURES, '100-patients')],
    dbPath: next,
    recordKeySecret: SECRET,
    workers: 0,
  });
  expect(second.dataVersion).not.toBe(first.dataVersion);

  const source = await openDuckDbSource(path, { checkEveryMs: 20 });
  try {
    expect(source.version).toBe(first.dataVersion);
    await rename(next, path);
    await until(() => source.version === second.dataVersion);
    expect(await source.readiness()).toMatchObject({
      ready: true,
      dataVersion: second.dataVersion,
    });
    // The reload of a sync in this process, meeting the check, opens the same store.
    expect(await source.reload()).toBe(second.dataVersion);
  } finally {
    source.close();
  }
});
