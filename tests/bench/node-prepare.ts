// The data of the node benchmark for one population size, in a process of
// its own (node.ts forks it): the synthetic region's NDJSON (generateRegion)
// and the DuckDB store loaded from it (ingest), both cached under
// .data/bench/node/<region>-<patients>-s<seed>/ with a manifest of what it
// took to build them, so reruns skip both. A fresh process per size loads the
// generator and ingest as they are at that moment, the same code on the
// calling thread as on ingest's worker threads.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRegion, ingest } from '@tessera/node-adapter';
import type { RegionId } from '@tessera/node-adapter';
import { REPO_ROOT } from './report.ts';

const RECORD_KEY_SECRET = new TextEncoder().encode('tessera-benchmark-record-key-secret');

export interface PrepareInput {
  readonly dataRoot: string;
  readonly region: RegionId;
  readonly patients: number;
  readonly seed: number;
  /** Regenerate and re-ingest even when cached. */
  readonly fresh: boolean;
}

function log(message: string): void {
  process.stderr.write(`[bench node ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface Manifest {
  generate?: {
    readonly elapsedMs: number;
    readonly resources: number;
    readonly bytes: number;
    readonly sourceHash: string;
    /** The sources changed while it ran (workers may have loaded newer code). */
    readonly changedDuring?: boolean;
    readonly at: string;
  };
  ingest?: {
    readonly elapsedMs: number;
    /** Until every input byte was read (parsed and flattened into staging files); the rest is DuckDB's load. */
    readonly readMs?: number;
    readonly resources: number;
    readonly sourceHash: string;
    readonly changedDuring?: boolean;
    readonly at: string;
  };
}

export interface Prepared {
  readonly dir: string;
  readonly ndjsonDir: string;
  readonly dbPath: string;
  readonly generate: NonNullable<Manifest['generate']> & { readonly cached: boolean };
  readonly ingest: NonNullable<Manifest['ingest']> & { readonly cached: boolean };
  readonly storeBytes: number;
}

/** SHA-256 over the non-test sources of the given node-adapter folders and files. */
async function sourceHash(paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const rel of paths) {
    const abs = join(REPO_ROOT, 'node-adapter', 'src', rel);
    const files = rel.endsWith('.ts')
      ? [abs]
      : (await readdir(abs))
          .filter((n) => /\.(ts|js)$/.test(n) && !n.includes('.test.'))
          .sort()
          .map((n) => join(abs, n));
    for (const file of files) hash.update(`${file}\0`).update(await readFile(file));
  }
  return hash.digest('hex').slice(0, 16);
}

const GENERATOR_SOURCES = ['generate'];
const INGEST_SOURCES = ['ingest', 'store/layout.ts', 'store/record-key.ts'];

async function fileSize(path: string): Promise<number> {
  return existsSync(path) ? (await stat(path)).size : 0;
}

function progressLogger(what: string, total: number): (done: number) => void {
  let next = 0.1;
  return (done) => {
    if (total > 0 && done / total >= next) {
      log(`${what}: ${Math.floor((100 * done) / total)} %`);
      while (done / total >= next) next += 0.1;
    }
  };
}

export async function prepareData(options: PrepareInput): Promise<Prepared> {
  const { patients } = options;
  const dir = join(options.dataRoot, `${options.region}-${patients}-s${options.seed}`);
  const ndjsonDir = join(dir, 'ndjson');
  const dbPath = join(dir, 'store.duckdb');
  const manifestPath = join(dir, 'manifest.json');
  await mkdir(dir, { recursive: true });
  const manifest: Manifest =
    !options.fresh && existsSync(manifestPath)
      ? (JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest)
      : {};
  const saveManifest = () => writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

  const generatorHash = await sourceHash(GENERATOR_SOURCES);
  let generatedNow = false;
  if (manifest.generate === undefined || !existsSync(ndjsonDir)) {
    log(
      `generating ${patients} patients (${options.region}, seed ${options.seed}) into ${ndjsonDir}`,
    );
    delete manifest.ingest;
    const report = await generateRegion({
      region: options.region,
      patients,
      seed: options.seed,
      outDir: ndjsonDir,
      onProgress: progressLogger('generation', patients),
    });
    const changedDuring = (await sourceHash(GENERATOR_SOURCES)) !== generatorHash;
    if (changedDuring) log('warning: the generator sources changed while it ran');
    manifest.generate = {
      elapsedMs: report.elapsedMs,
      resources: Object.values(report.resources).reduce((a, b) => a + b, 0),
      bytes: report.bytes,
      sourceHash: generatorHash,
      ...(changedDuring ? { changedDuring } : {}),
      at: new Date().toISOString(),
    };
    generatedNow = true;
    await saveManifest();
  } else {
    log(`${patients} patients: generated data cached in ${ndjsonDir}`);
    if (manifest.generate.sourceHash !== generatorHash) {
      log('warning: the generator changed since this data was generated; --fresh regenerates it');
    }
  }

  const ingestHash = await sourceHash(INGEST_SOURCES);
  let ingestedNow = false;
  if (manifest.ingest === undefined || !existsSync(dbPath)) {
    await rm(dbPath, { force: true });
    await rm(`${dbPath}.wal`, { force: true });
    log(`ingesting ${manifest.generate.resources} resources into ${dbPath}`);
    const progress = progressLogger('ingest', manifest.generate.bytes);
    const ingestStarted = performance.now();
    let readMs: number | undefined;
    const report = await ingest({
      sources: [ndjsonDir],
      dbPath,
      recordKeySecret: RECORD_KEY_SECRET,
      onProgress: (p) => {
        progress(p.bytes);
        if (p.bytes >= p.totalBytes) readMs ??= performance.now() - ingestStarted;
      },
    });
    if (report.badLineCount > 0) {
      log(
        `warning: ingest reported ${report.badLineCount} bad lines: ${report.badLines.slice(0, 3).join('; ')}`,
      );
    }
    const changedDuring = (await sourceHash(INGEST_SOURCES)) !== ingestHash;
    if (changedDuring) log('warning: the ingest sources changed while it ran');
    manifest.ingest = {
      elapsedMs: report.elapsedMs,
      ...(readMs === undefined ? {} : { readMs }),
      resources: report.total,
      sourceHash: ingestHash,
      ...(changedDuring ? { changedDuring } : {}),
      at: new Date().toISOString(),
    };
    ingestedNow = true;
    await saveManifest();
  } else {
    log(`${patients} patients: store cached at ${dbPath}`);
    if (manifest.ingest.sourceHash !== ingestHash) {
      log('warning: ingest changed since this store was built; --fresh rebuilds it');
    }
  }
  return {
    dir,
    ndjsonDir,
    dbPath,
    generate: { ...manifest.generate, cached: !generatedNow },
    ingest: { ...manifest.ingest, cached: !ingestedNow },
    storeBytes: (await fileSize(dbPath)) + (await fileSize(`${dbPath}.wal`)),
  };
}

// Forked by node.ts: the input as JSON in argv, the result back over IPC.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const input = JSON.parse(process.argv[2] ?? '{}') as PrepareInput;
  const result = await prepareData(input);
  if (process.send) {
    await new Promise<void>((resolve, reject) =>
      process.send!(result, undefined, {}, (err) => (err ? reject(err) : resolve())),
    );
  } else {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  }
  process.exit(0);
}
