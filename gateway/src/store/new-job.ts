// What both stores do with a NewJob before and after writing it: the rule
// that a job is created ended exactly when its end is given, and the record
// built from what was written (the documents are the caller's own; reading
// them back would cost a parse).
import type { JobFields, JobRecord, NewJob } from './store.ts';

/** The status a new job is written with; throws RangeError when its end and its status disagree. */
export function newJobStatus(job: NewJob): NonNullable<NewJob['status']> {
  const status = job.status ?? 'queued';
  if ((status === 'done') !== (job.result !== undefined)) {
    throw new RangeError('store: a job is created done exactly when its result is given');
  }
  if ((status === 'failed') !== (job.errorCode !== undefined)) {
    throw new RangeError('store: a job is created failed exactly when its error code is given');
  }
  return status;
}

/** The record of a job just written with id `id`. */
export function createdJobRecord(job: NewJob, id: string): JobRecord {
  const fields: JobFields = {
    id,
    researcher: job.researcher,
    project: job.project,
    queryHash: job.queryHash,
    query: job.query,
    submittedQuery: job.submittedQuery ?? null,
    nodes: [...job.nodes],
    createdAt: job.now,
    updatedAt: job.endedAt ?? job.now,
  };
  if (job.result !== undefined)
    return { ...fields, status: 'done', result: job.result, errorCode: null };
  if (job.errorCode !== undefined) {
    return { ...fields, status: 'failed', result: null, errorCode: job.errorCode };
  }
  return {
    ...fields,
    status: job.status === 'running' ? 'running' : 'queued',
    result: null,
    errorCode: null,
  };
}
