// The test FHIR server as a process of its own, standing in for a hospital's
// FHIR R4 server when trying a node by hand (docs/operations/node-adapter.md):
//   npx tsx tests/fhir-server/main.ts --port 8090 --load <dir of Bulk Data NDJSON>
// It serves http://127.0.0.1:<port>/fhir, searches and Bulk Data $export,
// from memory, until stopped.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import { loadResources, startFhirServer } from './server.ts';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '8090' }, load: { type: 'string', multiple: true } },
});

/** Every resource in the directory's .ndjson files. */
async function readNdjson(dir: string): Promise<Resource[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson')).sort();
  const resources: Resource[] = [];
  for (const file of files) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (line.trim() !== '') resources.push(JSON.parse(line) as Resource);
    }
  }
  return resources;
}

const server = await startFhirServer({ port: Number(values.port), capabilities: 'full', bulk: {} });
for (const dir of values.load ?? []) {
  const resources = await readNdjson(dir);
  await loadResources(server.baseUrl, resources, 500, 2);
  console.log(`loaded ${resources.length} resources from ${dir}`);
}
console.log(`FHIR server at ${server.baseUrl}`);
const stop = (): void => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
