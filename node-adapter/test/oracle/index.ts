// The brute-force oracle (`@tessera/node-adapter/oracle`): a reference
// evaluator over raw FHIR resources that the engine, the live source, the
// benchmarks and the privacy harness are compared with, the NDJSON it reads,
// and fast-check generators of populations and queries that exercise it.
// Built for tests and benchmarks; production code never imports it.
export * from './oracle.ts';
export * from './read-fhir.ts';
export * from './ndjson.ts';
export * from './random-population.ts';
export * from './consent-clinic.ts';
