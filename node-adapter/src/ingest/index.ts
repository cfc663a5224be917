// Public surface of ingest: FHIR NDJSON / Bundles into the DuckDB store.
export { ingest } from './ingest.ts';
export type { IngestOptions, IngestProgress, IngestReport, ResourceTypeCounts } from './ingest.ts';
export { TooManyBadLinesError } from './bad-lines-error.ts';
export { flattenResource, USED_RESOURCE_TYPES } from './flatten.ts';
export type { Flattened, FlatEvent, FlatMedication, FlatPatient } from './flatten.ts';
