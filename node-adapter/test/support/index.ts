// Test support for the node adapter (`@tessera/node-adapter/testing`): the
// engine's test store and its agreement with the oracle, disclosure helpers
// (seeded record keys, policies, noise variances) and a fake FHIR server.
// Built only for tests (it asserts with vitest); production code never
// imports it.
export * from './engine.ts';
export * from './disclosure.ts';
export * from './fake-fhir-server.ts';
