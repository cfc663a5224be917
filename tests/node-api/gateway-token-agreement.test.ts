// The gateway signs node tokens and the node checks them, but the two share
// no code: what each assumes of the other is pinned here. The gateway keeps a
// retired key published for a token's lifetime and the node's clock
// tolerance, and publishes a new key for longer than the node caches its keys
// before signing with it (docs/operations.md, "Rotating the node-token signing key").
import { describe, expect, it } from 'vitest';
import { configDefaults } from '@tessera/schemas/testing';
import { NODE_CLOCK_TOLERANCE_SEC, NODE_TOKEN_MAX_TTL_SEC } from '@tessera/gateway';
import {
  GATEWAY_CLOCK_TOLERANCE_SEC,
  GATEWAY_JWKS_CACHE_MAX_AGE_SEC,
  GATEWAY_TOKEN_MAX_LIFETIME_SEC,
} from '@tessera/node-adapter';

describe('gateway and node agree on node tokens', () => {
  it('on their longest lifetime and the clock tolerance', () => {
    expect(NODE_TOKEN_MAX_TTL_SEC).toBe(GATEWAY_TOKEN_MAX_LIFETIME_SEC);
    expect(NODE_CLOCK_TOLERANCE_SEC).toBe(GATEWAY_CLOCK_TOLERANCE_SEC);
  });

  it('publish a new key for longer than a node trusts the keys it fetched', () => {
    const { nodeTokens } = configDefaults('gateway-config');
    expect(nodeTokens.keyPublicationDelaySec).toBeGreaterThan(GATEWAY_JWKS_CACHE_MAX_AGE_SEC);
  });
});
