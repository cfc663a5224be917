// FHIR NDJSON and Bundles into the node's DuckDB store. Sources are read in
// a stable order and cut into tasks (large NDJSON files into line-aligned
// segments); worker threads flatten each resource (flatten.ts) into staging
// CSV files; DuckDB then resolves Medication references and swaps the new
// rows in with one transaction. Malformed input is reported by file and line
// only: a line may hold patient data, so none is quoted.
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { canonicalJson } from '@tessera/schemas';
import { openStore } from '../store/open.ts';
import { META } from '../store/layout.ts';
import type { StagingTable } from './csv-rows.ts';
import { nodeProblem } from '../errors.ts';
import { TooManyBadLinesError } from './bad-lines-error.ts';
import { runTasks } from './pool.ts';
import { dropStaging, publish, readMeta, stageMedications } from './publish.ts';
import type { StagingFiles } from './publish.ts';
import { createCodeSystemAliases } from './reading.ts';
import type { CodeSystemAliases, FhirReading } from './reading.ts';
import { listSourceFiles, planSegments } from './sources.ts';
import type { SourceFile } from './sources.ts';
import { addCounts, addSkippedReasons, MAX_BAD_LINES } from './task.ts';
import type { IngestTask, ResourceTypeCounts, SkippedReasons, TaskResult } from './task.ts';
import type { LoadOutcome } from './publish.ts';

export type { ResourceTypeCounts, SkippedReasons };

export interface IngestProgress {
  /** The file being read. */
  readonly file: string;
  /** Lines (NDJSON) and Bundles read so far, over all files. */
  readonly lines: number;
  /** Bytes read so far, on disk (compressed bytes for .gz). */
  readonly bytes: number;
  readonly totalBytes: number;
}

export interface IngestOptions {
  /** Files and directories (searched recursively for .ndjson, .jsonl and .json, optionally .gz). */
  readonly sources: readonly string[];
  readonly dbPath: string;
  /** The node's secret for record keys (at least 16 bytes). */
  readonly recordKeySecret: Uint8Array;
  /** How resources are read: code-system aliases and which Conditions count (node config `reading`). */
  readonly reading?: FhirReading;
  /** Largest tolerated share of malformed resources; default 0.01. */
  readonly maxBadShare?: number;
  readonly onProgress?: (progress: IngestProgress) => void;
  /** Clock for the data version; default the system clock. */
  readonly now?: () => Date;
  /**
   * Worker threads for parsing; 0 parses on the calling thread. Default: one
   * per core (at most 4), or 0 for inputs under 64 MB.
   */
  readonly workers?: number;
  /**
   * Uncompressed NDJSON files larger than this are cut into line-aligned
   * segments parsed in parallel; default 32 MiB. The cuts enter the content
   * hash, so keep the default outside tests.
   */
  readonly segmentBytes?: number;
}

export interface IngestReport {
  /** Per resource type, in alphabetical order. */
  readonly resources: Readonly<Record<string, ResourceTypeCounts>>;
  /** Why resources were skipped: per resource type (alphabetical), per reason. */
  readonly skippedReasons: SkippedReasons;
  readonly files: number;
  /** Resources read: non-blank NDJSON lines and Bundle entries. */
  readonly total: number;
  /** `file:line: reason` (Bundles: `file:entry N: reason`), the first 100 in source order. */
  readonly badLines: readonly string[];
  readonly badLineCount: number;
  /** Rows per store table after the load. */
  readonly rows: Readonly<Record<string, number>>;
  /** Event rows dropped because their patient was not loaded. */
  readonly droppedRows: number;
  /** Resources (events and Consents) dropped because their patient was not loaded. */
  readonly droppedEvents: number;
  readonly contentHash: string;
  readonly dataVersion: string;
  /** False when the content hash equals the stored one (the data version is kept). */
  readonly changed: boolean;
  readonly elapsedMs: number;
}

const MIN_SECRET_BYTES = 16;
const SEGMENT_BYTES = 32 << 20;
// Below this, starting worker threads (about a second of CPU each) costs more than it saves.
const INLINE_BELOW_BYTES = 64 << 20;
// Part of the content hash: a change to the flattening rules must change the
// data version even when the input files did not.
// 2: integer patient keys, medication resource ids with their type, BLAKE2b digests.
// 3: record keys in the code indexes.
// 4: patients' deceased_date.
// 5: Observation components (the `component` column).
// 6: Bundle references through fullUrls, skipped subjects, ingredient codes,
//    valueInteger/Ratio/Boolean/String, Observation.issued, onsetAge, R5 occurence,
//    code-system aliases.
// 7: consents.
const INGEST_FORMAT = 'tessera-ingest/7';

/**
 * Loads the sources into the store at `dbPath`, replacing its data.
 * @throws TooManyBadLinesError (ProblemError ERR_INGEST_TOO_MANY_BAD_LINES)
 *   when malformed / total exceeds `maxBadShare`; the store is then unchanged.
 * @throws ProblemError ERR_INGEST_PATIENTS_MISSING when the load would store
 *   no patient, or drop more events (resources) for want of their patient
 *   than it keeps (checkPatients); the store is then unchanged.
 * @example const report = await ingest({ sources: ['export/'], dbPath: 'node.duckdb', recordKeySecret });
 */
export async function ingest(options: IngestOptions): Promise<IngestReport> {
  const started = performance.now();
  const maxBadShare = options.maxBadShare ?? 0.01;
  if (!(maxBadShare >= 0 && maxBadShare <= 1)) {
    throw new RangeError('maxBadShare must be between 0 and 1');
  }
  if (options.recordKeySecret.byteLength < MIN_SECRET_BYTES) {
    throw nodeProblem('ERR_INGEST_RECORD_KEY', {
      detail: `the record key secret must be at least ${MIN_SECRET_BYTES} bytes`,
    });
  }
  const files = await listSourceFiles(options.sources);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const reading = options.reading ?? {};
  // Checked now: a contradictory alias table fails before any reading.
  const aliases = codeSystemAliasesOf(reading);
  const tasks = await planTasks(files, options.segmentBytes ?? SEGMENT_BYTES, reading);
  const workers =
    options.workers ?? (totalBytes < INLINE_BELOW_BYTES ? 0 : Math.min(availableParallelism(), 4));

  // Opened first: a locked or unwritable store fails before any reading.
  const store = await openStore(options.dbPath);
  let tmp: string | undefined;
  try {
    // Staging files sit next to the store: same disk, and cleaned up below.
    tmp = await mkdtemp(join(dirname(resolve(options.dbPath)), '.tessera-ingest-'));
    let bytes = 0;
    let lines = 0;
    const { results, outputs } = await runTasks(tasks, {
      workers,
      dir: tmp,
      secret: options.recordKeySecret,
      onProgress: (file, b, l) => {
        bytes += b;
        lines += l;
        options.onProgress?.({ file, lines, bytes, totalBytes });
      },
    });
    const summary = summarise(files, results);

    const staging: Partial<Record<StagingTable, string[]>> = {};
    const stagedRows: Partial<Record<StagingTable, number>> = {};
    for (const output of outputs) {
      for (const [table, path] of Object.entries(output.files) as [StagingTable, string][]) {
        (staging[table] ??= []).push(path);
        stagedRows[table] = (stagedRows[table] ?? 0) + (output.rows[table] ?? 0);
      }
    }
    const stagingFiles: StagingFiles = staging;
    const unresolved = await stageMedications(store.connection, stagingFiles);
    for (const ref of unresolved) {
      const counts = summary.counts[ref.resourceType];
      if (counts !== undefined) {
        counts.loaded -= 1;
        counts.malformed += 1;
      }
      summary.addBad(ref.fileIndex, summary.absoluteLine(ref), 'unresolvable medication reference');
    }
    const badLineCount = summary.badCount + unresolved.length;
    if (summary.total > 0 && badLineCount / summary.total > maxBadShare) {
      throw new TooManyBadLinesError(summary.badLines(), badLineCount, summary.total, maxBadShare);
    }

    const hash = contentHash(files, results, options.recordKeySecret, readingKey(reading, aliases));
    const stored = await readMeta(store.connection);
    const storedVersion = stored.get(META.dataVersion);
    const unchanged = stored.get(META.contentHash) === hash && storedVersion !== undefined;
    const ingestedAt = isoSeconds((options.now ?? (() => new Date()))());
    const meta = unchanged
      ? {
          contentHash: hash,
          dataVersion: storedVersion,
          ingestedAt: stored.get(META.ingestedAt) ?? ingestedAt,
        }
      : { contentHash: hash, dataVersion: `${ingestedAt}#${hash.slice(0, 12)}`, ingestedAt };
    const storedMeta = { ...meta, codeSystemAliases: JSON.stringify(aliases.table) };
    const { rows, droppedRows, droppedEvents } = await publish(
      store.connection,
      stagingFiles,
      stagedRows,
      storedMeta,
      (outcome) => checkPatients(outcome, summary.total),
    );
    return {
      resources: sortedCounts(summary.counts),
      skippedReasons: sortedCounts(summary.skippedReasons),
      files: files.length,
      total: summary.total,
      badLines: summary.badLines(),
      badLineCount,
      rows,
      droppedRows,
      droppedEvents,
      contentHash: hash,
      dataVersion: meta.dataVersion,
      changed: !unchanged,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await dropStaging(store.connection).catch(() => undefined);
    store.close();
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * A load whose events mostly name patients it does not hold has lost its
 * patients (references that did not resolve, a Patient file left out):
 * stored, every query would answer near zero without a word. Events are
 * weighed as resources, as a researcher counts them, not as rows (one per code).
 */
function checkPatients(
  { patients, droppedRows, events, droppedEvents }: LoadOutcome,
  total: number,
): void {
  if (patients === 0) {
    throw nodeProblem('ERR_INGEST_PATIENTS_MISSING', {
      detail: `no patient would be stored, of ${total} resources read (${droppedRows} event rows)`,
    });
  }
  if (droppedEvents > events) {
    throw nodeProblem('ERR_INGEST_PATIENTS_MISSING', {
      detail:
        `${droppedEvents} of ${events + droppedEvents} events name a patient not in the ` +
        `sources, more than the ${events} kept (${patients} patients, ${droppedRows} event rows dropped)`,
    });
  }
}

/** The alias table of the reading settings; a contradictory one is ERR_INGEST_READING. */
function codeSystemAliasesOf(reading: FhirReading): CodeSystemAliases {
  try {
    return createCodeSystemAliases(reading.codeSystemAliases);
  } catch (err) {
    throw nodeProblem('ERR_INGEST_READING', {
      detail: err instanceof RangeError ? err.message : 'the code system aliases are not usable',
    });
  }
}

/** The reading settings as they enter the content hash: what changes the rows changes the data version. */
function readingKey(reading: FhirReading, aliases: CodeSystemAliases): string {
  return canonicalJson({
    aliases: aliases.table,
    excludeUnconfirmedConditions: reading.excludeUnconfirmedConditions === true,
  });
}

async function planTasks(
  files: readonly SourceFile[],
  segmentBytes: number,
  reading: FhirReading,
): Promise<IngestTask[]> {
  const tasks: IngestTask[] = [];
  for (const [fileIndex, file] of files.entries()) {
    const segments = await planSegments(file, segmentBytes);
    segments.forEach((range, segment) => {
      const target =
        segments.length > 1
          ? { path: file.path, gzip: file.gzip, start: range.start, end: range.end }
          : { path: file.path, gzip: file.gzip };
      tasks.push({ format: file.format, target, fileIndex, segment, reading });
    });
  }
  return tasks;
}

/** Task results put back in source order: totals, counts, absolute line numbers. */
function summarise(files: readonly SourceFile[], results: readonly TaskResult[]) {
  const ordered = [...results].sort((a, b) => a.fileIndex - b.fileIndex || a.segment - b.segment);
  const lineOffsets = new Map<string, number>();
  const counts: Record<string, ResourceTypeCounts> = {};
  const skippedReasons: SkippedReasons = {};
  const bad: { fileIndex: number; line: number; reason: string }[] = [];
  let total = 0;
  let badCount = 0;
  let offset = 0;
  let previousFile = -1;
  for (const r of ordered) {
    if (r.fileIndex !== previousFile) offset = 0;
    previousFile = r.fileIndex;
    lineOffsets.set(`${r.fileIndex}:${r.segment}`, offset);
    for (const b of r.badLines)
      bad.push({ fileIndex: r.fileIndex, line: offset + b.line, reason: b.reason });
    offset += r.lines;
    total += r.total;
    badCount += r.badCount;
    addCounts(counts, r.counts);
    addSkippedReasons(skippedReasons, r.skippedReasons);
  }
  const location = (fileIndex: number, line: number, reason: string): string => {
    const file = files[fileIndex];
    const where = file?.format === 'bundle' ? `entry ${line}` : String(line);
    return `${file?.path ?? '?'}:${where}: ${reason}`;
  };
  return {
    total,
    badCount,
    counts,
    skippedReasons,
    absoluteLine: (at: { fileIndex: number; segment: number; line: number }): number =>
      (lineOffsets.get(`${at.fileIndex}:${at.segment}`) ?? 0) + at.line,
    addBad: (fileIndex: number, line: number, reason: string): void => {
      bad.push({ fileIndex, line, reason });
    },
    badLines: (): string[] =>
      [...bad]
        .sort((a, b) => a.fileIndex - b.fileIndex || a.line - b.line)
        .slice(0, MAX_BAD_LINES)
        .map((b) => location(b.fileIndex, b.line, b.reason)),
  };
}

/**
 * SHA-256 over the ingest format, a fingerprint of the record key secret
 * (record keys are part of the tables), the reading settings and each file's name and content
 * digests, in source order.
 */
function contentHash(
  files: readonly SourceFile[],
  results: readonly TaskResult[],
  secret: Uint8Array,
  reading: string,
): string {
  const hash = createHash('sha256');
  const fingerprint = createHmac('sha256', secret)
    .update('tessera record key fingerprint')
    .digest('hex');
  hash.update(`${INGEST_FORMAT}\n${fingerprint}\n${reading}\n`);
  const digests = new Map<number, string[]>();
  for (const r of [...results].sort((a, b) => a.segment - b.segment)) {
    let list = digests.get(r.fileIndex);
    if (list === undefined) digests.set(r.fileIndex, (list = []));
    list.push(r.digest);
  }
  for (const [fileIndex, file] of files.entries()) {
    hash.update(`${file.name}\0${(digests.get(fileIndex) ?? []).join(',')}\n`);
  }
  return hash.digest('hex');
}

function sortedCounts<T>(counts: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
