// Which node-token signing key a gateway signs with, and which keys it
// publishes, at a given time. A rotation (`tessera-gateway keys rotate`)
// retires the active key and adds a new one in one step, but nodes cache the
// gateway's JWKS (for up to 10 minutes), and a token signed with a key a node
// has not fetched yet would be refused. So a new key is published at once
// and signs only `publicationDelaySec` later, and a retired key stays
// published until the last token it can have signed has expired at every
// node. Every replica reads the same keys from the store and decides alike.
import { NODE_CLOCK_TOLERANCE_SEC, NODE_TOKEN_MAX_TTL_SEC } from './node-token.ts';

/** What the schedule needs of a stored key (SigningKeyRecord fits). */
export interface ScheduledKey {
  readonly kid: string;
  readonly createdAt: Date;
  /** When a rotation retired it; its successor was created at the same moment. */
  readonly retiredAt: Date | null;
}

export interface KeySchedulePolicy {
  /** Seconds between a key's creation and the first token signed with it. */
  readonly publicationDelaySec: number;
  /** Seconds after its signing that a node may still accept a token. */
  readonly tokenAcceptedForSec: number;
}

/**
 * The schedule for node tokens. A node honours a token until its `exp` plus
 * its clock tolerance by the node's clock, which may itself run behind ours
 * by as much: so a token may be honoured, by our clock, for its longest
 * lifetime and twice the tolerance after it was signed.
 * @example const policy = nodeTokenKeyPolicy(config.nodeTokens.keyPublicationDelaySec);
 */
export function nodeTokenKeyPolicy(publicationDelaySec: number): KeySchedulePolicy {
  return {
    publicationDelaySec,
    tokenAcceptedForSec: NODE_TOKEN_MAX_TTL_SEC + 2 * NODE_CLOCK_TOLERANCE_SEC,
  };
}

/**
 * How long a retired key stays published after its retirement: it may still
 * sign until its successor takes over, and its last token must outlive that.
 * @example retiredKeyPublishedForSec({ publicationDelaySec: 900, tokenAcceptedForSec: 35 }) // 935
 */
export function retiredKeyPublishedForSec(policy: KeySchedulePolicy): number {
  return policy.publicationDelaySec + policy.tokenAcceptedForSec;
}

/**
 * - `signing`: the key tokens are signed with now.
 * - `next`: published, and signs from `signsFrom`.
 * - `retired`: published until `publishedUntil`, so that tokens it signed still verify.
 * - `unpublished`: no longer published; the purge deletes it.
 */
export type KeyRole = 'signing' | 'next' | 'retired' | 'unpublished';

export interface KeyPlan<K extends ScheduledKey> {
  readonly key: K;
  readonly role: KeyRole;
  /** When gateways start signing with it: its creation plus the publication delay. */
  readonly signsFrom: Date;
  /** When it leaves the JWKS; null while it is not retired. */
  readonly publishedUntil: Date | null;
}

export interface KeySchedule<K extends ScheduledKey> {
  /** Undefined only when there is no key at all. */
  readonly signing: K | undefined;
  /** What the JWKS holds, newest first; always includes `signing`. */
  readonly published: readonly K[];
  /** Every key, newest first, with its role. */
  readonly plan: readonly KeyPlan<K>[];
}

const ms = (sec: number): number => sec * 1000;

/** Creation order; among keys created in the same instant, the one retired later (or never) is newer. */
function newestFirst(a: ScheduledKey, b: ScheduledKey): number {
  const retired = (k: ScheduledKey): number => k.retiredAt?.getTime() ?? Infinity;
  return (
    b.createdAt.getTime() - a.createdAt.getTime() ||
    retired(b) - retired(a) ||
    (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0)
  );
}

/**
 * The keys' roles at `at`. The newest key whose publication delay has passed
 * signs; before any has (a gateway's very first key, or several rotations
 * in the first moments), the oldest signs, since nothing was published
 * before it for nodes to know instead.
 * @example const { signing, published } = keySchedule(await store.listSigningKeys(), new Date(), policy);
 */
export function keySchedule<K extends ScheduledKey>(
  keys: readonly K[],
  at: Date,
  policy: KeySchedulePolicy,
): KeySchedule<K> {
  const now = at.getTime();
  const sorted = [...keys].sort(newestFirst);
  const signsFrom = (key: K): number => key.createdAt.getTime() + ms(policy.publicationDelaySec);
  const signing = sorted.find((key) => signsFrom(key) <= now) ?? sorted.at(-1);
  const publishedFor = ms(retiredKeyPublishedForSec(policy));
  const plan = sorted.map((key): KeyPlan<K> => {
    const publishedUntil =
      key.retiredAt === null ? null : new Date(key.retiredAt.getTime() + publishedFor);
    const role: KeyRole =
      key === signing
        ? 'signing'
        : publishedUntil === null
          ? 'next'
          : now < publishedUntil.getTime()
            ? 'retired'
            : 'unpublished';
    return { key, role, signsFrom: new Date(signsFrom(key)), publishedUntil };
  });
  return {
    signing,
    published: plan.filter((p) => p.role !== 'unpublished').map((p) => p.key),
    plan,
  };
}
