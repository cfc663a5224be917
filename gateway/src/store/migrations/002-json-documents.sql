-- Documents the gateway writes once per query and only ever reads back
-- whole (queries, results, node outcomes, cached results) are stored as
-- json, not jsonb: json is checked and kept as text, while jsonb is parsed
-- into a binary tree on every write and printed back on every read, which
-- doubled the store's cost per query. No SQL looks inside them.
ALTER TABLE jobs ALTER COLUMN query TYPE json USING query::json;
ALTER TABLE jobs ALTER COLUMN nodes TYPE json USING nodes::json;
ALTER TABLE jobs ALTER COLUMN result TYPE json USING result::json;
ALTER TABLE job_nodes ALTER COLUMN outcome TYPE json USING outcome::json;
ALTER TABLE result_cache ALTER COLUMN value TYPE json USING value::json;
