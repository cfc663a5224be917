// Rate limits as a generic cell rate algorithm (GCRA): `limit` hits per
// `windowSec` is a rate of one hit every windowSec/limit seconds (the period)
// with a burst of `limit`. Each key keeps one number, its theoretical arrival
// time (TAT): when the key would be fully refilled. A hit at `now` is allowed
// when TAT - now leaves room for one more period within the window, and then
// moves TAT one period on; a refused hit changes nothing. In any d seconds a
// key gets at most `limit` plus d seconds' worth of the rate, whatever the
// clock says: there is no window boundary to straddle (threat 57).
// Both stores use these rules; the SQL store applies `admit` to a batch of
// hits under one lock (migrations/005-rate-limit-hits-function.sql).
import type { RateLimitHit } from './store.ts';

/** Float rounding slack (ms) in comparisons; far below a clock tick. */
const SLACK_MS = 0.001;

export interface RateLimitRule {
  readonly windowMs: number;
  /** Milliseconds one hit costs: windowMs / limit. */
  readonly periodMs: number;
  /** How far TAT may run ahead of `now` before a hit (window less one period), plus slack. */
  readonly toleranceMs: number;
}

/**
 * The rule for `limit` hits per `windowSec`; throws RangeError on nonsense.
 * @example rateLimitRule(60, 60) // { windowMs: 60000, periodMs: 1000, toleranceMs: 59000.001 }
 */
export function rateLimitRule(windowSec: number, limit: number): RateLimitRule {
  if (!Number.isSafeInteger(windowSec) || windowSec <= 0) {
    throw new RangeError('store: windowSec must be a positive integer');
  }
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError('store: limit must be a non-negative integer');
  }
  const windowMs = windowSec * 1000;
  const periodMs = limit === 0 ? Infinity : windowMs / limit;
  return { windowMs, periodMs, toleranceMs: windowMs - periodMs + SLACK_MS };
}

/**
 * One hit against a key whose TAT is `tatMs` (undefined: no state, fully
 * refilled): whether it is allowed and the TAT to store.
 * @example admit(rateLimitRule(60, 2), undefined, 0) // { ok: true, tatMs: 30000 }
 */
export function admit(
  rule: RateLimitRule,
  tatMs: number | undefined,
  nowMs: number,
): { ok: boolean; tatMs: number | undefined } {
  const base = Math.max(tatMs ?? nowMs, nowMs);
  if (base - nowMs > rule.toleranceMs) return { ok: false, tatMs };
  return { ok: true, tatMs: base + rule.periodMs };
}

/**
 * The answer for a hit, from the TAT after it: how many more hits would be
 * allowed now, and when the next one is (now, when some remain).
 * @example hitResult(rule, true, 60000, 1000, 2) // { ok: true, remaining: 0, resetAt: 30 s }
 */
export function hitResult(
  rule: RateLimitRule,
  ok: boolean,
  tatMs: number | undefined,
  nowMs: number,
  limit: number,
): RateLimitHit {
  if (limit === 0) return { ok: false, remaining: 0, resetAt: new Date(nowMs + rule.windowMs) };
  const ahead = Math.max(0, (tatMs ?? nowMs) - nowMs);
  const remaining = Math.floor((rule.windowMs - ahead + SLACK_MS) / rule.periodMs);
  const nextMs = Math.max(nowMs, Math.ceil(nowMs + ahead - rule.toleranceMs));
  return {
    ok,
    remaining: Math.min(limit, Math.max(0, remaining)),
    resetAt: new Date(nextMs),
  };
}
