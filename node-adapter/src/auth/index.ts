// The node's authentication of the gateway.
export {
  GATEWAY_CLOCK_TOLERANCE_SEC,
  GATEWAY_JWKS_CACHE_MAX_AGE_SEC,
  GATEWAY_TOKEN_MAX_LIFETIME_SEC,
  GATEWAY_TOKEN_TYP,
  createGatewayTokenVerifier,
} from './gateway-token.ts';
export type {
  GatewayCaller,
  GatewayTokenVerifier,
  GatewayTokenVerifierOptions,
} from './gateway-token.ts';
export { createMemoryReplayCache } from './replay-cache.ts';
export type { MemoryReplayCacheOptions, ReplayCache } from './replay-cache.ts';
export { REPLAY_FILE, openFileReplayCache } from './file-replay-cache.ts';
export type { FileReplayCache, FileReplayCacheOptions } from './file-replay-cache.ts';
