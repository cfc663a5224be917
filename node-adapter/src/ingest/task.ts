// One unit of ingest work, the same whether it runs in a worker thread or
// inline: read a file or a segment of one, flatten each resource and write
// its rows to the staging CSV sink. Counts and malformed lines come back as
// data; line numbers are relative to the segment and made absolute by the
// caller, which knows how many lines earlier segments had.
import { recordKey } from '../store/record-key.ts';
import {
  patientRow,
  writeConsent,
  writeDisplays,
  writeEvent,
  writeMedication,
} from './csv-rows.ts';
import type { RowSink } from './csv-rows.ts';
import { isObject, stringOf } from './fhir.ts';
import type { BundleIndex, BundleTarget } from './fhir.ts';
import { flattenResource, USED_RESOURCE_TYPES } from './flatten.ts';
import type { FlattenContext } from './flatten.ts';
import { readNdjsonLines, readWholeFile } from './sources.ts';
import type { ReadTarget } from './sources.ts';

export interface IngestTask {
  readonly format: 'ndjson' | 'bundle';
  readonly target: ReadTarget;
  readonly fileIndex: number;
  readonly segment: number;
}

export interface ResourceTypeCounts {
  /** Flattened into the store (events of unknown patients are dropped later). */
  loaded: number;
  /** Not used by the store, or excluded by its rules (entered-in-error, refuted). */
  skipped: number;
  malformed: number;
}

export interface BadLine {
  /** Line in the segment (NDJSON) or entry number (Bundle), 1-based. */
  readonly line: number;
  readonly reason: string;
}

export interface TaskResult {
  readonly fileIndex: number;
  readonly segment: number;
  /** Physical lines in the segment (blank ones included); Bundles: 1. */
  readonly lines: number;
  /** Resources read: non-blank lines or Bundle entries. */
  readonly total: number;
  /** CONTENT_DIGEST (hex) of the segment's (decompressed) bytes. */
  readonly digest: string;
  readonly counts: Record<string, ResourceTypeCounts>;
  /** The first MAX_BAD_LINES malformed lines of the segment. */
  readonly badLines: BadLine[];
  readonly badCount: number;
}

export const MAX_BAD_LINES = 100;
const BUNDLE_TYPES = new Set(['collection', 'transaction', 'batch', 'searchset']);
const RESOURCE_TYPE_PREFIX = /^\s*\{\s*"resourceType"\s*:\s*"([A-Za-z]+)"/;

/** Bytes and lines read since the last report. */
export type ProgressReport = (bytes: number, lines: number) => void;

/**
 * Runs one task, writing rows to `sink`.
 * @throws ProblemError ERR_INGEST_SOURCE_UNREADABLE when the file cannot be read.
 */
export async function runTask(
  task: IngestTask,
  secret: Uint8Array,
  sink: RowSink,
  progress: ProgressReport,
): Promise<TaskResult> {
  const state = new TaskState(task, secret, sink);
  let digest: Buffer;
  let reportedBytes = 0;
  let reportedLines = 0;
  const report = (rawBytes: number): void => {
    progress(rawBytes - reportedBytes, state.lines - reportedLines);
    reportedBytes = rawBytes;
    reportedLines = state.lines;
  };
  if (task.format === 'ndjson') {
    digest = await readNdjsonLines(task.target, (line, n) => state.ndjsonLine(line, n), report);
  } else {
    const whole = await readWholeFile(task.target);
    digest = whole.digest;
    state.bundle(whole.text);
    report(whole.rawBytes);
  }
  return state.result(digest.toString('hex'));
}

class TaskState {
  lines = 0;
  total = 0;
  badCount = 0;
  readonly badLines: BadLine[] = [];
  readonly counts: Record<string, ResourceTypeCounts> = {};
  readonly #task: IngestTask;
  readonly #secret: Uint8Array;
  readonly #sink: RowSink;
  /** (patient, system, code, display) already written by this task. */
  readonly #displaysWritten = new Set<string>();
  readonly #at: { fileIndex: number; segment: number; line: number };

  constructor(task: IngestTask, secret: Uint8Array, sink: RowSink) {
    this.#task = task;
    this.#secret = secret;
    this.#sink = sink;
    this.#at = { fileIndex: task.fileIndex, segment: task.segment, line: 0 };
  }

  result(digest: string): TaskResult {
    return {
      fileIndex: this.#task.fileIndex,
      segment: this.#task.segment,
      lines: this.lines,
      total: this.total,
      digest,
      counts: this.counts,
      badLines: this.badLines,
      badCount: this.badCount,
    };
  }

  ndjsonLine(line: string, lineNumber: number): void {
    this.lines = lineNumber;
    if (line.length === 0 || (line.charCodeAt(0) !== 123 && line.trim().length === 0)) return;
    this.total += 1;
    // Lines of unused types are counted without being parsed: they are most
    // of a full export (Claim, ExplanationOfBenefit, ...) and the store keeps
    // nothing of them.
    const sniffed = RESOURCE_TYPE_PREFIX.exec(line)?.[1];
    if (sniffed !== undefined && !USED_RESOURCE_TYPES.has(sniffed)) {
      this.#count(sniffed).skipped += 1;
      return;
    }
    let resource: unknown;
    try {
      resource = JSON.parse(line);
    } catch {
      this.#bad(lineNumber, 'invalid JSON', sniffed);
      return;
    }
    this.#resource(resource, {}, lineNumber);
  }

  bundle(text: string): void {
    this.lines = 1;
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      this.total += 1;
      this.#bad(1, 'invalid JSON', undefined);
      return;
    }
    if (!isObject(document) || document.resourceType !== 'Bundle') {
      // A single resource in a .json file reads as a one-entry source.
      this.total += 1;
      this.#resource(document, {}, 1);
      return;
    }
    if (typeof document.type !== 'string' || !BUNDLE_TYPES.has(document.type)) {
      this.total += 1;
      this.#bad(1, 'unsupported Bundle type', 'Bundle');
      return;
    }
    const entries = Array.isArray(document.entry) ? document.entry : [];
    const index = bundleIndex(entries);
    entries.forEach((entry, i) => {
      if (!isObject(entry) || entry.resource === undefined) return;
      if (isObject(entry.request) && entry.request.method === 'DELETE') return;
      this.total += 1;
      const fallbackId = uuidOf(entry.fullUrl);
      const context = fallbackId === undefined ? { bundle: index } : { bundle: index, fallbackId };
      this.#resource(entry.resource, context, i + 1);
    });
  }

  #resource(resource: unknown, context: FlattenContext, line: number): void {
    const flat = flattenResource(resource, context);
    const type = (isObject(resource) ? stringOf(resource.resourceType) : undefined) ?? '';
    const at = this.#at;
    at.line = line;
    switch (flat.type) {
      case 'patient':
        this.#sink.row('patients', patientRow(flat, recordKey(this.#secret, flat.id), at));
        break;
      case 'event':
        writeEvent(flat, type, at, this.#sink);
        writeDisplays(flat, this.#displaysWritten, this.#sink);
        break;
      case 'medication':
        writeMedication(flat, this.#sink);
        break;
      case 'consent':
        writeConsent(flat, at, this.#sink);
        break;
      case 'dropped':
      case 'unused':
        this.#count(type).skipped += 1;
        return;
      case 'malformed':
        this.#bad(line, flat.reason, type);
        return;
    }
    this.#count(type).loaded += 1;
  }

  #count(type: string): ResourceTypeCounts {
    let counts = this.counts[type];
    if (counts === undefined) {
      counts = { loaded: 0, skipped: 0, malformed: 0 };
      this.counts[type] = counts;
    }
    return counts;
  }

  #bad(line: number, reason: string, type: string | undefined): void {
    this.badCount += 1;
    if (type !== undefined && type !== '') this.#count(type).malformed += 1;
    if (this.badLines.length < MAX_BAD_LINES) this.badLines.push({ line, reason });
  }
}

/** fullUrl -> (type, id) of each entry, so `urn:uuid:` references resolve to logical ids. */
export function bundleIndex(entries: readonly unknown[]): BundleIndex {
  const index = new Map<string, BundleTarget>();
  for (const entry of entries) {
    if (!isObject(entry) || !isObject(entry.resource)) continue;
    const fullUrl = stringOf(entry.fullUrl);
    const type = stringOf(entry.resource.resourceType);
    const id = stringOf(entry.resource.id) ?? uuidOf(fullUrl);
    if (fullUrl !== undefined && type !== undefined && id !== undefined) {
      index.set(fullUrl, { type, id });
    }
  }
  return index;
}

function uuidOf(fullUrl: unknown): string | undefined {
  return typeof fullUrl === 'string' && fullUrl.startsWith('urn:uuid:')
    ? stringOf(fullUrl.slice(9))
    : undefined;
}

/** Adds one counts record into another. */
export function addCounts(
  into: Record<string, ResourceTypeCounts>,
  from: Record<string, ResourceTypeCounts>,
): void {
  for (const [type, c] of Object.entries(from)) {
    const target = (into[type] ??= { loaded: 0, skipped: 0, malformed: 0 });
    target.loaded += c.loaded;
    target.skipped += c.skipped;
    target.malformed += c.malformed;
  }
}
