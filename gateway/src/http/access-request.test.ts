// GET /queries/:id/access-request: a done query's data-request draft as
// JSON-LD, naming only the datasets that answered; nothing for a query that
// has no answer, or that is not the researcher's own.
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { problemHandler } from '@tessera/http-kit';
import type { CanonicalQuery, CohortQuery, MergedResult, NodeResult } from '@tessera/schemas';
import { gatewayProblem } from '../errors.ts';
import type { QueryService } from '../jobs/service.ts';
import type { JobRecord } from '../store/store.ts';
import { queriesRouter } from './queries.ts';

const HASH = `sha256:${'c'.repeat(64)}`;
const SUBMITTED: CohortQuery = {
  version: 1,
  cohort: { patient: { gender: ['female'] } },
  label: 'Women, all regions',
};
const LOMBARDIA = {
  node: 'lombardia',
  dataVersion: '2026-11-01T00:00:00Z#abc',
  total: { count: 1204, perturbed: true },
  disclosure: { mechanism: 'laplace' },
} as unknown as NodeResult;
const RESULT = {
  queryHash: HASH,
  complete: false,
  confidence: 0.95,
  nodes: [
    { node: 'lombardia', status: 'ok', result: LOMBARDIA },
    { node: 'galicia', status: 'timeout' },
  ],
  total: { range: [1165, 4000] },
  strata: [],
  measures: [{ type: 'count' }],
} as unknown as MergedResult;
const fields = {
  researcher: 'anna',
  project: 'diabetes-eu',
  queryHash: HASH,
  query: { version: 1 } as unknown as CanonicalQuery,
  submittedQuery: SUBMITTED,
  nodes: ['lombardia', 'galicia'],
  createdAt: new Date('2026-11-20T10:00:00Z'),
  updatedAt: new Date('2026-11-20T10:00:02Z'),
};
const JOBS: Record<string, JobRecord> = {
  done: { ...fields, id: 'done', status: 'done', result: RESULT, errorCode: null },
  running: { ...fields, id: 'running', status: 'running', result: null, errorCode: null },
};

function get(id: string) {
  const queries = {
    get: (jobId: string) => {
      const job = JOBS[jobId];
      return job ? Promise.resolve(job) : Promise.reject(gatewayProblem('ERR_NOT_FOUND'));
    },
  } as unknown as QueryService;
  const server = express();
  server.use((_req, res, next) => {
    res.locals.researcher = { sub: 'anna', projects: ['diabetes-eu'], scopes: [] };
    next();
  });
  server.use(queriesRouter({ queries, publicUrl: 'https://gw.test', bodyLimitBytes: 4096 }));
  server.use(problemHandler({ logger: pino({ level: 'silent' }) }));
  return request(server).get(`/v1/queries/${id}/access-request`);
}

describe('GET /queries/:id/access-request', () => {
  it('drafts the request: answering datasets, cohort definition and hash, protected counts, date', async () => {
    const res = await get('done');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/ld\+json/);
    const draft = JSON.parse(res.text) as Record<string, unknown>;
    expect(draft['@type']).toBe('tessera:DataRequestDraft');
    expect(draft['dct:title']).toBe('Women, all regions');
    expect(draft['dct:requires']).toEqual([
      {
        '@id': 'https://gw.test/v1/catalogue#lombardia',
        '@type': 'dcat:Dataset',
        'dct:identifier': 'lombardia',
        'dct:hasVersion': '2026-11-01T00:00:00Z#abc',
      },
    ]);
    expect(draft['tessera:missingNodes']).toEqual(['galicia']);
    expect(draft.cohortDefinition).toEqual(SUBMITTED);
    expect(draft['tessera:queryHash']).toBe(HASH);
    expect(draft.protectedCounts).toEqual({
      confidence: 0.95,
      merged: { total: { range: [1165, 4000] }, strata: [] },
      nodes: [
        { node: 'lombardia', total: { count: 1204, perturbed: true }, disclosure: 'laplace' },
      ],
    });
    expect(draft['dct:created']).toMatchObject({ '@type': 'xsd:dateTime' });
  });

  it('refuses a query without an answer yet, and hides one that is not yours', async () => {
    const running = await get('running');
    expect(running.status).toBe(409);
    expect(running.body.code).toBe('ERR_JOB_NOT_DONE');
    const other = await get('someone-elses');
    expect(other.status).toBe(404);
    expect(other.body.code).toBe('ERR_NOT_FOUND');
  });
});
