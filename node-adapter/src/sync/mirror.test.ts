// The kept export of incremental refresh: a `_since` export merged into it
// replaces changed resources in place, appends new ones, drops deleted ones
// (unless the export itself still holds them), and copies untouched types.
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProblemError } from '@tessera/schemas';
import {
  buildMirror,
  createMirror,
  mergeMirror,
  mirrorFiles,
  readDeletions,
  readMirrorState,
  replaceMirror,
  writeMirrorState,
} from './mirror.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-mirror-'));
  dirs.push(dir);
  return dir;
}

const patient = (id: string, gender: string): string =>
  JSON.stringify({ resourceType: 'Patient', id, gender });

async function write(dir: string, name: string, lines: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), lines.map((l) => `${l}\n`).join(''));
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
}

const deleteBundle = (...urls: string[]): string =>
  JSON.stringify({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: urls.map((url) => ({ request: { method: 'DELETE', url } })),
  });

describe('kept export', () => {
  it('is built from a full export as one owner-only file per type, in export order', async () => {
    const root = await temp();
    const download = join(root, 'download');
    await write(download, 'Patient.000.ndjson', [patient('a', 'female'), '', patient('b', 'male')]);
    await write(download, 'Patient.001.ndjson', [patient('c', 'female')]);
    const kept = join(root, 'kept');
    await createMirror(kept);
    await buildMirror(download, kept, ['Patient', 'Condition']);
    const file = join(mirrorFiles(kept), 'Patient.ndjson');
    expect(await lines(file)).toEqual([
      patient('a', 'female'),
      patient('b', 'male'),
      patient('c', 'female'),
    ]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(kept)).mode & 0o777).toBe(0o700);
  });

  it('merges a _since export: changed in place, new appended, deleted dropped', async () => {
    const root = await temp();
    const previous = join(root, 'previous');
    await write(mirrorFiles(previous), 'Patient.ndjson', [
      patient('a', 'female'),
      patient('b', 'male'),
      patient('c', 'female'),
      patient('d', 'male'),
    ]);
    await write(mirrorFiles(previous), 'Condition.ndjson', [
      '{"resourceType":"Condition","id":"x"}',
    ]);
    const delta = join(root, 'delta');
    await write(delta, 'Patient.000.ndjson', [patient('b', 'female'), patient('e', 'male')]);
    // Deleted, and back again by the time the export ran: the export wins.
    await write(delta, 'Patient.001.ndjson', [patient('d', 'other')]);
    const deletedDir = join(root, 'deleted');
    await write(deletedDir, 'Bundle.000.ndjson', [
      deleteBundle('Patient/c', 'https://fhir.example/fhir/Patient/d'),
      deleteBundle('Encounter/zz'),
    ]);
    const deleted = await readDeletions(deletedDir, ['Patient', 'Condition']);
    expect(deleted).toEqual(new Map([['Patient', new Set(['c', 'd'])]]));
    const into = join(root, 'into');
    await createMirror(into);
    const report = await mergeMirror({
      previous,
      delta,
      deleted,
      into,
      types: ['Patient', 'Condition', 'Encounter'],
    });
    expect(report).toEqual({ resources: 3, deleted: 1 });
    expect(await lines(join(mirrorFiles(into), 'Patient.ndjson'))).toEqual([
      patient('a', 'female'),
      patient('b', 'female'),
      patient('d', 'other'),
      patient('e', 'male'),
    ]);
    expect(await lines(join(mirrorFiles(into), 'Condition.ndjson'))).toEqual([
      '{"resourceType":"Condition","id":"x"}',
    ]);
  });

  it('refuses a list of deletions it cannot read', async () => {
    const root = await temp();
    for (const bad of [
      'not json',
      '{"resourceType":"Bundle","entry":[{"request":{"method":"PUT","url":"Patient/a"}}]}',
      '{"resourceType":"Bundle","entry":[{"request":{"method":"DELETE","url":"Patient/a b"}}]}',
    ]) {
      await write(root, 'Bundle.000.ndjson', [bad]);
      const err = await readDeletions(root, ['Patient']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProblemError);
      expect((err as ProblemError).code).toBe('ERR_SOURCE_INVALID');
    }
  });

  it('keeps its state with the files and is replaced as a whole', async () => {
    const root = await temp();
    const target = join(root, 'store.duckdb.export');
    expect(await readMirrorState(target)).toBeUndefined();
    const fresh = join(root, 'fresh');
    await createMirror(fresh);
    const state = {
      format: 1,
      baseUrl: 'https://fhir.example/fhir',
      types: ['Patient'],
      transactionTime: '2026-11-20T10:00:00Z',
      fullAt: '2026-11-20T09:59:58.000Z',
      dataVersion: '2026-11-20T10:00:05Z#abcdef012345',
    } as const;
    await writeMirrorState(fresh, state);
    await replaceMirror(fresh, target);
    expect(await readMirrorState(target)).toEqual(state);
    const again = join(root, 'again');
    await createMirror(again);
    await writeMirrorState(again, { ...state, transactionTime: '2026-11-21T10:00:00Z' });
    await replaceMirror(again, target);
    expect((await readMirrorState(target))?.transactionTime).toBe('2026-11-21T10:00:00Z');
    await writeFile(join(target, 'state.json'), '{"format":2}');
    expect(await readMirrorState(target)).toBeUndefined();
  });
});
