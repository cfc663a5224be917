// Remembers gateway token ids until they expire, so a captured request cannot
// be sent again. The interface lets several node replicas share one store.

export interface ReplayCache {
  /**
   * Records a token id until `expiresAtMs`. Answers false when the id is
   * already recorded (a replay) or cannot be recorded (the cache is full):
   * either way the token is refused.
   */
  remember(jti: string, expiresAtMs: number, nowMs: number): boolean | Promise<boolean>;
}

export interface MemoryReplayCacheOptions {
  /** Default 100,000: over 1,600 requests a second at the longest token lifetime. */
  readonly maxEntries?: number;
}

/** A bounded in-process cache; full means refuse, never forget an unexpired id. */
export function createMemoryReplayCache(options: MemoryReplayCacheOptions = {}): ReplayCache {
  const { maxEntries = 100_000 } = options;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('createMemoryReplayCache: "maxEntries" must be a positive integer');
  }
  // Insertion order is close to expiry order (lifetimes are all <= 60 s), so
  // expired ids are dropped from the front; a full scan runs at most once a second.
  const expiries = new Map<string, number>();
  let lastFullSweepMs = Number.NEGATIVE_INFINITY;

  function sweep(nowMs: number, full: boolean): void {
    for (const [jti, expiresAtMs] of expiries) {
      if (expiresAtMs <= nowMs) expiries.delete(jti);
      else if (!full) return;
    }
  }

  return {
    remember(jti, expiresAtMs, nowMs) {
      sweep(nowMs, false);
      const known = expiries.get(jti);
      if (known !== undefined && known > nowMs) return false;
      if (expiries.size >= maxEntries && nowMs - lastFullSweepMs >= 1000) {
        lastFullSweepMs = nowMs;
        sweep(nowMs, true);
      }
      if (expiries.size >= maxEntries) return false;
      expiries.delete(jti);
      expiries.set(jti, expiresAtMs);
      return true;
    },
  };
}
