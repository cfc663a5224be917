// Test support for the gateway (`@tessera/gateway/testing`) that other
// packages' tests and tools use, none of it bound to a test runner: the test
// identity provider (oidc-provider), a stand-in key server and throwaway
// databases (PGlite, PostgreSQL). The stand-in nodes (test-node-server.ts)
// and the Store contract (store-contract.ts) register vitest hooks and
// suites, and serve only the gateway's own tests. Production code never
// imports any of it.
export * from './test-idp.ts';
export * from './test-key-server.ts';
export * from './test-databases.ts';
