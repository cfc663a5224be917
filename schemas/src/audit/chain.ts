// The audit log as a hash chain: each entry carries the hash of the one before
// it, so editing, deleting or reordering any entry breaks the chain at that
// entry. Cutting off the tail leaves a valid shorter chain, which is why the
// writer also keeps the head (last index and hash) apart from the entries and
// verification checks against it.
//
// Pure: the gateway keeps entries in its SQL store, the node adapter in a file;
// both append with `appendEntry` and check with `verifyChain`.
//
// What the chain cannot do: sha256 is unkeyed, so whoever can write both the
// entries and the head can rewrite the whole tail consistently. Copying the head
// somewhere the writer cannot reach (another system, a printed report) is what
// closes that gap.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../query/canonical.ts';

/** A JSON value: what an entry's `detail` may hold. */
export type AuditJson =
  null | boolean | number | string | readonly AuditJson[] | { readonly [key: string]: AuditJson };

/**
 * What a decision came to. `accepted`: a query admitted for fan-out;
 * `refused`: turned away (authorisation, validation, rate or budget);
 * `released`: figures returned; `suppressed`: figures withheld by disclosure
 * control; `failed`: an error ended it; `alert`: a pattern worth a human look.
 */
export type AuditOutcome = 'accepted' | 'refused' | 'released' | 'suppressed' | 'failed' | 'alert';

/** What a caller supplies for a new entry; never a token, a patient identifier or an unreleased count. */
export interface AuditFields {
  /** ISO 8601 time of the decision, from the caller's clock. */
  readonly at: string;
  /** Who asked: the researcher's `sub`, or the gateway for node-side entries. */
  readonly actor: string;
  readonly project: string;
  readonly queryHash: string;
  /** What was decided, e.g. `query.submit`, `query.result`, `rate-limit`. */
  readonly action: string;
  readonly outcome: AuditOutcome;
  /** Released figures only (the same numbers the researcher saw). */
  readonly detail?: AuditJson;
}

export interface AuditEntry extends AuditFields {
  /** Position in the chain, from 0. */
  readonly index: number;
  /** `hash` of the previous entry, or AUDIT_GENESIS for the first. */
  readonly prevHash: string;
  /** `sha256:` + hex of the canonical JSON of every other field. */
  readonly hash: string;
}

/** The anchor kept apart from the entries: the last entry's index and hash. */
export interface AuditHead {
  readonly index: number;
  readonly hash: string;
}

export type AuditBreak = 'edited' | 'deleted' | 'reordered' | 'truncated' | 'broken-link';

export type AuditVerification =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly index: number; readonly reason: AuditBreak };

/** The `prevHash` of entry 0. */
export const AUDIT_GENESIS = `sha256:${'0'.repeat(64)}`;

/**
 * The hash of an entry: sha256 of the canonical JSON of all its fields but `hash`.
 * @example hashAuditEntry({ index: 0, at: '2026-01-01T00:00:00.000Z', actor: 'r1', project: 'p', queryHash: 'sha256:…', action: 'query.submit', outcome: 'accepted', prevHash: AUDIT_GENESIS }) // 'sha256:…'
 */
export function hashAuditEntry(
  entry: Omit<AuditEntry, 'hash'> & { readonly hash?: string },
): string {
  // canonicalJson drops undefined members, so this hashes everything but `hash`.
  const digest = createHash('sha256')
    .update(canonicalJson({ ...entry, hash: undefined }))
    .digest('hex');
  return `sha256:${digest}`;
}

/**
 * The entry that follows `prev` (the previous entry or the stored head;
 * `undefined` for the first entry of a log).
 * @example const first = appendEntry(undefined, fields); const second = appendEntry(first, moreFields);
 */
export function appendEntry(prev: AuditHead | undefined, fields: AuditFields): AuditEntry {
  const content: Omit<AuditEntry, 'hash'> = {
    index: prev === undefined ? 0 : prev.index + 1,
    at: fields.at,
    actor: fields.actor,
    project: fields.project,
    queryHash: fields.queryHash,
    action: fields.action,
    outcome: fields.outcome,
    ...(fields.detail === undefined ? {} : { detail: fields.detail }),
    prevHash: prev === undefined ? AUDIT_GENESIS : prev.hash,
  };
  return { ...content, hash: hashAuditEntry(content) };
}

export interface VerifyOptions {
  /** The separately stored head; without it a cut-off tail cannot be seen. */
  readonly head?: AuditHead | undefined;
}

/**
 * Checks a log read back in storage order and names the first entry that is
 * wrong. Per entry, in this order:
 * - its own hash does not match its content: `edited`, unless the content
 *   hashes correctly under another index, which means it was moved: `reordered`;
 * - its index is ahead of its position: `deleted`, or `reordered` when the
 *   missing index turns up later; behind its position: `reordered`;
 * - its `prevHash` is not the hash of the entry before: `broken-link` (one of
 *   the two was rewritten and re-hashed).
 * Then against the head: entries missing at the end are `truncated` at the
 * first missing index; a last entry that is not the head is `edited`; entries
 * past the head are `broken-link` at the first of them.
 * @example verifyChain(entries, { head }) // { ok: true, count: 42 } or { ok: false, index: 7, reason: 'edited' }
 */
export function verifyChain(
  entries: readonly AuditEntry[],
  options: VerifyOptions = {},
): AuditVerification {
  let prevHash = AUDIT_GENESIS;
  for (const [position, entry] of entries.entries()) {
    if (hashAuditEntry(entry) !== entry.hash) {
      return fail(
        position,
        movedFrom(entry, entries.length) === undefined ? 'edited' : 'reordered',
      );
    }
    if (entry.index !== position) {
      const missingLater = entries.slice(position + 1).some((e) => e.index === position);
      return fail(position, entry.index > position && !missingLater ? 'deleted' : 'reordered');
    }
    if (entry.prevHash !== prevHash) return fail(position, 'broken-link');
    prevHash = entry.hash;
  }
  const head = options.head;
  if (head !== undefined) {
    const count = entries.length;
    if (head.index >= count) return fail(count, 'truncated');
    if (head.index < count - 1) return fail(head.index + 1, 'broken-link');
    if (head.index >= 0 && entries[head.index]?.hash !== head.hash) {
      return fail(head.index, 'edited');
    }
  }
  return { ok: true, count: entries.length };
}

function fail(index: number, reason: AuditBreak): AuditVerification {
  return { ok: false, index, reason };
}

/** The index under which an entry's content hashes to its stored hash, if not its own. */
function movedFrom(entry: AuditEntry, count: number): number | undefined {
  for (let index = 0; index < count; index += 1) {
    if (index !== entry.index && hashAuditEntry({ ...entry, index }) === entry.hash) return index;
  }
  return undefined;
}
