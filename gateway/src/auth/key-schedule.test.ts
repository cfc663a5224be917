import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  keySchedule,
  nodeTokenKeyPolicy,
  retiredKeyPublishedForSec,
  type KeySchedulePolicy,
  type ScheduledKey,
} from './key-schedule.ts';

const T0 = Date.UTC(2030, 0, 1, 12);
const at = (sec: number): Date => new Date(T0 + sec * 1000);
/** 15 minutes' delay; a token is honoured for 35 s after it is signed. */
const POLICY: KeySchedulePolicy = nodeTokenKeyPolicy(900);
const PUBLISHED_FOR = retiredKeyPublishedForSec(POLICY);

/** Keys as the store holds them after rotations at the given times (seconds after T0). */
function rotated(...rotations: number[]): ScheduledKey[] {
  const created = [0, ...rotations];
  return created.map((sec, i) => ({
    kid: `k${i + 1}`,
    createdAt: at(sec),
    retiredAt: i + 1 < created.length ? at(created[i + 1]!) : null,
  }));
}

const kidsOf = (keys: readonly ScheduledKey[]): string[] => keys.map((k) => k.kid);

describe('keySchedule', () => {
  it('signs with the first key at once, having nothing published before it', () => {
    const schedule = keySchedule(rotated(), at(0), POLICY);
    expect(schedule.signing?.kid).toBe('k1');
    expect(kidsOf(schedule.published)).toEqual(['k1']);
    expect(schedule.plan.map((p) => p.role)).toEqual(['signing']);
  });

  it('publishes a new key at once and signs with it only after the delay', () => {
    const keys = rotated(3600);
    const justRotated = keySchedule(keys, at(3600), POLICY);
    expect(justRotated.signing?.kid).toBe('k1');
    expect(kidsOf(justRotated.published)).toEqual(['k2', 'k1']);
    expect(justRotated.plan.map((p) => [p.key.kid, p.role])).toEqual([
      ['k2', 'next'],
      ['k1', 'signing'],
    ]);
    expect(justRotated.plan[0]?.signsFrom).toEqual(at(3600 + 900));

    expect(keySchedule(keys, at(3600 + 899.999), POLICY).signing?.kid).toBe('k1');
    const switched = keySchedule(keys, at(3600 + 900), POLICY);
    expect(switched.signing?.kid).toBe('k2');
    expect(switched.plan.map((p) => [p.key.kid, p.role])).toEqual([
      ['k2', 'signing'],
      ['k1', 'retired'],
    ]);
  });

  it('keeps a retired key published until the last token it signed has expired', () => {
    const keys = rotated(3600);
    // k1 signs until 3600 + 900; its last token is honoured for 35 s more.
    expect(PUBLISHED_FOR).toBe(935);
    const retired = keySchedule(keys, at(3600 + 934), POLICY);
    expect(kidsOf(retired.published)).toEqual(['k2', 'k1']);
    expect(retired.plan[1]?.publishedUntil).toEqual(at(3600 + 935));
    const gone = keySchedule(keys, at(3600 + 935), POLICY);
    expect(kidsOf(gone.published)).toEqual(['k2']);
    expect(gone.plan.map((p) => p.role)).toEqual(['signing', 'unpublished']);
  });

  it('skips a key rotated away before it ever signed, and publishes it meanwhile', () => {
    const keys = rotated(3600, 3700);
    const between = keySchedule(keys, at(3750), POLICY);
    expect(between.signing?.kid).toBe('k1');
    expect(between.plan.map((p) => [p.key.kid, p.role])).toEqual([
      ['k3', 'next'],
      ['k2', 'retired'],
      ['k1', 'signing'],
    ]);
    expect(keySchedule(keys, at(3600 + 900), POLICY).signing?.kid).toBe('k2');
    expect(keySchedule(keys, at(3700 + 900), POLICY).signing?.kid).toBe('k3');
  });

  it('signs with the oldest key while none has passed the delay', () => {
    const keys = rotated(10, 20);
    expect(keySchedule(keys, at(30), POLICY).signing?.kid).toBe('k1');
    expect(keySchedule(keys, at(910), POLICY).signing?.kid).toBe('k2');
  });

  it('tells keys created in the same instant apart by which was retired', () => {
    // Two rotations at once: k2 was created and retired in the same instant as k3 was created.
    const keys = rotated(3600, 3600);
    expect(keySchedule(keys, at(3600 + 900), POLICY).signing?.kid).toBe('k3');
    expect(kidsOf(keySchedule(keys.toReversed(), at(0), POLICY).published)).toEqual([
      'k3',
      'k2',
      'k1',
    ]);
  });

  it('has no signing key without keys', () => {
    expect(keySchedule([], at(0), POLICY)).toEqual({ signing: undefined, published: [], plan: [] });
  });

  it('always publishes the signing key, and every token it signed while honoured', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 30_000 }),
        (gaps, delaySec, nowSec) => {
          const policy = nodeTokenKeyPolicy(delaySec);
          let t = 0;
          const keys = rotated(...gaps.map((gap) => (t += gap)));
          const signedAt = (sec: number) => keySchedule(keys, at(sec), policy).signing!;
          const now = keySchedule(keys, at(nowSec), policy);
          expect(now.published).toContain(now.signing);
          // A token signed up to `tokenAcceptedForSec` ago still finds its key.
          for (let back = 0; back <= policy.tokenAcceptedForSec; back += 5) {
            if (nowSec - back < 0) break;
            expect(now.published).toContain(signedAt(nowSec - back));
          }
          // And no key signs before its delay has passed, but the very first.
          const signing = now.signing!;
          if (signing.kid !== 'k1') {
            expect(signing.createdAt.getTime() + delaySec * 1000).toBeLessThanOrEqual(
              at(nowSec).getTime(),
            );
          }
        },
      ),
    );
  });
});
