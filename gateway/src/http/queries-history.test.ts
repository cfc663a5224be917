// GET /queries, the history: each job with its label, the query as submitted
// and its status, newest first, and never its figures.
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { problemHandler } from '@tessera/http-kit';
import type { CanonicalQuery, CohortQuery, MergedResult } from '@tessera/schemas';
import type { QueryService } from '../jobs/service.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { queriesRouter } from './queries.ts';

const SUBMITTED: CohortQuery = {
  version: 1,
  cohort: { patient: { gender: ['female'] } },
  nodes: ['lombardia'],
  label: 'Women in Lombardia',
};
const CANONICAL = {
  version: 1,
  cohort: { patient: { gender: ['female'] } },
  stratify: [],
  measures: [{ count: 'patients' }],
} as unknown as CanonicalQuery;
const RESULT = {
  complete: true,
  total: { count: 1234, range: [1200, 1260] },
} as unknown as MergedResult;

async function history() {
  const store = createMemoryStore();
  const base = {
    researcher: 'anna',
    project: 'diabetes-eu',
    queryHash: `sha256:${'a'.repeat(64)}`,
    query: CANONICAL,
    nodes: ['lombardia'],
  };
  await store.createJob({
    ...base,
    submittedQuery: SUBMITTED,
    status: 'done',
    result: RESULT,
    now: new Date('2026-11-01T10:00:00Z'),
  });
  await store.createJob({ ...base, now: new Date('2026-11-02T10:00:00Z'), status: 'running' });
  const queries = {
    list: (researcher: { sub: string }) => store.listJobs(researcher.sub),
  } as unknown as QueryService;
  const server = express();
  server.use((_req, res, next) => {
    res.locals.researcher = { sub: 'anna', projects: ['diabetes-eu'], scopes: [] };
    next();
  });
  server.use(queriesRouter({ queries, publicUrl: 'https://gw.test', bodyLimitBytes: 4096 }));
  server.use(problemHandler({ logger: pino({ level: 'silent' }) }));
  return request(server).get('/v1/queries');
}

describe('GET /queries', () => {
  it("lists each job's label, query and status, newest first, without its figures", async () => {
    const res = await history();
    expect(res.status).toBe(200);
    const [running, done] = res.body.queries;
    expect(done).toMatchObject({ status: 'done', label: 'Women in Lombardia', query: SUBMITTED });
    expect(done).not.toHaveProperty('result');
    expect(JSON.stringify(res.body)).not.toContain('1234');
    // A job kept before the submitted query was: its canonical form, and no label.
    expect(running).toMatchObject({ status: 'running', query: CANONICAL });
    expect(running).not.toHaveProperty('label');
  });
});
