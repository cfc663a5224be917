// The node-token keys as a running gateway holds them. They live in the
// store, shared by every replica and by `tessera-gateway keys rotate`; each
// replica re-reads them on a schedule (and whenever its JWKS is asked for),
// and signs each token with the key the schedule (key-schedule.ts) names at
// that moment. So a rotation reaches every replica without a restart, and
// all of them switch keys at the same time.
import type { JWK } from 'jose';
import { keySchedule, type KeySchedulePolicy, type ScheduledKey } from './key-schedule.ts';
import {
  createNodeTokenSigner,
  publicJwks,
  type NodeTokenRequest,
  type NodeTokenSigner,
} from './node-token.ts';

/** A key as the store keeps it (SigningKeyRecord fits). */
export interface StoredNodeTokenKey extends ScheduledKey {
  readonly privateJwk: JWK;
}

export interface NodeTokenKeyringOptions {
  /** Every key, retired ones included (`store.listSigningKeys`). */
  readonly readKeys: () => Promise<readonly StoredNodeTokenKey[]>;
  /** The gateway's issuer id; nodes pin it. */
  readonly issuer: string;
  readonly policy: KeySchedulePolicy;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** Told once for the first key signed with and then at every switch to another key. */
  readonly onSigningKeyChange?: (kid: string) => void;
}

export interface NodeTokenKeyring {
  /** Signs with the key the schedule names now. */
  sign(request: NodeTokenRequest): string;
  /** Re-reads the keys, so a rotation made elsewhere is seen. */
  refresh(): Promise<void>;
  /** Re-reads the keys and answers the JWKS document: every key the schedule publishes now. */
  publishedJwks(): Promise<{ keys: JWK[] }>;
}

/**
 * Reads the keys and returns the keyring; the store must already hold one
 * (`store.getOrCreateSigningKey`).
 * @example const keyring = await openNodeTokenKeyring({ readKeys: () => store.listSigningKeys(), issuer, policy });
 *   supervisor.every('signing-keys', 10_000, () => keyring.refresh());
 */
export async function openNodeTokenKeyring(
  options: NodeTokenKeyringOptions,
): Promise<NodeTokenKeyring> {
  const { readKeys, issuer, policy, now = Date.now, onSigningKeyChange } = options;
  let keys: readonly StoredNodeTokenKey[] = [];
  let signers = new Map<string, NodeTokenSigner>();
  let lastSigningKid: string | undefined;

  async function refresh(): Promise<void> {
    const read = await readKeys();
    // Keys are never all deleted (the active one is never purged); an empty
    // answer is a fault, and the keys already known go on serving.
    if (read.length === 0) throw new Error('node tokens: the store holds no signing key');
    keys = read;
    // Signers of keys that are gone go with them; the others are kept.
    signers = new Map([...signers].filter(([kid]) => read.some((k) => k.kid === kid)));
    signingKey();
  }

  function schedule() {
    return keySchedule(keys, new Date(now()), policy);
  }

  function signingKey(): StoredNodeTokenKey {
    const key = schedule().signing;
    if (key === undefined) throw new Error('node tokens: no signing key');
    if (key.kid !== lastSigningKid) {
      lastSigningKid = key.kid;
      onSigningKeyChange?.(key.kid);
    }
    return key;
  }

  function signerFor(key: StoredNodeTokenKey): NodeTokenSigner {
    let signer = signers.get(key.kid);
    if (signer === undefined) {
      signer = createNodeTokenSigner({ privateJwk: key.privateJwk, kid: key.kid, issuer, now });
      signers.set(key.kid, signer);
    }
    return signer;
  }

  await refresh();
  return {
    sign: (request) => signerFor(signingKey()).sign(request),
    refresh,
    async publishedJwks() {
      await refresh();
      return publicJwks(schedule().published.map((key) => key.privateJwk));
    },
  };
}
