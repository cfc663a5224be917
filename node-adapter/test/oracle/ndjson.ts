// FHIR NDJSON in and out for the oracle's users (tests, benchmark): the
// oracle reads the same files ingest reads, without ingest's code.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FhirResource } from './read-fhir.ts';

function isResource(value: unknown): value is FhirResource {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { resourceType?: unknown }).resourceType === 'string'
  );
}

/**
 * Every resource of the `.ndjson` files directly in `dir`, file by file in
 * name order; lines that are not resources are skipped.
 * @example const resources = await readNdjsonDir('../shared/fixtures/synthea/10-patients');
 */
export async function readNdjsonDir(dir: string): Promise<FhirResource[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ndjson')).sort();
  const out: FhirResource[] = [];
  for (const name of names) {
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (isResource(parsed)) out.push(parsed);
    }
  }
  return out;
}

/**
 * Every resource of the FHIR files directly in `dir`, file by file in name
 * order: `.ndjson` lines, and `.json` documents, each a resource or a Bundle
 * whose entries' resources are taken (DELETE entries left out). What is not
 * a resource is skipped.
 * @example const resources = await readFhirDir('test/fixtures/fhir-corpus/us-core');
 */
export async function readFhirDir(dir: string): Promise<FhirResource[]> {
  const out = await readNdjsonDir(dir);
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  for (const name of names) {
    const document: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
    if (!isResource(document)) continue;
    if (document.resourceType !== 'Bundle') {
      out.push(document);
      continue;
    }
    const entries: unknown = document.entry;
    for (const entry of Array.isArray(entries) ? (entries as unknown[]) : []) {
      const e = entry as { resource?: unknown; request?: { method?: unknown } } | null;
      if (e?.request?.method === 'DELETE') continue;
      if (isResource(e?.resource)) out.push(e.resource);
    }
  }
  return out;
}

/**
 * Writes resources as `<ResourceType>.ndjson` files in `dir` (created if
 * needed), in their order; returns the file paths.
 * @example await writeNdjsonDir(tmp, resources) // ['/tmp/x/Patient.ndjson', ...]
 */
export async function writeNdjsonDir(
  dir: string,
  resources: readonly FhirResource[],
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const byType = new Map<string, string[]>();
  for (const r of resources) {
    const lines = byType.get(r.resourceType) ?? [];
    lines.push(JSON.stringify(r));
    byType.set(r.resourceType, lines);
  }
  const paths: string[] = [];
  for (const [type, lines] of byType) {
    const path = join(dir, `${type}.ndjson`);
    await writeFile(path, `${lines.join('\n')}\n`);
    paths.push(path);
  }
  return paths;
}
