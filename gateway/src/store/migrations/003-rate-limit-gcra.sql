-- Rate limits as a rate with a burst (GCRA, see rate-limit.ts) instead of
-- fixed windows, whose boundary let a burst through at twice the limit
-- (threat 57). One number per key and window length: the theoretical
-- arrival time in epoch milliseconds, when the key is fully refilled.
-- A row at or before now is the same as no row, so the purge deletes it.
CREATE TABLE rate_limit_tats (
  key text NOT NULL,
  window_sec integer NOT NULL CHECK (window_sec > 0),
  tat_ms double precision NOT NULL,
  PRIMARY KEY (key, window_sec)
);
CREATE INDEX rate_limit_tats_by_tat ON rate_limit_tats (tat_ms);

-- The fixed-window counters are no longer read or written; starting every
-- key fully refilled once is harmless (at most one burst per key).
DROP TABLE rate_limits;
