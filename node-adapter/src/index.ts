// @tessera/node-adapter: the regional service as other packages may use it.
// The `tessera-node` CLI (bin/) runs the service; this is what the system
// tests, the benchmarks, the privacy harness and the demo drive in-process:
// the composition root and the parts it wires (sources, store, ingest, sync,
// the engine, disclosure control, audit log and release ledger), each through
// its folder's index where it has one. Anything else in src/ is internal.
// Test support lives outside src/: `@tessera/node-adapter/testing`
// (test/support/) and `@tessera/node-adapter/oracle` (test/oracle/).

// The composition root: configuration in, a ready app out.
export {
  type NodeOptions,
  type NodeService,
  type NodeSettings,
  createNodeService,
  readNodeConfig,
} from './app/node.ts';
export { type NodeErrorCode, nodeErrors } from './errors.ts';

// Data sources, the embedded store, and getting data into it.
export {
  type DuckDbSource,
  type FhirQuerySource,
  type NodeSource,
  type OpenSourceOptions,
  type Readiness,
  openDuckDbSource,
  openFhirQuerySource,
  openNodeSource,
} from './sources/index.ts';
export { type OpenStoreOptions, type Store, createDuckDbRunner, openStore } from './store/open.ts';
export { recordKey } from './store/record-key.ts';
export {
  type IngestOptions,
  type IngestProgress,
  type IngestReport,
  ingest,
} from './ingest/index.ts';
export {
  type GenerateOptions,
  type GenerateReport,
  type RegionId,
  REGION_IDS,
  generateRegion,
  isRegionId,
} from './generate/index.ts';
export {
  type RefreshOptions,
  type RefreshReport,
  type SyncMode,
  refreshStore,
} from './sync/harvest.ts';
export { type MirrorState, mirrorDir, readMirrorState } from './sync/mirror.ts';

// The live FHIR source, and the search parameters it may send.
export { type FhirSource, type FhirSourceOptions, createFhirSource } from './live/fhir-source.ts';
export { COMMON_PARAMS, TYPE_PARAMS } from './fhir-client/search-url.ts';

// The engine: query → SQL, run, decoded into true figures.
export {
  type CompiledQuery,
  type Engine,
  type EngineOptions,
  type RawCell,
  type RawMeasure,
  type RawResult,
  type SourceQuery,
  type SqlRunner,
  type SqlValue,
  type SummaryBounds,
  compileQuery,
  compileUnitProbe,
  createEngine,
  decodeRows,
  duckDbDialect,
  postgresDialect,
  readStoredUnits,
} from './engine/index.ts';

// Disclosure control, and what it answers to in the evaluation pipeline.
export {
  type NodePolicy,
  budgetLimits,
  createDisclosureControl,
  loadPolicy,
} from './disclosure/index.ts';
export type { DisclosureControl } from './evaluate/ports.ts';
export { type OptOutCodes, excludeOptedOut, withOptOut } from './evaluate/opt-out.ts';

// The hash-chained audit log and the release ledger, on disk.
export {
  type FileAuditLog,
  openFileAuditLog,
  readAuditEntries,
  verifyAuditLog,
} from './audit/file-audit-log.ts';
export { type FileReleaseLedger, openFileReleaseLedger } from './ledger/file-ledger.ts';

// What the node assumes of the gateway's tokens and keys; the gateway, which
// shares no code with it, must agree (tests/node-api/gateway-token-agreement.test.ts).
export {
  GATEWAY_CLOCK_TOLERANCE_SEC,
  GATEWAY_JWKS_CACHE_MAX_AGE_SEC,
  GATEWAY_TOKEN_MAX_LIFETIME_SEC,
} from './auth/index.ts';
