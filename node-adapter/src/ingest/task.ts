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
import { fullUrlBase, idFromFullUrl, isObject, stringOf } from './fhir.ts';
import type { BundleIndex, BundleTarget } from './fhir.ts';
import { flattenResource, USED_RESOURCE_TYPES } from './flatten.ts';
import type { FlattenContext, SkipReason } from './flatten.ts';
import { createCodeSystemAliases } from './reading.ts';
import type { FhirReading } from './reading.ts';
import { readNdjsonLines, readWholeFile } from './sources.ts';
import type { ReadTarget } from './sources.ts';

export interface IngestTask {
  readonly format: 'ndjson' | 'bundle';
  readonly target: ReadTarget;
  readonly fileIndex: number;
  readonly segment: number;
  /** How resources are read (plain data, so a task crosses to a worker thread). */
  readonly reading: FhirReading;
}

export interface ResourceTypeCounts {
  /** Flattened into the store (events of unknown patients are dropped later). */
  loaded: number;
  /** Not used by the store, or excluded by its rules (SkipReason). */
  skipped: number;
  malformed: number;
}

/** Skipped resources per resource type, per reason. */
export type SkippedReasons = Record<string, Partial<Record<SkipReason, number>>>;

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
  readonly skippedReasons: SkippedReasons;
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
  readonly skippedReasons: SkippedReasons = {};
  readonly #task: IngestTask;
  readonly #secret: Uint8Array;
  readonly #sink: RowSink;
  /** (patient, system, code, display) already written by this task. */
  readonly #displaysWritten = new Set<string>();
  readonly #at: { fileIndex: number; segment: number; line: number };
  /** What every resource of the task is read with. */
  readonly #reading: FlattenContext;

  constructor(task: IngestTask, secret: Uint8Array, sink: RowSink) {
    this.#task = task;
    this.#secret = secret;
    this.#sink = sink;
    this.#at = { fileIndex: task.fileIndex, segment: task.segment, line: 0 };
    this.#reading = {
      aliases: createCodeSystemAliases(task.reading.codeSystemAliases),
      excludeUnconfirmedConditions: task.reading.excludeUnconfirmedConditions === true,
    };
  }

  result(digest: string): TaskResult {
    return {
      fileIndex: this.#task.fileIndex,
      segment: this.#task.segment,
      lines: this.lines,
      total: this.total,
      digest,
      counts: this.counts,
      skippedReasons: this.skippedReasons,
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
      this.#skip(sniffed, 'resource type not read');
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
      this.#resource(entry.resource, entryContext(index, entry), i + 1);
    });
  }

  #resource(resource: unknown, context: FlattenContext, line: number): void {
    const flat = flattenResource(resource, { ...this.#reading, ...context });
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
      case 'skipped':
        this.#skip(type, flat.reason);
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

  #skip(type: string, reason: SkipReason): void {
    this.#count(type).skipped += 1;
    const byReason = (this.skippedReasons[type] ??= {});
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  }

  #bad(line: number, reason: string, type: string | undefined): void {
    this.badCount += 1;
    if (type !== undefined && type !== '') this.#count(type).malformed += 1;
    if (this.badLines.length < MAX_BAD_LINES) this.badLines.push({ line, reason });
  }
}

/**
 * fullUrl -> (type, logical id) of each entry, so references to a fullUrl
 * resolve to logical ids; a resource without an id takes the one its
 * fullUrl gives (idFromFullUrl).
 */
export function bundleIndex(entries: readonly unknown[]): BundleIndex {
  const index = new Map<string, BundleTarget>();
  for (const entry of entries) {
    if (!isObject(entry) || !isObject(entry.resource)) continue;
    const fullUrl = stringOf(entry.fullUrl);
    const type = stringOf(entry.resource.resourceType);
    if (fullUrl === undefined || type === undefined) continue;
    const id = stringOf(entry.resource.id) ?? idFromFullUrl(fullUrl, type);
    if (id !== undefined) index.set(fullUrl, { type, id });
  }
  return index;
}

/** How one entry's resource is read: the Bundle's index, its fullUrl's base and id. */
function entryContext(bundle: BundleIndex, entry: Record<string, unknown>): FlattenContext {
  const resource = entry.resource;
  const type = isObject(resource) ? stringOf(resource.resourceType) : undefined;
  const fallbackId = type === undefined ? undefined : idFromFullUrl(entry.fullUrl, type);
  const base = fullUrlBase(entry.fullUrl);
  return {
    bundle,
    ...(base === undefined ? {} : { base }),
    ...(fallbackId === undefined ? {} : { fallbackId }),
  };
}

/** Adds one record of skipped reasons into another. */
export function addSkippedReasons(into: SkippedReasons, from: SkippedReasons): void {
  for (const [type, reasons] of Object.entries(from)) {
    const target = (into[type] ??= {});
    for (const [reason, n] of Object.entries(reasons) as [SkipReason, number][]) {
      target[reason] = (target[reason] ?? 0) + n;
    }
  }
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
