// Writes a synthetic region as FHIR Bulk Data NDJSON (`Type.NNN.ndjson`).
// Patients are generated in fixed-size batches and written with stream
// backpressure, so memory stays bounded however many patients are asked for,
// and the bytes depend only on (region, patients, seed, reference date).
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WriteStream } from 'node:fs';
import { isoToDay } from './calendar.ts';
import { formulary, generatePatient } from './patient.ts';
import type { GeneratedType, PatientSettings } from './patient.ts';
import { REGIONS } from './regions.ts';
import type { RegionId } from './regions.ts';

/** The fixed "today" of generated data: dates never depend on the clock. */
export const DEFAULT_REFERENCE_DATE = '2026-01-01';
export const WINDOW_YEARS = 15;
const BATCH = 256;
const CHUNK_BYTES = 1 << 20;

export interface GenerateOptions {
  readonly region: RegionId;
  readonly patients: number;
  /** Unsigned 32-bit seed. */
  readonly seed: number;
  readonly outDir: string;
  /** Lines per file before the next `.NNN` file starts (checked per batch); default 1,000,000. */
  readonly linesPerFile?: number;
  /** `YYYY-MM-DD`; default 2026-01-01. */
  readonly referenceDate?: string;
  /** Called after each batch with the patients written so far. */
  readonly onProgress?: (patientsDone: number) => void;
}

export interface GenerateReport {
  readonly region: RegionId;
  readonly patients: number;
  /** Resources written per type. */
  readonly resources: Readonly<Record<string, number>>;
  /** File names written, in order. */
  readonly files: readonly string[];
  readonly bytes: number;
  readonly elapsedMs: number;
}

const GENERATED_FILE =
  /^(?:Patient|Condition|Observation|Procedure|MedicationRequest|Medication|Immunization|Encounter)\.\d{3}\.ndjson$/;

/**
 * Generates `patients` patients of a region into `outDir`. Earlier generated
 * files (`Type.NNN.ndjson`) in `outDir` are removed first, so a smaller run
 * never leaves stale parts of a larger one behind.
 * @example await generateRegion({ region: 'sachsen', patients: 1000, seed: 1, outDir: 'data/sachsen' });
 */
export async function generateRegion(options: GenerateOptions): Promise<GenerateReport> {
  const started = performance.now();
  const region = REGIONS[options.region];
  if (!Number.isSafeInteger(options.patients) || options.patients < 0) {
    throw new RangeError('patients must be a non-negative integer');
  }
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new RangeError('seed must be an integer from 0 to 4294967295');
  }
  const settings: PatientSettings = {
    region,
    seed: options.seed,
    referenceDay: isoToDay(options.referenceDate ?? DEFAULT_REFERENCE_DATE),
    windowYears: WINDOW_YEARS,
  };
  await mkdir(options.outDir, { recursive: true });
  for (const name of await readdir(options.outDir)) {
    if (GENERATED_FILE.test(name)) await rm(join(options.outDir, name));
  }

  const writers = new Map<GeneratedType, TypeWriter>();
  const files: string[] = [];
  const writerFor = (type: GeneratedType): TypeWriter => {
    let writer = writers.get(type);
    if (writer === undefined) {
      writer = new TypeWriter(options.outDir, type, options.linesPerFile ?? 1_000_000, files);
      writers.set(type, writer);
    }
    return writer;
  };
  const emit = (type: GeneratedType, json: string): void => writerFor(type).add(json);

  try {
    for (const medication of formulary(region)) emit('Medication', medication);
    for (let start = 0; start < options.patients; start += BATCH) {
      const end = Math.min(start + BATCH, options.patients);
      for (let index = start; index < end; index++) generatePatient(settings, index, emit);
      for (const writer of writers.values()) await writer.flush();
      options.onProgress?.(end);
    }
    for (const writer of writers.values()) await writer.close();
  } catch (err) {
    for (const writer of writers.values()) writer.destroy();
    throw err;
  }

  const resources: Record<string, number> = {};
  let bytes = 0;
  for (const [type, writer] of [...writers].sort(([a], [b]) => (a < b ? -1 : 1))) {
    resources[type] = writer.total;
    bytes += writer.bytes;
  }
  return {
    region: options.region,
    patients: options.patients,
    resources,
    files,
    bytes,
    elapsedMs: Math.round(performance.now() - started),
  };
}

/**
 * One resource type's output: lines are encoded straight into byte chunks
 * (no large strings to build, flatten and collect), files of about
 * `linesPerFile` lines.
 */
class TypeWriter {
  total = 0;
  bytes = 0;
  #chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  #offset = 0;
  #full: Buffer[] = [];
  #linesInFile = 0;
  #fileIndex = -1;
  #stream: WriteStream | undefined;
  readonly #dir: string;
  readonly #type: GeneratedType;
  readonly #linesPerFile: number;
  readonly #files: string[];

  constructor(dir: string, type: GeneratedType, linesPerFile: number, files: string[]) {
    this.#dir = dir;
    this.#type = type;
    this.#linesPerFile = linesPerFile;
    this.#files = files;
  }

  add(json: string): void {
    // UTF-8 needs at most three bytes per UTF-16 unit.
    const worst = json.length * 3 + 1;
    if (this.#offset + worst > this.#chunk.length) {
      this.#full.push(this.#chunk.subarray(0, this.#offset));
      this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, worst));
      this.#offset = 0;
    }
    this.#offset += this.#chunk.write(json, this.#offset);
    this.#chunk[this.#offset++] = 10;
    this.total += 1;
    this.#linesInFile += 1;
  }

  async flush(): Promise<void> {
    if (this.#offset > 0) {
      this.#full.push(this.#chunk.subarray(0, this.#offset));
      this.#chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      this.#offset = 0;
    }
    if (this.#full.length === 0) return;
    const stream = await this.#current();
    const chunks = this.#full;
    this.#full = [];
    let ok = true;
    for (const chunk of chunks) {
      this.bytes += chunk.length;
      ok = stream.write(chunk);
    }
    if (!ok) await once(stream, 'drain');
    if (this.#linesInFile >= this.#linesPerFile) await this.#endFile();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#endFile();
  }

  destroy(): void {
    this.#stream?.destroy();
  }

  async #current(): Promise<WriteStream> {
    if (this.#stream !== undefined) return this.#stream;
    this.#fileIndex += 1;
    const name = `${this.#type}.${String(this.#fileIndex).padStart(3, '0')}.ndjson`;
    this.#files.push(name);
    const stream = createWriteStream(join(this.#dir, name), { highWaterMark: CHUNK_BYTES });
    await once(stream, 'open');
    this.#stream = stream;
    return stream;
  }

  async #endFile(): Promise<void> {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#stream = undefined;
    // Lines added after this point start the next file.
    this.#linesInFile = 0;
    stream.end();
    await once(stream, 'finish');
  }
}
