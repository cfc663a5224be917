// POST /query-check: the builder's check before a query is sent. The same
// rules as a submission (schema and semantics, with a pointer to the
// fault), CCDL translated into query v1, and nothing else accepted.
import { readFileSync } from 'node:fs';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { problemHandler } from '@tessera/http-kit';
import { queryCheckRouter } from './query-check.ts';

const CCDL = JSON.parse(
  readFileSync(
    new URL('../../../schemas/fixtures/ccdl/supported/negated-criterion.json', import.meta.url),
    'utf8',
  ),
) as { ccdl: unknown; query: unknown };

function app() {
  const server = express();
  server.use(queryCheckRouter({ bodyLimitBytes: 65_536 }));
  server.use(problemHandler({ logger: pino({ level: 'silent' }) }));
  return server;
}

const check = (body: unknown) =>
  request(app())
    .post('/v1/query-check')
    .set('content-type', 'application/json')
    .send(body as object);

describe('POST /query-check', () => {
  it('gives back a valid query v1 as it is', async () => {
    const query = { version: 1, cohort: { patient: { gender: ['female'] } }, stratify: ['gender'] };
    const res = await check({ query });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ query });
  });

  it('points at the fault of an invalid query, as a submission would', async () => {
    const res = await check({
      query: {
        version: 1,
        cohort: {
          all: [
            {
              condition: {
                code: [{ system: 'http://snomed.info/sct', code: '1', descendants: true }],
              },
            },
          ],
        },
      },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('ERR_QUERY_INVALID');
    expect(res.body.pointer).toBe('/cohort/all/0/condition/code/0/descendants');
    const misspelt = await check({
      query: { version: 1, cohort: { patient: { gendr: ['female'] } } },
    });
    expect(misspelt.body.pointer).toBe('/cohort/patient/gendr');
  });

  it('translates a CCDL document into query v1', async () => {
    const res = await check({ ccdl: CCDL.ccdl });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ query: CCDL.query });
  });

  it('refuses CCDL it cannot translate with its own code', async () => {
    const res = await check({ ccdl: { version: 'x', inclusionCriteria: 'not a list' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toMatch(/^ERR_(QUERY_INVALID|CCDL_UNSUPPORTED)$/);
  });

  it('accepts only one of "query" or "ccdl"', async () => {
    for (const body of [{}, { query: {}, ccdl: {} }, { sql: 'select 1' }, [1]]) {
      const res = await check(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('ERR_QUERY_INVALID');
      expect(res.body.pointer).toBe('');
    }
    const notJson = await request(app())
      .post('/v1/query-check')
      .set('content-type', 'application/json')
      .send('{"query":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('ERR_BODY_INVALID');
  });
});
