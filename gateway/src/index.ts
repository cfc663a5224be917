// @tessera/gateway: the central service as other packages may use it. The
// `tessera-gateway` and `tessera` CLIs (bin/) run it; this is what the system
// tests, the benchmarks and the demo drive in-process: the composition root,
// the state stores, the gateway's own node tokens (stand-in gateways sign
// with them), merging, the researchers' table and the error catalogue, each
// through its folder's index where it has one. Anything else in src/ is
// internal. Test support lives outside src/: `@tessera/gateway/testing`
// (test/support/).

// The composition root: configuration in, a ready app out.
export {
  type GatewayOptions,
  type GatewayService,
  type GatewaySettings,
  createGatewayService,
  readGatewayConfig,
} from './app/gateway.ts';
export { type GatewayErrorCode, NODE_REFUSAL_CODES, gatewayErrors } from './errors.ts';

// The state store: PGlite, PostgreSQL or in memory behind one interface.
export {
  type JobRecord,
  type Store,
  type StoreTarget,
  createMemoryStore,
  createPgliteStore,
  createPostgresStore,
  openStore,
} from './store/index.ts';

// The gateway's signed, body-bound tokens to nodes.
export {
  NODE_CLOCK_TOLERANCE_SEC,
  NODE_TOKEN_MAX_TTL_SEC,
  type NodeTokenSigner,
  type SigningKey,
  bodyHash,
  createNodeTokenSigner,
  generateSigningKey,
  publicJwks,
} from './auth/index.ts';

// Merging node answers, and the table researchers see.
export { mergeResults } from './merge/index.ts';
export { renderTable } from './cli/table.ts';
