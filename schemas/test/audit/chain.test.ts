import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AUDIT_GENESIS,
  appendEntry,
  hashAuditEntry,
  verifyChain,
  type AuditEntry,
  type AuditFields,
  type AuditHead,
} from '../../src/audit/chain.ts';

function fieldsAt(i: number): AuditFields {
  return {
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    actor: `researcher-${i % 3}`,
    project: 'diabetes-2026',
    queryHash: `sha256:${i.toString(16).padStart(64, '0')}`,
    action: i % 2 === 0 ? 'query.submit' : 'query.result',
    outcome: i % 2 === 0 ? 'accepted' : 'released',
    ...(i % 2 === 0 ? {} : { detail: { count: { low: 10 * i, high: 10 * i + 9 }, nodes: ['a'] } }),
  };
}

function buildChain(n: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let i = 0; i < n; i += 1) entries.push(appendEntry(entries.at(-1), fieldsAt(i)));
  return entries;
}

function headOf(entries: readonly AuditEntry[]): AuditHead {
  const last = entries.at(-1)!;
  return { index: last.index, hash: last.hash };
}

/** An entry rewritten by someone who also recomputed its hash. */
function rehashed(entry: AuditEntry): AuditEntry {
  return { ...entry, hash: hashAuditEntry(entry) };
}

describe('appendEntry', () => {
  it('starts at index 0 from the genesis hash and links each entry to the one before', () => {
    const [a, b] = buildChain(2);
    expect(a!.index).toBe(0);
    expect(a!.prevHash).toBe(AUDIT_GENESIS);
    expect(b!.index).toBe(1);
    expect(b!.prevHash).toBe(a!.hash);
    expect(b!.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('hashes the canonical form, so key order does not matter', () => {
    const entry = appendEntry(undefined, { ...fieldsAt(1), detail: { b: 1, a: 2 } });
    const reordered = { ...entry, detail: { a: 2, b: 1 } };
    expect(hashAuditEntry(reordered)).toBe(entry.hash);
  });

  it('leaves detail out when there is none, rather than hashing undefined', () => {
    const entry = appendEntry(undefined, fieldsAt(0));
    expect('detail' in entry).toBe(false);
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain, with and without its head', () => {
    const entries = buildChain(5);
    expect(verifyChain(entries)).toEqual({ ok: true, count: 5 });
    expect(verifyChain(entries, { head: headOf(entries) })).toEqual({ ok: true, count: 5 });
    expect(verifyChain([])).toEqual({ ok: true, count: 0 });
  });

  it('names the edited entry', () => {
    const entries = buildChain(5);
    entries[2] = { ...entries[2]!, outcome: 'refused' };
    expect(verifyChain(entries)).toEqual({ ok: false, index: 2, reason: 'edited' });
  });

  it('names a deleted entry by the index that went missing', () => {
    const entries = buildChain(5);
    entries.splice(1, 1);
    expect(verifyChain(entries)).toEqual({ ok: false, index: 1, reason: 'deleted' });
  });

  it('names a moved entry, whether moved in place or renumbered to fit', () => {
    const entries = buildChain(5);
    const swapped = [entries[0]!, entries[3]!, entries[2]!, entries[1]!, entries[4]!];
    expect(verifyChain(swapped)).toEqual({ ok: false, index: 1, reason: 'reordered' });
    const renumbered = swapped.map((e, index) => ({ ...e, index }));
    expect(verifyChain(renumbered)).toEqual({ ok: false, index: 1, reason: 'reordered' });
  });

  it('needs the head to see a cut-off tail', () => {
    const entries = buildChain(5);
    const head = headOf(entries);
    expect(verifyChain(entries.slice(0, 3))).toEqual({ ok: true, count: 3 });
    expect(verifyChain(entries.slice(0, 3), { head })).toEqual({
      ok: false,
      index: 3,
      reason: 'truncated',
    });
    expect(verifyChain([], { head })).toEqual({ ok: false, index: 0, reason: 'truncated' });
  });

  it('sees a rewritten, re-hashed entry as a broken link to the next one', () => {
    const entries = buildChain(5);
    entries[2] = rehashed({ ...entries[2]!, actor: 'someone-else' });
    expect(verifyChain(entries)).toEqual({ ok: false, index: 3, reason: 'broken-link' });
  });

  it('sees a re-hashed last entry through the head', () => {
    const entries = buildChain(3);
    const head = headOf(entries);
    entries[2] = rehashed({ ...entries[2]!, outcome: 'suppressed' });
    expect(verifyChain(entries)).toEqual({ ok: true, count: 3 });
    expect(verifyChain(entries, { head })).toEqual({ ok: false, index: 2, reason: 'edited' });
  });

  it('flags entries past the head', () => {
    const entries = buildChain(4);
    const head = headOf(entries.slice(0, 2));
    expect(verifyChain(entries, { head })).toEqual({ ok: false, index: 2, reason: 'broken-link' });
  });
});

// Each generated case is a chain and one tampering with the entry it should be
// found at.
type Tamper =
  | { kind: 'edit'; at: number; field: EditableField; salt: string }
  | { kind: 'rewrite'; at: number; field: EditableField; salt: string }
  | { kind: 'delete'; at: number }
  | { kind: 'swap'; at: number; other: number; renumber: boolean }
  | { kind: 'truncate'; keep: number };

const EDITABLE = [
  'at',
  'actor',
  'project',
  'queryHash',
  'action',
  'outcome',
  'detail',
  'prevHash',
  'hash',
] as const;
type EditableField = (typeof EDITABLE)[number];

function edited(entry: AuditEntry, field: EditableField, salt: string): AuditEntry {
  switch (field) {
    case 'outcome':
      return { ...entry, outcome: entry.outcome === 'refused' ? 'released' : 'refused' };
    case 'detail':
      return { ...entry, detail: { tampered: salt, was: entry.detail ?? null } };
    case 'at':
    case 'actor':
    case 'project':
    case 'queryHash':
    case 'action':
    case 'prevHash':
    case 'hash':
      return { ...entry, [field]: `${entry[field]}${salt}` };
  }
}

const chainAndTamper = fc.integer({ min: 1, max: 24 }).chain((n) =>
  fc.tuple(
    fc.constant(n),
    fc.oneof(
      fc.record({
        kind: fc.constant('edit' as const),
        at: fc.nat(n - 1),
        field: fc.constantFrom(...EDITABLE),
        salt: fc.string({ minLength: 1, maxLength: 4 }),
      }),
      fc.record({
        kind: fc.constant('rewrite' as const),
        at: fc.nat(n - 1),
        field: fc.constantFrom(...EDITABLE.filter((f) => f !== 'hash' && f !== 'prevHash')),
        salt: fc.string({ minLength: 1, maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(n - 1) }),
      fc.record({
        kind: fc.constant('swap' as const),
        at: fc.nat(n - 1),
        other: fc.nat(n - 1),
        renumber: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat(n - 1) }),
    ),
  ),
);

describe('verifyChain, any single tampering (property)', () => {
  it('is found at the entry it touched, with the right reason', () => {
    fc.assert(
      fc.property(chainAndTamper, ([n, tamper]: [number, Tamper]) => {
        const entries = buildChain(n);
        const head = headOf(entries);
        switch (tamper.kind) {
          case 'edit': {
            entries[tamper.at] = edited(entries[tamper.at]!, tamper.field, tamper.salt);
            expect(verifyChain(entries, { head })).toEqual({
              ok: false,
              index: tamper.at,
              reason: 'edited',
            });
            break;
          }
          case 'rewrite': {
            // Edited and re-hashed: the next entry's link, or the head, gives it away.
            entries[tamper.at] = rehashed(edited(entries[tamper.at]!, tamper.field, tamper.salt));
            const last = tamper.at === n - 1;
            expect(verifyChain(entries, { head })).toEqual(
              last
                ? { ok: false, index: tamper.at, reason: 'edited' }
                : { ok: false, index: tamper.at + 1, reason: 'broken-link' },
            );
            break;
          }
          case 'delete': {
            entries.splice(tamper.at, 1);
            const last = tamper.at === n - 1;
            expect(verifyChain(entries, { head })).toEqual({
              ok: false,
              index: tamper.at,
              reason: last ? 'truncated' : 'deleted',
            });
            break;
          }
          case 'swap': {
            fc.pre(tamper.at !== tamper.other);
            const [i, j] = [Math.min(tamper.at, tamper.other), Math.max(tamper.at, tamper.other)];
            [entries[i], entries[j]] = [entries[j]!, entries[i]!];
            const tampered = tamper.renumber
              ? entries.map((e, index) => ({ ...e, index }))
              : entries;
            expect(verifyChain(tampered, { head })).toEqual({
              ok: false,
              index: i,
              reason: 'reordered',
            });
            break;
          }
          case 'truncate': {
            expect(verifyChain(entries.slice(0, tamper.keep), { head })).toEqual({
              ok: false,
              index: tamper.keep,
              reason: 'truncated',
            });
            break;
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accepts every untouched chain', () => {
    fc.assert(
      fc.property(fc.nat(30), (n) => {
        const entries = buildChain(n);
        const head = n === 0 ? undefined : headOf(entries);
        expect(verifyChain(entries, { head })).toEqual({ ok: true, count: n });
      }),
    );
  });
});
