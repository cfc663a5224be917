-- The query as the researcher submitted it (label and node choice kept), so
-- the history can show and re-run it; jobs before this have none.
ALTER TABLE jobs ADD COLUMN submitted_query json;

-- Named queries, shared by their id with the members of their project. A
-- saved query holds the question only, never an answer's figures.
CREATE TABLE saved_queries (
  id uuid PRIMARY KEY,
  owner text NOT NULL,
  project text NOT NULL,
  name text NOT NULL,
  query json NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX saved_queries_by_owner ON saved_queries (owner, created_at DESC);
