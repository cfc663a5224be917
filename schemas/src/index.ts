// @tessera/schemas: the contract shared by the gateway and the nodes. No I/O.
export type * from './generated/query.ts';
export type {
  Account,
  Bounds,
  Budget,
  Cell,
  Count,
  Disclosure,
  MeasureResult,
  NodeResult,
  QueryHash,
  Stratum,
  StratumKey,
} from './generated/node-result.ts';
export type {
  MergedCell,
  MergedMeasure,
  MergedResult,
  NodeOutcome,
} from './generated/merged-result.ts';
export type { CatalogueEntry } from './generated/catalogue.ts';
export type { NodePolicyConfig } from './generated/node-policy.ts';
export type { ResolvedNodePolicyConfig } from './generated/resolved-node-policy.ts';
export * from './problem.ts';
export {
  RAW_LIMITS,
  type SchemaName,
  type SchemaTypes,
  assertSchema,
  isValid,
  prescan,
} from './validate.ts';
export * from './query/walk.ts';
export * from './query/semantic.ts';
export * from './query/canonical.ts';
export * from './query/parse.ts';
export * from './query/strict-json.ts';
export { ccdlToQuery } from './ccdl/ccdl-to-query.ts';
export * from './config.ts';
export type { NodeConfig, FhirAuth } from './generated/node-config.ts';
export type { ResolvedFhirAuth } from './generated/resolved-node-config.ts';
export type { GatewayConfig } from './generated/gateway-config.ts';
export * from './http-errors.ts';
export * from './audit/chain.ts';
export * from './render/measure-report.ts';
export * from './render/csv.ts';
export * from './cli.ts';
export { EXAMPLE_QUERIES, type ExampleQuery } from './generated/examples.ts';
