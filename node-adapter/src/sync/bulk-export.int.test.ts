// Bulk Data sync: kick-off, polling that honours Retry-After, downloads, and
// ingest into DuckDB, whose engine then answers as the oracle does on the
// same resources (query-language example 3 on the Synthea fixture).
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProblemError, canonicalQuery } from '@tessera/schemas';
import { createEngine, duckDbDialect } from '../engine/index.ts';
import { evaluateOracle } from '../../test/oracle/oracle.ts';
import type { FhirResource } from '../../test/oracle/read-fhir.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { recordKey } from '../store/record-key.ts';
import { fakeServers, sendJson } from '../../test/support/fake-fhir-server.ts';
import type { FakeHandler } from '../../test/support/fake-fhir-server.ts';
import { downloadBulkExport, readManifest, syncFromBulkExport } from './bulk-export.ts';

const SECRET = new TextEncoder().encode('bulk-sync-test-record-key');
const SYNTHEA = join(import.meta.dirname, '../../../../shared/fixtures/synthea/10-patients');
const FILES = {
  Patient: readFileSync(join(SYNTHEA, 'Patient.000.ndjson'), 'utf8'),
  Condition: readFileSync(join(SYNTHEA, 'Condition.000.ndjson'), 'utf8'),
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

const fake = fakeServers();

async function tempDb(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-sync-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'node.duckdb');
}

/** A Bulk Data server: one export, `pending` polls answered 202 before the manifest. */
function bulkServer(pending: number, manifest: (origin: string) => unknown): FakeHandler {
  let polls = 0;
  return (req, res, base) => {
    const origin = new URL(base).origin;
    const path = new URL(req.url, origin).pathname;
    if (path === '/fhir/$export') {
      res.writeHead(202, { 'content-location': `${origin}/fhir/bulkstatus/1` });
      return res.end();
    }
    if (path === '/fhir/bulkstatus/1' && req.method === 'DELETE') {
      res.writeHead(202);
      return res.end();
    }
    if (path === '/fhir/bulkstatus/1') {
      polls += 1;
      if (polls <= pending) {
        res.writeHead(202, { 'retry-after': '7', 'x-progress': `${polls * 10}%` });
        return res.end();
      }
      return sendJson(res, 200, manifest(origin));
    }
    const file = /^\/files\/(\w+)\.ndjson$/.exec(path)?.[1] as keyof typeof FILES | undefined;
    if (file !== undefined && FILES[file] !== undefined) {
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
      return res.end(FILES[file]);
    }
    return sendJson(res, 404, { resourceType: 'OperationOutcome' });
  };
}

const MANIFEST = (origin: string) => ({
  transactionTime: '2026-11-20T10:00:00Z',
  request: `${origin}/fhir/$export`,
  requiresAccessToken: true,
  output: [
    { type: 'Patient', url: `${origin}/files/Patient.ndjson` },
    { type: 'Condition', url: `${origin}/files/Condition.ndjson` },
    { type: 'AllergyIntolerance', url: `${origin}/files/AllergyIntolerance.ndjson` },
  ],
  error: [{ type: 'OperationOutcome', url: `${origin}/files/errors.ndjson` }],
});

describe('syncFromBulkExport', () => {
  it('exports, waits as asked, downloads with credentials and loads the store', async () => {
    const server = await fake(bulkServer(2, MANIFEST));
    const dbPath = await tempDb();
    const waits: number[] = [];
    const report = await syncFromBulkExport({
      baseUrl: server.baseUrl,
      auth: { kind: 'bearer', token: 'node-token' },
      recordKeySecret: SECRET,
      dbPath,
      types: ['Patient', 'Condition', 'Encounter'],
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    expect(waits).toEqual([7000, 7000]);
    expect(report).toMatchObject({
      transactionTime: '2026-11-20T10:00:00Z',
      files: 2,
      errorFiles: 1,
    });
    expect(report.ingest.resources.Patient?.loaded).toBe(13);

    const [kickOff, ...rest] = server.requests;
    expect(decodeURIComponent(kickOff!.url)).toBe(
      '/fhir/$export?_type=Patient,Condition,Encounter',
    );
    expect(kickOff!.headers.prefer).toBe('respond-async');
    expect(rest.every((r) => r.headers.authorization === 'Bearer node-token')).toBe(true);
    expect(rest.at(-1)).toMatchObject({ method: 'DELETE', url: '/fhir/bulkstatus/1' });
    expect(rest.some((r) => r.url.includes('AllergyIntolerance'))).toBe(false);
    // The downloads are gone; only the store is left.
    expect(
      (await readdir(join(dbPath, '..'))).filter((f) => f.startsWith('.tessera-export-')),
    ).toEqual([]);

    // The synced store answers query-language example 3 as the oracle does.
    const resources = [FILES.Patient, FILES.Condition]
      .flatMap((text) => text.split('\n'))
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as FhirResource);
    const query = {
      ...canonicalQuery({
        version: 1,
        cohort: { condition: { code: [{ system: 'http://snomed.info/sct', code: '15777000' }] } },
        stratify: ['gender'],
      }),
      asOf: '2026-01-01',
    };
    const store = await openStore(dbPath, { readOnly: true });
    try {
      const raw = await createEngine({
        runner: createDuckDbRunner(store.connection),
        dialect: duckDbDialect,
      }).evaluate(query);
      expect(raw.total.count).toBe(5);
      const oracle = evaluateOracle(resources, query, { recordKey: (id) => recordKey(SECRET, id) });
      expect(raw.total).toEqual(oracle.total);
      expect(raw.strata).toEqual(oracle.strata);
    } finally {
      store.close();
    }
  });

  it('never sends credentials to a file on another host', async () => {
    const server = await fake(
      bulkServer(0, (origin) => ({
        ...MANIFEST(origin),
        output: [{ type: 'Patient', url: 'https://files.elsewhere.example/Patient.ndjson' }],
      })),
    );
    const err = await syncFromBulkExport({
      baseUrl: server.baseUrl,
      auth: { kind: 'bearer', token: 'node-token' },
      recordKeySecret: SECRET,
      dbPath: await tempDb(),
      types: ['Patient'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).code).toBe('ERR_SOURCE_INVALID');
    // The export is released all the same.
    expect(server.requests.at(-1)?.method).toBe('DELETE');
  });

  it('cancels an export that takes too long', async () => {
    const server = await fake(bulkServer(1000, MANIFEST));
    let clock = 0;
    const err = await syncFromBulkExport({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      recordKeySecret: SECRET,
      dbPath: await tempDb(),
      maxWaitMs: 20_000,
      now: () => clock,
      sleep: (ms) => {
        clock += ms;
        return Promise.resolve();
      },
    }).catch((e: unknown) => e);
    expect((err as ProblemError).code).toBe('ERR_SOURCE_UNAVAILABLE');
    expect(
      server.requests.filter((r) => r.method === 'GET' && r.url.includes('bulkstatus')),
    ).toHaveLength(4);
    expect(server.requests.at(-1)?.method).toBe('DELETE');
  });

  it('a server without asynchronous export is invalid', async () => {
    const server = await fake((_req, res) => sendJson(res, 200, { resourceType: 'Bundle' }));
    const err = await syncFromBulkExport({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      recordKeySecret: SECRET,
      dbPath: await tempDb(),
    }).catch((e: unknown) => e);
    expect((err as ProblemError).code).toBe('ERR_SOURCE_INVALID');
  });

  it('asks _since an instant, and downloads the deleted resources’ Bundles apart', async () => {
    const deletedLine = JSON.stringify({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'DELETE', url: 'Patient/gone' } }],
    });
    const server = await fake((req, res, base) => {
      const origin = new URL(base).origin;
      if (req.url === '/files/deleted.ndjson') {
        res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
        return res.end(`${deletedLine}\n`);
      }
      return bulkServer(0, () => ({
        ...MANIFEST(origin),
        output: [{ type: 'Patient', url: `${origin}/files/Patient.ndjson` }],
        deleted: [{ type: 'Bundle', url: `${origin}/files/deleted.ndjson` }],
      }))(req, res, base);
    });
    const root = join(await tempDb(), '..');
    const outDir = join(root, 'out');
    const deletedDir = join(root, 'deleted');
    await mkdir(outDir);
    await mkdir(deletedDir);
    const download = await downloadBulkExport({
      baseUrl: server.baseUrl,
      auth: { kind: 'bearer', token: 'node-token' },
      outDir,
      deletedDir,
      since: '2026-11-19T10:00:00.123Z',
      types: ['Patient'],
    });
    expect(download).toMatchObject({ files: 1, deletedFiles: 1 });
    const kickOff = new URL(server.requests[0]!.url, server.origin);
    expect(kickOff.searchParams.get('_since')).toBe('2026-11-19T10:00:00.123Z');
    expect(await readdir(outDir)).toEqual(['Patient.000.ndjson']);
    expect(readFileSync(join(deletedDir, 'Bundle.000.ndjson'), 'utf8')).toBe(`${deletedLine}\n`);
    expect(server.requests.filter((r) => r.url === '/files/deleted.ndjson')).toHaveLength(1);

    // Without _since, a manifest's deleted list is not fetched; a malformed since is refused.
    const full = await downloadBulkExport({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      outDir: join(root, 'out'),
      types: ['Patient'],
    });
    expect(full.deletedFiles).toBe(0);
    expect(server.requests.filter((r) => r.url === '/files/deleted.ndjson')).toHaveLength(1);
    const err = await downloadBulkExport({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      outDir,
      deletedDir,
      since: 'yesterday&_type=Basic',
    }).catch((e: unknown) => e);
    expect((err as ProblemError).code).toBe('ERR_SOURCE_CONFIG');
  });

  it('reads only the requested types from a manifest', () => {
    expect(readManifest(MANIFEST('https://f'), new Set(['Condition'])).output).toEqual([
      { type: 'Condition', url: 'https://f/files/Condition.ndjson' },
    ]);
    expect(() => readManifest({ output: 'x' }, new Set())).toThrow(ProblemError);
  });
});
