import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { runIngest } from './ingest-command.ts';
import type { CommandIo } from './ingest-command.ts';

const SYNTHEA = fileURLToPath(
  new URL('../../../../shared/fixtures/synthea/10-patients', import.meta.url),
);
const CORPUS = fileURLToPath(new URL('../../test/fixtures/fhir-corpus/', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function captureIo(isTTY = false): CommandIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text), isTTY, columns: 80 },
    out: () => out,
    err: () => err,
  };
}

describe('tessera-node ingest', () => {
  test('--help prints the usage; missing options are usage errors', async () => {
    const help = captureIo();
    expect(await runIngest(['--help'], help)).toBe(0);
    expect(help.out()).toContain('Usage: tessera-node ingest');
    const noDb = captureIo();
    expect(await runIngest(['--source', SYNTHEA], noDb)).toBe(2);
    expect(noDb.err()).toContain('--db is required');
    const badShare = captureIo();
    expect(
      await runIngest(['--source', SYNTHEA, '--db', 'x.duckdb', '--max-bad-share', '2'], badShare),
    ).toBe(2);
    expect(await runIngest(['--bogus'], captureIo())).toBe(2);
  });

  test('loads the sources, creates a 0600 record key next to the store, and prints one line per type', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ingest-cli-'));
    dirs.push(dir);
    const db = join(dir, 'node.duckdb');
    const io = captureIo();
    expect(await runIngest(['--source', SYNTHEA, '--db', db], io)).toBe(0);
    const key = await readFile(`${db}.key`);
    expect(key).toHaveLength(32);
    expect((await stat(`${db}.key`)).mode & 0o777).toBe(0o600);
    expect(io.out()).toContain('Patient: 13 loaded, 0 skipped, 0 malformed');
    expect(io.out()).toContain(
      'Practitioner: 0 loaded, 43 skipped (43 resource type not read), 0 malformed',
    );
    expect(io.err()).toBe('');

    const again = captureIo(true);
    expect(await runIngest(['--source', SYNTHEA, '--db', db], again)).toBe(0);
    expect(await readFile(`${db}.key`)).toEqual(key);
    expect(again.out()).toContain('(unchanged)');
    expect(again.err()).toContain('\r[');
  });

  test('published examples naming a patient they lack: the loss printed as resources and rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ingest-cli-'));
    dirs.push(dir);
    const io = captureIo();
    const source = join(CORPUS, 'mii-medikation');
    expect(await runIngest(['--source', source, '--db', join(dir, 'x.duckdb')], io)).toBe(0);
    expect(io.out()).toContain('MedicationRequest: 1 loaded, 0 skipped, 0 malformed');
    expect(io.out()).toContain('dropped 1 resource (4 event rows) of patients not in the sources');
  });

  test('too many malformed lines: exit 1 with file:line reasons', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ingest-cli-'));
    dirs.push(dir);
    const source = join(dir, 'Patient.000.ndjson');
    await writeFile(source, '{"resourceType":"Patient","id":"p1"}\n{broken\n');
    const keyFile = join(dir, 'secret.key');
    await writeFile(keyFile, Buffer.alloc(32, 5));
    const io = captureIo();
    expect(
      await runIngest(
        ['--source', source, '--db', join(dir, 'x.duckdb'), '--record-key', keyFile],
        io,
      ),
    ).toBe(1);
    expect(io.err()).toContain('Too many malformed lines');
    expect(io.err()).toContain(`${source}:2: invalid JSON`);
    const tolerant = captureIo();
    const args = [
      '--source',
      source,
      '--db',
      join(dir, 'x.duckdb'),
      '--record-key',
      keyFile,
      '--max-bad-share',
      '0.5',
    ];
    expect(await runIngest(args, tolerant)).toBe(0);
    expect(tolerant.err()).toContain('1 malformed resources skipped');
  });

  test('a load that lost its patients: exit 1 with the numbers, and skipped events by reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ingest-cli-'));
    dirs.push(dir);
    const source = join(dir, 'Observation.000.ndjson');
    const observation = (id: string, subject: unknown) =>
      JSON.stringify({ resourceType: 'Observation', id, status: 'final', subject });
    await writeFile(
      source,
      [
        observation('o1', { reference: 'Patient/p1' }),
        observation('o2', { reference: 'Patient/p2' }),
        observation('o3', { reference: 'Group/g1' }),
      ].join('\n'),
    );
    const io = captureIo();
    expect(await runIngest(['--source', source, '--db', join(dir, 'x.duckdb')], io)).toBe(1);
    expect(io.err()).toContain(
      'The sources lack the patients of their events: the store was left unchanged: no patient would be stored, of 3 resources read (0 event rows)',
    );
    await writeFile(
      join(dir, 'Patient.000.ndjson'),
      '{"resourceType":"Patient","id":"p1"}\n{"resourceType":"Patient","id":"p2"}\n',
    );
    const loaded = captureIo();
    expect(await runIngest(['--source', dir, '--db', join(dir, 'x.duckdb')], loaded)).toBe(0);
    expect(loaded.out()).toContain(
      'Observation: 2 loaded, 1 skipped (1 subject not a Patient), 0 malformed',
    );
  });

  test('--config applies the node configuration reading settings; a contradictory alias fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ingest-cli-'));
    dirs.push(dir);
    const source = join(dir, 'data.ndjson');
    await writeFile(
      source,
      [
        JSON.stringify({ resourceType: 'Patient', id: 'p1' }),
        JSON.stringify({
          resourceType: 'Condition',
          id: 'c1',
          subject: { reference: 'Patient/p1' },
          verificationStatus: { coding: [{ code: 'provisional' }] },
        }),
      ].join('\n'),
    );
    const config = (reading: object) =>
      JSON.stringify({
        nodeId: 'test',
        source: { kind: 'duckdb', path: 'x.duckdb' },
        gateway: { issuer: 'https://gateway.example' },
        projects: [],
        reading,
      });
    await writeFile(join(dir, 'node.json'), config({ unconfirmedConditions: 'exclude' }));
    const io = captureIo();
    const args = ['--source', source, '--db', join(dir, 'x.duckdb'), '--config'];
    expect(await runIngest([...args, join(dir, 'node.json')], io)).toBe(0);
    expect(io.out()).toContain(
      'Condition: 0 loaded, 1 skipped (1 unconfirmed (node policy)), 0 malformed',
    );
    const dimdiOps = 'http://fhir.de/CodeSystem/dimdi/ops';
    await writeFile(
      join(dir, 'bad.json'),
      config({ codeSystemAliases: { [dimdiOps]: 'http://example.org/ops' } }),
    );
    const bad = captureIo();
    expect(await runIngest([...args, join(dir, 'bad.json')], bad)).toBe(1);
    expect(bad.err()).toContain(
      `The reading settings (code system aliases) are not usable: code system alias ${dimdiOps}: already stands for http://fhir.de/CodeSystem/bfarm/ops`,
    );
  });
});
