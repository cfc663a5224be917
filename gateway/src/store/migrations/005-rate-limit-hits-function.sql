-- A batch of rate-limit hits in one call, so that a replica counting a
-- query against its limits on a shared database waits for one round trip
-- instead of a transaction's worth. The rule is GCRA's `admit`
-- (rate-limit.ts): a hit at now_ms is allowed when the key's theoretical
-- arrival time runs at most tolerance_ms ahead of now, and then moves it one
-- period on; a refused hit changes nothing. Hits are applied in order, so
-- hits on one key in a batch see each other, and every batch from every
-- replica takes the same lock first, so none interleave.
-- Counters may be written behind: the call's commit does not wait for the
-- disk (a database crash may lose its last fraction of a second of hits).
CREATE FUNCTION tessera_rate_limit_hits(hits json)
RETURNS TABLE (ordinal bigint, allowed boolean, tat_ms double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  h record;
  current_tat double precision;
  base double precision;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock(hashtext('tessera.rate-limits:' || coalesce(current_schema(), '')));
  FOR h IN
    SELECT e.item->>'key' AS key,
           (e.item->>'window_sec')::integer AS window_sec,
           (e.item->>'now_ms')::double precision AS now_ms,
           (e.item->>'period_ms')::double precision AS period_ms,
           (e.item->>'tolerance_ms')::double precision AS tolerance_ms,
           e.n
    FROM json_array_elements(hits) WITH ORDINALITY AS e(item, n)
    ORDER BY e.n
  LOOP
    SELECT r.tat_ms INTO current_tat FROM rate_limit_tats r
      WHERE r.key = h.key AND r.window_sec = h.window_sec;
    base := greatest(coalesce(current_tat, h.now_ms), h.now_ms);
    ordinal := h.n;
    IF base - h.now_ms > h.tolerance_ms THEN
      allowed := false;
      tat_ms := current_tat;
    ELSE
      allowed := true;
      tat_ms := base + h.period_ms;
      INSERT INTO rate_limit_tats AS r (key, window_sec, tat_ms)
        VALUES (h.key, h.window_sec, base + h.period_ms)
        ON CONFLICT (key, window_sec) DO UPDATE SET tat_ms = EXCLUDED.tat_ms;
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;
