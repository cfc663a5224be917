// Where the shared fixtures are, wherever the test runs from.
import { fileURLToPath } from 'node:url';

export const SYNTHEA_10 = fileURLToPath(
  new URL('../../../shared/fixtures/synthea/10-patients', import.meta.url),
);
export const SYNTHEA_100 = fileURLToPath(
  new URL('../../../shared/fixtures/synthea/100-patients', import.meta.url),
);
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The file of an example query, in the example queries' one home
 * (schemas/fixtures/queries/examples.json names them): what a researcher
 * hands to `tessera query`.
 */
export function exampleQueryFile(id: string): string {
  return fileURLToPath(new URL(`../../schemas/fixtures/queries/valid/${id}.json`, import.meta.url));
}

/** The public FHIR R4 data sets (one folder each; sources in corpus-sources.json). */
export const PUBLIC_FHIR_CORPUS = fileURLToPath(
  new URL('../../node-adapter/test/fixtures/fhir-corpus/', import.meta.url),
);
