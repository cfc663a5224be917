// The repeat limit (threat 9): one subject may ask an identical query (same
// canonical hash) at most `count` times within a sliding window of
// `windowSeconds`; the next one is refused with 429 ERR_REPEAT_LIMIT and the
// caller writes an audit alert.
//
// Kept in memory: a restart forgets the counts. That is acceptable because the
// limit is a tripwire, not the protection: the noise of a repeat is the same
// draw under both mechanisms (keyed by the query under laplace, by the patient
// set under cell-key), so repeating learns nothing, and under laplace every new
// query is charged to the persistent release ledger. Memory is bounded by `maxKeys` pairs; beyond it the
// longest-idle pairs are forgotten first.

export interface RepeatLimiter {
  hit(queryHash: string, subject: string, now: Date): 'ok' | 'exceeded';
}

export interface RepeatLimit {
  readonly count: number;
  readonly windowSeconds: number;
}

export interface RepeatLimiterOptions {
  /** Most (subject, query) pairs remembered; default 100,000. */
  readonly maxKeys?: number;
}

/**
 * A sliding-window limiter per (subject, query hash).
 * @example const limiter = createRepeatLimiter(policy.repeatLimit); limiter.hit(hash, sub, new Date()) // 'ok'
 */
export function createRepeatLimiter(
  limit: RepeatLimit,
  options: RepeatLimiterOptions = {},
): RepeatLimiter {
  const { count, windowSeconds } = limit;
  if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be at least 1');
  if (!Number.isFinite(windowSeconds) || windowSeconds <= 0) {
    throw new RangeError('windowSeconds must be greater than 0');
  }
  const maxKeys = options.maxKeys ?? 100_000;
  const windowMs = windowSeconds * 1000;
  // Insertion order is last-use order: a hit moves its pair to the end.
  const hits = new Map<string, number[]>();

  const evict = (since: number): void => {
    for (const [key, times] of hits) {
      if (hits.size <= maxKeys) return;
      if (times.every((t) => t <= since)) hits.delete(key);
    }
    for (const key of hits.keys()) {
      if (hits.size <= maxKeys) return;
      hits.delete(key);
    }
  };

  return {
    hit(queryHash, subject, now) {
      const at = now.getTime();
      if (!Number.isFinite(at)) throw new RangeError('now is not a valid date');
      const key = JSON.stringify([subject, queryHash]);
      const since = at - windowMs;
      const recent = (hits.get(key) ?? []).filter((t) => t > since);
      hits.delete(key);
      if (recent.length >= count) {
        hits.set(key, recent);
        return 'exceeded';
      }
      recent.push(at);
      hits.set(key, recent);
      if (hits.size > maxKeys) evict(since);
      return 'ok';
    },
  };
}
