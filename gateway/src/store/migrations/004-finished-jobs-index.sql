-- The purge deletes finished jobs by age (jobs past store.jobRetentionDays),
-- a batch at a time; without this index each batch would scan every job.
CREATE INDEX jobs_finished_by_age ON jobs (updated_at)
  WHERE status IN ('done', 'failed', 'cancelled');
