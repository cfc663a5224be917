// State a single-writer store keeps in memory. A PGlite data directory has
// exactly one process writing it (its lock file), so what that process
// remembers of its own writes is the truth, and asking the database again
// would only cost the query a round trip to a worker: rate-limit counters
// are decided here and written behind, the result cache is looked up in an
// index of what it holds, and the audit chain's head is known without a
// read. PostgreSQL, shared by replicas, never uses this: there every
// decision is made in the database.
import { hitResult, admit, type RateLimitRule } from './rate-limit.ts';
import { float, integer, text, timestamp, type SqlRunner } from './sql.ts';
import type { RateLimitHit } from './store.ts';

/** How often counters decided in memory are written to the database. */
export const COUNTER_FLUSH_MS = 100;

export interface Counter {
  readonly key: string;
  readonly windowSec: number;
  readonly tatMs: number;
}

export interface LocalState {
  /** One hit, decided at once (GCRA, as rate-limit.ts); the counter is written behind. */
  hit(
    key: string,
    windowSec: number,
    limit: number,
    rule: RateLimitRule,
    nowMs: number,
  ): RateLimitHit;
  /** Counters changed since the last call, to write; they leave the list. */
  takeChanged(): Counter[];
  /** Puts counters back whose write failed, unless changed again since. */
  restoreChanged(counters: readonly Counter[]): void;
  /** Forgets counters that have fully refilled by `nowMs`. */
  forgetRefilled(nowMs: number): void;
  /** Whether the cache may hold an answer for this key at `now` (false: it surely does not). */
  mayBeCached(key: string, now: Date): boolean;
  noteCached(key: string, expiresAt: Date): void;
  forgetExpired(now: Date): void;
}

const slot = (key: string, windowSec: number): string => `${windowSec}\0${key}`;

/** Reads what a single writer keeps in memory from its database. */
export async function loadLocalState(db: SqlRunner): Promise<LocalState> {
  const counters = new Map<string, Counter>();
  for (const row of await db.query('SELECT key, window_sec, tat_ms FROM rate_limit_tats')) {
    const counter = {
      key: text(row, 'key'),
      windowSec: integer(row, 'window_sec'),
      tatMs: float(row, 'tat_ms'),
    };
    counters.set(slot(counter.key, counter.windowSec), counter);
  }
  const cached = new Map<string, Date>();
  for (const row of await db.query(
    'SELECT query_hash, data_versions, expires_at FROM result_cache',
  )) {
    cached.set(
      cacheKey(text(row, 'query_hash'), text(row, 'data_versions')),
      timestamp(row, 'expires_at'),
    );
  }
  let changed = new Map<string, Counter>();

  return {
    hit(key, windowSec, limit, rule, nowMs) {
      const at = slot(key, windowSec);
      const { ok, tatMs } = admit(rule, counters.get(at)?.tatMs, nowMs);
      if (ok && tatMs !== undefined) {
        const counter = { key, windowSec, tatMs };
        counters.set(at, counter);
        changed.set(at, counter);
      }
      return hitResult(rule, ok, tatMs, nowMs, limit);
    },
    takeChanged() {
      const out = [...changed.values()];
      changed = new Map();
      return out;
    },
    restoreChanged(failed) {
      for (const counter of failed) {
        const at = slot(counter.key, counter.windowSec);
        if (!changed.has(at)) changed.set(at, counters.get(at) ?? counter);
      }
    },
    forgetRefilled(nowMs) {
      for (const [at, counter] of counters) {
        if (counter.tatMs <= nowMs && !changed.has(at)) counters.delete(at);
      }
    },
    mayBeCached(key, now) {
      const expiresAt = cached.get(key);
      return expiresAt !== undefined && expiresAt > now;
    },
    noteCached(key, expiresAt) {
      cached.set(key, expiresAt);
    },
    forgetExpired(now) {
      for (const [key, expiresAt] of cached) if (expiresAt <= now) cached.delete(key);
    },
  };
}

/** The one key of a cached answer. */
export function cacheKey(queryHash: string, dataVersions: string): string {
  return `${queryHash}\0${dataVersions}`;
}
