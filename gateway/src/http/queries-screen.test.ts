// A submission the gateway would refuse whatever its query (no project, not a
// member, no place left on this replica) is answered before its body is read:
// a flood costs a lookup per request, not a parse, a validation and a hash.
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { problemHandler } from '@tessera/http-kit';
import { gatewayProblem } from '../errors.ts';
import type { QueryService } from '../jobs/service.ts';
import { queriesRouter } from './queries.ts';

function app(screen: QueryService['screen']) {
  const submitted: unknown[] = [];
  const screened: unknown[] = [];
  const queries = {
    screen: (input: Parameters<QueryService['screen']>[0]) => {
      screened.push({ researcher: input.researcher.sub, project: input.project });
      return screen(input);
    },
    submit: (input: { body: unknown }) => {
      submitted.push(input.body);
      return Promise.reject(gatewayProblem('ERR_RATE_LIMITED'));
    },
  } as unknown as QueryService;
  const server = express();
  server.use((_req, res, next) => {
    res.locals.researcher = { sub: 'alice', projects: ['diabetes-eu'], scopes: [] };
    next();
  });
  server.use(queriesRouter({ queries, publicUrl: 'https://gw.test', bodyLimitBytes: 64 }));
  server.use(problemHandler({ logger: pino({ level: 'silent' }) }));
  return { server, submitted, screened };
}

describe('POST /queries screened before its body is read', () => {
  it('answers the refusal, with Retry-After, for a body it never reads', async () => {
    const { server, submitted, screened } = app(() =>
      Promise.reject(gatewayProblem('ERR_TOO_MANY_RUNNING', { retryAfter: 1 })),
    );
    // Too large and not JSON: read, it would be a 413; it is never read.
    const res = await request(server)
      .post('/queries?project=diabetes-eu')
      .set('content-type', 'application/json')
      .send('x'.repeat(1000));
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.code).toBe('ERR_TOO_MANY_RUNNING');
    expect(screened).toEqual([{ researcher: 'alice', project: 'diabetes-eu' }]);
    expect(submitted).toEqual([]);
  });

  it('reads and submits the body once screened', async () => {
    const { server, submitted, screened } = app(() => Promise.resolve());
    await request(server)
      .post('/queries')
      .set('content-type', 'application/json')
      .set('x-tessera-project', 'diabetes-eu')
      .send({ version: 1 })
      .expect(429);
    expect(screened).toEqual([{ researcher: 'alice', project: 'diabetes-eu' }]);
    expect(submitted).toEqual([{ version: 1 }]);
  });
});
