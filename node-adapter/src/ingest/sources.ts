// Finding and reading ingest sources: Bulk Data NDJSON (`Type.NNN.ndjson`,
// optionally gzipped) read line by line, and FHIR Bundles (one JSON document
// per file, as Synthea writes them). Every byte read also feeds the file's
// content hash, so the data version costs no second pass.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { nodeProblem } from '../errors.ts';

export interface SourceFile {
  /** Path to open. */
  readonly path: string;
  /** Name inside its source (relative to a source directory, else the file name): the sort key. */
  readonly name: string;
  readonly format: 'ndjson' | 'bundle';
  readonly gzip: boolean;
  /** Size on disk, in bytes. */
  readonly size: number;
}

const NDJSON = /\.(?:ndjson|jsonl)(\.gz)?$/i;
const BUNDLE = /\.json(\.gz)?$/i;

function classify(name: string): Pick<SourceFile, 'format' | 'gzip'> | undefined {
  const nd = NDJSON.exec(name);
  if (nd !== null) return { format: 'ndjson', gzip: nd[1] !== undefined };
  const bundle = BUNDLE.exec(name);
  if (bundle !== null) return { format: 'bundle', gzip: bundle[1] !== undefined };
  return undefined;
}

/**
 * The FHIR files under the given files and directories (directories are
 * searched recursively; other files in them are ignored), in a stable order:
 * by name within the source, so the same export found at another path reads
 * and hashes the same.
 */
export async function listSourceFiles(sources: readonly string[]): Promise<SourceFile[]> {
  const files = new Map<string, SourceFile>();
  for (const source of sources) {
    const info = await stat(source).catch(() => undefined);
    if (info === undefined) {
      throw nodeProblem('ERR_INGEST_SOURCE_NOT_FOUND', {
        detail: `no such file or directory: ${source}`,
      });
    }
    if (info.isDirectory()) {
      const entries = await readdir(source, { recursive: true, withFileTypes: true });
      for (const entry of entries) {
        if (!entry.isFile()) continue;
        const kind = classify(entry.name);
        if (kind === undefined) continue;
        const path = join(entry.parentPath, entry.name);
        const name = relative(source, path).split('\\').join('/');
        const size = (await stat(path)).size;
        files.set(resolve(path), { path, name, ...kind, size });
      }
    } else {
      const kind = classify(source);
      if (kind === undefined) {
        throw nodeProblem('ERR_INGEST_SOURCE_UNSUPPORTED', {
          detail: `expected .ndjson, .jsonl or .json (optionally .gz): ${source}`,
        });
      }
      files.set(resolve(source), {
        path: source,
        name: basename(source),
        ...kind,
        size: info.size,
      });
    }
  }
  const list = [...files.values()].sort(
    (a, b) => compare(a.name, b.name) || compare(a.path, b.path),
  );
  if (list.length === 0) {
    throw nodeProblem('ERR_INGEST_NO_SOURCES', {
      detail: 'no .ndjson, .jsonl or .json files found in the sources',
    });
  }
  return list;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Where to read: a file, or a byte range of an uncompressed one. */
export interface ReadTarget {
  readonly path: string;
  readonly gzip: boolean;
  /** Byte range [start, end) of an uncompressed file; the whole file when absent. */
  readonly start?: number;
  readonly end?: number;
}

function openContent(target: ReadTarget): {
  raw: ReturnType<typeof createReadStream>;
  content: Readable;
} {
  const range =
    target.start !== undefined && target.end !== undefined
      ? { start: target.start, end: target.end - 1 }
      : {};
  const raw = createReadStream(target.path, { highWaterMark: 1 << 20, ...range });
  if (!target.gzip) return { raw, content: raw };
  const gunzip = createGunzip({ chunkSize: 1 << 18 });
  raw.on('error', (err) => gunzip.destroy(err));
  return { raw, content: raw.pipe(gunzip) };
}

/**
 * Cuts an uncompressed NDJSON file into segments of about `segmentBytes`,
 * each starting at a line start, so several workers can read one large
 * file. The cuts depend only on the content, never on the worker count.
 */
export async function planSegments(
  file: SourceFile,
  segmentBytes: number,
): Promise<{ start: number; end: number }[]> {
  if (file.gzip || file.format !== 'ndjson' || file.size <= segmentBytes) {
    return [{ start: 0, end: file.size }];
  }
  const cuts = [0];
  const handle = await open(file.path, 'r');
  try {
    const window = Buffer.allocUnsafe(1 << 16);
    for (let target = segmentBytes; target < file.size; target += segmentBytes) {
      let position = Math.max(target, (cuts[cuts.length - 1] ?? 0) + 1);
      let cut: number | undefined;
      while (cut === undefined && position < file.size) {
        const { bytesRead } = await handle.read(window, 0, window.length, position);
        if (bytesRead === 0) break;
        const nl = window.subarray(0, bytesRead).indexOf(10);
        if (nl === -1) position += bytesRead;
        else cut = position + nl + 1;
      }
      if (cut === undefined || cut >= file.size) break;
      if (cut > (cuts[cuts.length - 1] ?? 0)) cuts.push(cut);
      target = Math.max(target, cut - 1);
    }
  } finally {
    await handle.close();
  }
  return cuts.map((start, i) => ({ start, end: cuts[i + 1] ?? file.size }));
}

/**
 * The digest of every byte read, for the content hash: BLAKE2b, which runs
 * at about twice the speed of SHA-256 here and hashes every input byte.
 */
export const CONTENT_DIGEST = 'blake2b512';

function unreadable(file: ReadTarget): Error {
  return nodeProblem('ERR_INGEST_SOURCE_UNREADABLE', {
    detail: `could not read ${file.path}${file.gzip ? ' (is it valid gzip?)' : ''}`,
  });
}

/**
 * Streams an NDJSON file line by line (1-based line numbers, blank lines
 * included in the numbering, a UTF-8 BOM and CR line ends removed).
 * `onProgress` gets the raw bytes read so far after each chunk.
 * @returns the CONTENT_DIGEST of the (decompressed) content.
 */
export async function readNdjsonLines(
  file: ReadTarget,
  onLine: (line: string, lineNumber: number) => void,
  onProgress: (rawBytesRead: number) => void,
): Promise<Buffer> {
  const { raw, content } = openContent(file);
  const hash = createHash(CONTENT_DIGEST);
  let carry: Buffer | undefined;
  let lineNumber = 0;
  // Lines are cut from the bytes and decoded one by one: decoding whole
  // chunks into one large string and slicing it is several times slower.
  const emit = (bytes: Buffer, start: number, end: number): void => {
    lineNumber += 1;
    if (
      lineNumber === 1 &&
      bytes[start] === 0xef &&
      bytes[start + 1] === 0xbb &&
      bytes[start + 2] === 0xbf
    ) {
      start += 3;
    }
    if (end > start && bytes[end - 1] === 13) end -= 1;
    onLine(bytes.toString('utf8', start, end), lineNumber);
  };
  // Only the stream's own failures mean an unreadable file; errors thrown by
  // onLine propagate as they are.
  const chunks = content[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch {
        throw unreadable(file);
      }
      if (next.done === true) break;
      const bytes = next.value;
      hash.update(bytes);
      let start = 0;
      let end = bytes.indexOf(10, start);
      if (carry !== undefined) {
        // The line that straddles the chunk boundary; copying only it keeps
        // the rest of the chunk uncopied.
        if (end === -1) {
          carry = Buffer.concat([carry, bytes]);
          onProgress(raw.bytesRead);
          continue;
        }
        const joined = Buffer.concat([carry, bytes.subarray(0, end)]);
        emit(joined, 0, joined.length);
        start = end + 1;
        end = bytes.indexOf(10, start);
      }
      while (end !== -1) {
        emit(bytes, start, end);
        start = end + 1;
        end = bytes.indexOf(10, start);
      }
      carry = start < bytes.length ? bytes.subarray(start) : undefined;
      onProgress(raw.bytesRead);
    }
  } finally {
    content.destroy();
    raw.destroy();
  }
  if (carry !== undefined) emit(carry, 0, carry.length);
  onProgress(raw.bytesRead);
  return hash.digest();
}

/**
 * Reads a whole file (a Bundle is one JSON document).
 * @returns the decompressed text, its CONTENT_DIGEST and the bytes read from disk.
 */
export async function readWholeFile(
  file: ReadTarget,
): Promise<{ text: string; digest: Buffer; rawBytes: number }> {
  const { raw, content } = openContent(file);
  const hash = createHash(CONTENT_DIGEST);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of content) {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      chunks.push(bytes);
    }
  } catch {
    throw unreadable(file);
  }
  let text = Buffer.concat(chunks).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text, digest: hash.digest(), rawBytes: raw.bytesRead };
}
