// Bulk Data `$export` for the test FHIR server, as the Bulk Data Access IG
// (v2.0.0) has a server do it: a kick-off (`GET [base]/$export` or
// `[base]/Patient/$export`, with `Accept: application/fhir+json` and
// `Prefer: respond-async`) answered 202 with the status URL in
// Content-Location; status polls answered 202 with X-Progress and
// Retry-After while the job runs, then 200 with the manifest; NDJSON output
// files, one or more per type; DELETE on the status URL cancels the job or
// releases its files. The job reads the repository through its search API,
// page by page, as any other client would; `_since` keeps the resources whose
// meta.lastUpdated is at or after it, and adds the deletions since then.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import express from 'express';
import type { Request, Response } from 'express';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, ResourceType } from '@medplum/fhirtypes';
import { outcome, send } from './answers.ts';
import type { TestRepository } from './repository.ts';

export interface BulkExportOptions {
  /** Status polls answered 202 before a finished job's manifest (default 1). */
  readonly pollsBeforeReady?: number;
  /** Retry-After on a 202 status answer, in seconds (default 1). */
  readonly retryAfterSeconds?: number;
  /** Most resources per output file; a type with more gets several files (default 10,000). */
  readonly resourcesPerFile?: number;
  /** Resources read from the repository per search page (default 1000). */
  readonly pageSize?: number;
}

/** A failure to inject: every status poll, or every output file download, answers `status`. */
export interface BulkFault {
  readonly on: 'status' | 'output';
  readonly status: number;
}

export interface BulkExport {
  /** The kick-off, status and file routes, for the server's FHIR router. */
  readonly router: express.Router;
  /** Sets or clears an injected failure. */
  fault(fault: BulkFault | undefined): void;
  /** Jobs not yet deleted, running or finished. */
  readonly jobs: number;
  /** Cancels every job and removes every file. */
  close(): Promise<void>;
}

interface OutputFile {
  readonly type: string;
  readonly name: string;
  readonly path: string;
  count: number;
}

interface Job {
  readonly id: string;
  /** The kick-off request's full URL. */
  readonly request: string;
  readonly transactionTime: string;
  readonly types: readonly string[];
  readonly since: string | undefined;
  readonly dir: string;
  state: 'running' | 'done' | 'failed';
  cancelled: boolean;
  polls: number;
  progress: string;
  readonly output: OutputFile[];
  readonly deleted: OutputFile[];
  /** Settles when the job stops, whatever became of it. */
  finished: Promise<void>;
}

const NDJSON = 'application/fhir+ndjson';
const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const PATIENT_COMPARTMENT_EXCLUDES = new Set(['Medication']);

class KickOffRefused extends Error {}

function header(req: Request, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

interface ExportRequest {
  readonly types: readonly string[];
  readonly since: string | undefined;
}

/** The kick-off's parameters, or KickOffRefused for what the server does not do. */
function readKickOff(req: Request, exportable: readonly string[]): ExportRequest {
  if (!/application\/fhir\+json/i.test(header(req, 'accept'))) {
    throw new KickOffRefused('Accept must be application/fhir+json');
  }
  const prefer = header(req, 'prefer');
  if (!/(^|[;,\s])respond-async\b/.test(prefer)) {
    throw new KickOffRefused('Prefer: respond-async is required');
  }
  const lenient = /(^|[;,\s])handling=lenient\b/.test(prefer);
  const at = req.originalUrl.indexOf('?');
  const pairs = at < 0 ? [] : [...new URLSearchParams(req.originalUrl.slice(at + 1)).entries()];
  const asked: string[] = [];
  let since: string | undefined;
  for (const [key, value] of pairs) {
    switch (key) {
      case '_type':
        asked.push(...value.split(',').filter((t) => t !== ''));
        break;
      case '_since':
        if (since !== undefined || !INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
          throw new KickOffRefused('_since must be one FHIR instant');
        }
        since = value;
        break;
      case '_outputFormat':
        if (!OUTPUT_FORMATS.has(value)) throw new KickOffRefused('unsupported _outputFormat');
        break;
      default:
        if (!lenient) throw new KickOffRefused(`unsupported parameter: ${key}`);
    }
  }
  const unknown = asked.filter((t) => !exportable.includes(t));
  if (unknown.length > 0 && !lenient) {
    throw new KickOffRefused(`resource types not exported: ${unknown.join(',')}`);
  }
  const types = asked.length === 0 ? exportable : exportable.filter((t) => asked.includes(t));
  if (types.length === 0) throw new KickOffRefused('no resource type to export');
  return { types, since };
}

/**
 * Bulk Data export over `repo` for the types the server serves; URLs in
 * answers start at `baseUrl`.
 * @example const bulk = createBulkExport(repo, baseUrl, ['Patient'], { pollsBeforeReady: 2 }); fhirRouter.use(bulk.router);
 */
export function createBulkExport(
  repo: TestRepository,
  baseUrl: string,
  types: readonly string[],
  options: BulkExportOptions = {},
): BulkExport {
  const pollsBeforeReady = options.pollsBeforeReady ?? 1;
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const perFile = options.resourcesPerFile ?? 10_000;
  const pageSize = options.pageSize ?? 1000;
  if (!Number.isInteger(perFile) || perFile < 1 || !Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError('resourcesPerFile and pageSize must be positive integers');
  }
  const origin = new URL(baseUrl).origin;
  const jobs = new Map<string, Job>();
  let fault: BulkFault | undefined;
  let root: Promise<string> | undefined;

  async function writeLines(out: WriteStream, lines: readonly string[]): Promise<void> {
    if (lines.length > 0 && !out.write(`${lines.join('\n')}\n`)) await once(out, 'drain');
  }

  async function closeFile(out: WriteStream | undefined): Promise<void> {
    if (out === undefined) return;
    out.end();
    await once(out, 'close');
  }

  /** Writes one type's resources into files of at most `perFile` lines. */
  async function exportType(job: Job, type: string): Promise<void> {
    const from = job.since === undefined ? undefined : Date.parse(job.since);
    let file: OutputFile | undefined;
    let out: WriteStream | undefined;
    try {
      for (let offset = 0; !job.cancelled; offset += pageSize) {
        const search = parseSearchRequest(type as ResourceType);
        search.offset = offset;
        search.count = pageSize;
        const page = await repo.search(search);
        const resources = (page.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
        const kept =
          from === undefined
            ? resources
            : resources.filter((r) => Date.parse(r.meta?.lastUpdated ?? '') >= from);
        for (let i = 0; i < kept.length;) {
          if (file === undefined || file.count === perFile) {
            await closeFile(out);
            const name = `${type}.${job.output.filter((f) => f.type === type).length + 1}.ndjson`;
            file = { type, name, path: join(job.dir, name), count: 0 };
            job.output.push(file);
            out = createWriteStream(file.path);
          }
          const room = perFile - file.count;
          const lines = kept.slice(i, i + room).map((r) => JSON.stringify(r));
          await writeLines(out!, lines);
          file.count += lines.length;
          i += lines.length;
        }
        if (resources.length < pageSize) break;
        // Let polls and other requests in between pages.
        await setImmediate();
      }
    } finally {
      await closeFile(out);
    }
  }

  /** Deleted resources as Bulk Data asks: one transaction Bundle of DELETE entries per line. */
  async function exportDeletions(job: Job, since: string): Promise<void> {
    const deletions = repo.deletedSince(since, new Set(job.types));
    const name = 'deleted.1.ndjson';
    const file: OutputFile = { type: 'Bundle', name, path: join(job.dir, name), count: 0 };
    job.deleted.push(file);
    const out = createWriteStream(file.path);
    try {
      const lines = deletions.map((d) => {
        const bundle: Bundle = {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ request: { method: 'DELETE', url: `${d.resourceType}/${d.id}` } }],
        };
        return JSON.stringify(bundle);
      });
      await writeLines(out, lines);
      file.count = lines.length;
    } finally {
      await closeFile(out);
    }
  }

  async function run(job: Job): Promise<void> {
    try {
      for (const [i, type] of job.types.entries()) {
        if (job.cancelled) return;
        job.progress = `${i} of ${job.types.length} resource types exported`;
        await exportType(job, type);
      }
      if (job.since !== undefined && !job.cancelled) await exportDeletions(job, job.since);
      job.progress = `${job.types.length} of ${job.types.length} resource types exported`;
      job.state = 'done';
    } catch {
      job.state = 'failed';
    }
  }

  const kickOff =
    (exportable: readonly string[]) =>
    async (req: Request, res: Response): Promise<void> => {
      let asked: ExportRequest;
      try {
        asked = readKickOff(req, exportable);
      } catch (err) {
        if (!(err instanceof KickOffRefused)) throw err;
        send(res, 400, outcome('error', 'not-supported', err.message));
        return;
      }
      root ??= mkdtemp(join(tmpdir(), 'tessera-fhir-export-'));
      const id = randomUUID();
      const dir = join(await root, id);
      await mkdir(dir);
      const job: Job = {
        id,
        request: `${origin}${req.originalUrl}`,
        transactionTime: new Date().toISOString(),
        types: asked.types,
        since: asked.since,
        dir,
        state: 'running',
        cancelled: false,
        polls: 0,
        progress: `0 of ${asked.types.length} resource types exported`,
        output: [],
        deleted: [],
        finished: Promise.resolve(),
      };
      jobs.set(id, job);
      job.finished = run(job);
      res.status(202).set('content-location', `${baseUrl}/bulkstatus/${id}`).end();
    };

  function manifest(job: Job): Record<string, unknown> {
    const item = (f: OutputFile) => ({
      type: f.type,
      url: `${baseUrl}/bulkfiles/${job.id}/${f.name}`,
      count: f.count,
    });
    return {
      transactionTime: job.transactionTime,
      request: job.request,
      requiresAccessToken: false,
      output: job.output.filter((f) => f.count > 0).map(item),
      ...(job.since === undefined ? {} : { deleted: job.deleted.map(item) }),
      error: [],
    };
  }

  async function release(job: Job): Promise<void> {
    job.cancelled = true;
    jobs.delete(job.id);
    await job.finished;
    await rm(job.dir, { recursive: true, force: true });
  }

  const router = express.Router();
  router.get('/\\$export', kickOff(types));
  router.get(
    '/Patient/\\$export',
    kickOff(types.filter((t) => !PATIENT_COMPARTMENT_EXCLUDES.has(t))),
  );
  router.get('/bulkstatus/:id', (req, res) => {
    const job = jobs.get(req.params.id);
    if (job === undefined) return send(res, 404, outcome('error', 'not-found', 'no such export'));
    if (fault?.on === 'status') {
      return send(res, fault.status, outcome('error', 'exception', 'injected failure'));
    }
    if (job.state === 'failed') {
      return send(res, 500, outcome('error', 'exception', 'the export failed'));
    }
    job.polls += 1;
    if (job.state === 'running' || job.polls <= pollsBeforeReady) {
      res.status(202).set({ 'x-progress': job.progress, 'retry-after': retryAfter }).end();
      return;
    }
    res
      .status(200)
      .type('application/json')
      .send(JSON.stringify(manifest(job)));
  });
  router.delete('/bulkstatus/:id', async (req, res) => {
    const job = jobs.get(req.params.id);
    if (job === undefined) return send(res, 404, outcome('error', 'not-found', 'no such export'));
    await release(job);
    send(res, 202, outcome('information', 'informational', 'the export was deleted'));
  });
  router.get('/bulkfiles/:id/:name', async (req, res) => {
    const job = jobs.get(req.params.id);
    const file = [...(job?.output ?? []), ...(job?.deleted ?? [])].find(
      (f) => f.name === req.params.name,
    );
    if (job?.state !== 'done' || file === undefined) {
      return send(res, 404, outcome('error', 'not-found', 'no such file'));
    }
    if (fault?.on === 'output') {
      return send(res, fault.status, outcome('error', 'exception', 'injected failure'));
    }
    res.status(200).type(NDJSON);
    await pipeline(createReadStream(file.path), res).catch(() => res.destroy());
  });

  return {
    router,
    fault(next) {
      fault = next;
    },
    get jobs() {
      return jobs.size;
    },
    async close() {
      await Promise.all([...jobs.values()].map((job) => release(job)));
      if (root !== undefined) await rm(await root, { recursive: true, force: true });
    },
  };
}
