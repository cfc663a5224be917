// Incremental refresh by Bulk Data `_since`. The store holds flattened rows
// that a partial export cannot be merged into, so the resources of the last
// export are kept next to the store (`<store>.export/`: one NDJSON file per
// type and state.json), owner-only. An export `_since` the last one's
// transactionTime brings the resources changed since and, from servers that
// report them, the deletions (the manifest's `deleted` Bundles); they are
// merged into a copy of the kept files (a changed resource takes its old
// line's place, a new one is appended, a deleted one dropped), and the merged
// files are ingested as a full export would be. Kept files that equal what a
// full export would have produced give the same content hash, so unchanged
// data keeps its data version.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { nodeProblem } from '../errors.ts';

/** What the kept files are: whose export, of which types, as of when. */
export interface MirrorState {
  readonly format: 1;
  readonly baseUrl: string;
  readonly types: readonly string[];
  /** transactionTime of the last export merged in: the next `_since`. */
  readonly transactionTime: string;
  /** When the last full export was started, by the node's clock. */
  readonly fullAt: string;
  /** The data version of the store built from these files. */
  readonly dataVersion: string;
}

const STATE = 'state.json';
const FILES = 'ndjson';

/** Where the kept export of the store at `storePath` lives. */
export function mirrorDir(storePath: string): string {
  return `${storePath}.export`;
}

/** The NDJSON directory of a kept export, as ingest reads it. */
export function mirrorFiles(dir: string): string {
  return join(dir, FILES);
}

function isJson(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The state of the kept export in `dir`; undefined when there is none or it is unreadable. */
export async function readMirrorState(dir: string): Promise<MirrorState | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, STATE), 'utf8'));
  } catch {
    return undefined;
  }
  if (
    !isJson(json) ||
    json.format !== 1 ||
    typeof json.baseUrl !== 'string' ||
    !Array.isArray(json.types) ||
    !json.types.every((t) => typeof t === 'string') ||
    typeof json.transactionTime !== 'string' ||
    typeof json.fullAt !== 'string' ||
    typeof json.dataVersion !== 'string'
  ) {
    return undefined;
  }
  return json as unknown as MirrorState;
}

/** Creates an empty kept export in `dir` (owner-only), to be filled by build or merge. */
export async function createMirror(dir: string): Promise<void> {
  await mkdir(mirrorFiles(dir), { recursive: true, mode: 0o700 });
}

export async function writeMirrorState(dir: string, state: MirrorState): Promise<void> {
  await writeFile(join(dir, STATE), `${JSON.stringify(state)}\n`, { mode: 0o600 });
}

/**
 * Puts the kept export `fresh` in place of `target`; the old one is removed.
 * Between the two renames there is none, which the next sync reads as "do a
 * full export".
 */
export async function replaceMirror(fresh: string, target: string): Promise<void> {
  const old = `${target}.old`;
  await rm(old, { recursive: true, force: true });
  await rename(target, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(fresh, target);
  await rm(old, { recursive: true, force: true });
}

/** Downloaded files of `type` in `dir` (`<Type>.<n>.ndjson`), in order. */
async function filesOf(dir: string, type: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => n.startsWith(`${type}.`) && n.endsWith('.ndjson'))
    .sort()
    .map((n) => join(dir, n));
}

async function* linesOf(paths: readonly string[]): AsyncGenerator<string> {
  for (const path of paths) {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const line of lines) if (line.trim() !== '') yield line;
  }
}

/** Line writer with backpressure, in batches of about 1 MiB. */
function lineWriter(path: string): { write(line: string): Promise<void>; end(): Promise<void> } {
  const out: WriteStream = createWriteStream(path, { mode: 0o600 });
  let batch: string[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const text = `${batch.join('\n')}\n`;
    batch = [];
    size = 0;
    if (!out.write(text)) await once(out, 'drain');
  };
  return {
    async write(line) {
      batch.push(line);
      size += line.length;
      if (size >= 1 << 20) await flush();
    },
    async end() {
      try {
        await flush();
      } finally {
        out.end();
        await once(out, 'close');
      }
    },
  };
}

/** Fills the kept export `into` with a full export's files from `downloaded`: one file per type. */
export async function buildMirror(
  downloaded: string,
  into: string,
  types: readonly string[],
): Promise<void> {
  for (const type of types) {
    const paths = await filesOf(downloaded, type);
    if (paths.length === 0) continue;
    const out = lineWriter(join(mirrorFiles(into), `${type}.ndjson`));
    try {
      for await (const line of linesOf(paths)) await out.write(line);
    } finally {
      await out.end();
    }
  }
}

function invalid(detail: string): Error {
  return nodeProblem('ERR_SOURCE_INVALID', { detail });
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * The resources a `_since` export reports deleted, per type, from its
 * `deleted` files (transaction Bundles of DELETE entries, one per line).
 * A deletion that cannot be read fails the sync: the merged data would be wrong.
 */
export async function readDeletions(
  dir: string,
  types: readonly string[],
): Promise<Map<string, Set<string>>> {
  const deleted = new Map<string, Set<string>>();
  const names = await readdir(dir).catch(() => [] as string[]);
  for await (const line of linesOf(names.sort().map((n) => join(dir, n)))) {
    let bundle: unknown;
    try {
      bundle = JSON.parse(line);
    } catch {
      throw invalid('the FHIR server’s list of deleted resources is not readable');
    }
    if (!isJson(bundle) || bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) {
      throw invalid('the FHIR server’s list of deleted resources is not readable');
    }
    for (const entry of bundle.entry) {
      const request = isJson(entry) && isJson(entry.request) ? entry.request : undefined;
      const url = typeof request?.url === 'string' ? request.url : '';
      const [type, id] = url.split('?')[0]!.split('/').slice(-2);
      if (request?.method !== 'DELETE' || type === undefined || id === undefined || !ID.test(id)) {
        throw invalid('the FHIR server’s list of deleted resources is not readable');
      }
      if (!types.includes(type)) continue;
      let ids = deleted.get(type);
      if (ids === undefined) deleted.set(type, (ids = new Set()));
      ids.add(id);
    }
  }
  return deleted;
}

function idOf(line: string): string | undefined {
  try {
    const json: unknown = JSON.parse(line);
    return isJson(json) && typeof json.id === 'string' ? json.id : undefined;
  } catch {
    return undefined;
  }
}

export interface MergeReport {
  /** Resources in the `_since` export (changed or new). */
  readonly resources: number;
  /** Resources the merge dropped as deleted. */
  readonly deleted: number;
}

/**
 * Writes into `into` the kept export `previous` with the `_since` export in
 * `delta` and the deletions merged in, type by type. Lines without an id
 * (ingest reports them as malformed) are appended as they are.
 */
export async function mergeMirror(options: {
  readonly previous: string;
  readonly delta: string;
  readonly deleted: ReadonlyMap<string, ReadonlySet<string>>;
  readonly into: string;
  readonly types: readonly string[];
}): Promise<MergeReport> {
  let resources = 0;
  let dropped = 0;
  for (const type of options.types) {
    const old = join(mirrorFiles(options.previous), `${type}.ndjson`);
    const hasOld = await stat(old).then(
      () => true,
      () => false,
    );
    const target = join(mirrorFiles(options.into), `${type}.ndjson`);
    const changed = new Map<string, string>();
    const unkeyed: string[] = [];
    for await (const line of linesOf(await filesOf(options.delta, type))) {
      resources += 1;
      const id = idOf(line);
      if (id === undefined) unkeyed.push(line);
      else changed.set(id, line);
    }
    const gone = options.deleted.get(type) ?? new Set<string>();
    if (changed.size === 0 && unkeyed.length === 0 && gone.size === 0) {
      if (hasOld) await copyFile(old, target);
      continue;
    }
    const out = lineWriter(target);
    try {
      if (hasOld) {
        for await (const line of linesOf([old])) {
          const id = idOf(line);
          const replacement = id === undefined ? undefined : changed.get(id);
          if (replacement !== undefined) {
            // In the export means present when it ran, whatever the deletions say.
            changed.delete(id!);
            await out.write(replacement);
          } else if (id !== undefined && gone.has(id)) {
            dropped += 1;
          } else {
            await out.write(line);
          }
        }
      }
      for (const line of changed.values()) await out.write(line);
      for (const line of unkeyed) await out.write(line);
    } finally {
      await out.end();
    }
  }
  return { resources, deleted: dropped };
}
