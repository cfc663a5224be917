-- The gateway's state, shared by every replica. Times are timestamptz from
-- the caller's clock; JSON documents are jsonb except where exact bytes matter.

-- Jobs: one per submitted query. `owner` is the gateway instance that created
-- or started it; when that instance stops heartbeating its unfinished jobs are
-- failed with ERR_GATEWAY_RESTARTED (threat 31).
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  researcher text NOT NULL,
  project text NOT NULL,
  query_hash text NOT NULL,
  query jsonb NOT NULL,
  nodes jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  owner text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  result jsonb,
  error_code text
);
CREATE INDEX jobs_by_researcher ON jobs (researcher, created_at DESC);
CREATE INDEX jobs_unfinished ON jobs (owner) WHERE status IN ('queued', 'running');

-- One row per node asked, holding its NodeOutcome.
CREATE TABLE job_nodes (
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  node text NOT NULL,
  status text NOT NULL,
  outcome jsonb NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (job_id, node)
);

-- Live gateway instances, for job recovery. A row disappears on clean shutdown.
CREATE TABLE gateway_instances (
  id text PRIMARY KEY,
  seen_at timestamptz NOT NULL
);

-- Merged results, valid while every node still serves the same data version.
CREATE TABLE result_cache (
  query_hash text NOT NULL,
  data_versions text NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (query_hash, data_versions)
);
CREATE INDEX result_cache_by_expiry ON result_cache (expires_at);

-- Fixed-window counters: one row per key and window length.
CREATE TABLE rate_limits (
  key text NOT NULL,
  window_sec integer NOT NULL CHECK (window_sec > 0),
  window_start timestamptz NOT NULL,
  count integer NOT NULL,
  PRIMARY KEY (key, window_sec)
);

-- The gateway's keys for signing node requests. At most one is active
-- (not retired): the partial unique index is what makes key creation
-- race-safe across replicas.
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  private_jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  retired_at timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired_at IS NULL))
  WHERE retired_at IS NULL;

-- The hash-chained audit log (schemas/src/audit/chain.ts). `at` and `detail`
-- are text so the bytes that were hashed come back unchanged; `detail` is
-- canonical JSON.
CREATE TABLE audit_log (
  idx bigint PRIMARY KEY CHECK (idx >= 0),
  at text NOT NULL,
  actor text NOT NULL,
  project text NOT NULL,
  query_hash text NOT NULL,
  action text NOT NULL,
  outcome text NOT NULL,
  detail text,
  prev_hash text NOT NULL,
  hash text NOT NULL
);

-- The chain's head, kept apart from the entries so a cut-off tail shows.
-- Appends lock this single row, which serialises them across replicas.
CREATE TABLE audit_head (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_idx bigint NOT NULL,
  last_hash text
);
INSERT INTO audit_head (id, last_idx, last_hash) VALUES (true, -1, NULL);
