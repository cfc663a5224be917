import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '@tessera/schemas';
import { problemHandler, sendProblem } from './problem.ts';
import { requestContext } from './request-context.ts';

const noTimer = { startTimer: () => () => undefined };

function appThrowing(
  thrown: () => unknown,
  options: Partial<Parameters<typeof problemHandler>[0]> = {},
): { app: express.Express; logged: Record<string, unknown>[] } {
  const logged: Record<string, unknown>[] = [];
  const app = express();
  app.use(requestContext(noTimer));
  app.post('/fail', express.json({ limit: 10 }), () => {
    throw thrown();
  });
  app.use(problemHandler({ logger: { error: (fields) => logged.push(fields) }, ...options }));
  return { app, logged };
}

describe('sendProblem', () => {
  it('writes problem+json with the request id, Retry-After and a challenge on 401', async () => {
    const app = express();
    app.use(requestContext(noTimer));
    app.get('/limited', (_req, res) => {
      sendProblem(res, new ProblemError('ERR_RATE_LIMITED', 429, 'Slow down', { retryAfter: 7 }));
    });
    app.get('/anonymous', (_req, res) => {
      sendProblem(res, new ProblemError('ERR_UNAUTHENTICATED', 401, 'Who are you'));
    });
    app.get('/scoped', (_req, res) => {
      sendProblem(
        res,
        new ProblemError('ERR_FORBIDDEN', 403, 'Not allowed'),
        'Bearer error="insufficient_scope"',
      );
    });

    const limited = await request(app).get('/limited').set('x-request-id', 'req-1').expect(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(limited.headers['retry-after']).toBe('7');
    expect(limited.headers['www-authenticate']).toBeUndefined();
    expect(limited.body).toEqual({
      type: 'https://tessera.eu/errors/ERR_RATE_LIMITED',
      title: 'Slow down',
      status: 429,
      code: 'ERR_RATE_LIMITED',
      requestId: 'req-1',
      retryAfter: 7,
    });

    const anonymous = await request(app).get('/anonymous').expect(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    const scoped = await request(app).get('/scoped').expect(403);
    expect(scoped.headers['www-authenticate']).toBe('Bearer error="insufficient_scope"');
  });
});

describe('problemHandler', () => {
  it('answers a thrown ProblemError as it is, without logging it', async () => {
    const { app, logged } = appThrowing(
      () => new ProblemError('ERR_QUERY_INVALID', 400, 'The query is not valid', { pointer: '/x' }),
    );
    const res = await request(app).post('/fail').expect(400);
    expect(res.body).toMatchObject({ code: 'ERR_QUERY_INVALID', pointer: '/x' });
    expect(logged).toEqual([]);
  });

  it("answers a body parser's errors as their problems", async () => {
    const { app } = appThrowing(() => new Error('never reached'));
    const tooLarge = await request(app)
      .post('/fail')
      .set('content-type', 'application/json')
      .send('{"a":"0123456789"}')
      .expect(413);
    expect(tooLarge.body).toMatchObject({ code: 'ERR_BODY_TOO_LARGE' });
    const bad = await request(app)
      .post('/fail')
      .set('content-type', 'application/json')
      .send('{')
      .expect(400);
    expect(bad.body).toMatchObject({ code: 'ERR_BODY_INVALID' });
  });

  it('answers anything else as a bare ERR_INTERNAL, logging only its class', async () => {
    let failures = 0;
    const { app, logged } = appThrowing(() => new RangeError('patient 1234 has no birth date'), {
      onFailure: () => (failures += 1),
    });
    const res = await request(app).post('/fail').set('x-request-id', 'req-9').expect(500);
    expect(res.body).toEqual({
      type: 'https://tessera.eu/errors/ERR_INTERNAL',
      title: 'Internal error',
      status: 500,
      code: 'ERR_INTERNAL',
      requestId: 'req-9',
    });
    expect(res.text).not.toContain('1234');
    expect(logged).toEqual([{ requestId: 'req-9', error: 'RangeError' }]);
    expect(failures).toBe(1);
  });

  it('neither logs nor counts as a failure a 5xx the service names as its decision', async () => {
    let failures = 0;
    const { app, logged } = appThrowing(
      () => new ProblemError('ERR_OVERLOADED', 503, 'At capacity', { retryAfter: 1 }),
      { onFailure: () => (failures += 1), decisions: new Set(['ERR_OVERLOADED']) },
    );
    const res = await request(app).post('/fail').expect(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toMatchObject({ code: 'ERR_OVERLOADED' });
    expect(logged).toEqual([]);
    expect(failures).toBe(0);

    // Any other 503, even one with Retry-After (a peer down), is a failure.
    const other = appThrowing(
      () => new ProblemError('ERR_IDP_UNAVAILABLE', 503, 'IdP down', { retryAfter: 30 }),
      { onFailure: () => (failures += 1), decisions: new Set(['ERR_OVERLOADED']) },
    );
    await request(other.app).post('/fail').set('x-request-id', 'req-3').expect(503);
    expect(other.logged).toEqual([{ requestId: 'req-3', error: 'ProblemError' }]);
    expect(failures).toBe(1);
  });

  it("maps problems onto the service's catalogue", async () => {
    const { app } = appThrowing(() => new ProblemError('ERR_ELSEWHERE', 418, 'Not ours'), {
      normalise: () => new ProblemError('ERR_INTERNAL', 500, 'Internal error'),
    });
    const res = await request(app).post('/fail').expect(500);
    expect(res.body).toMatchObject({ code: 'ERR_INTERNAL' });
  });

  it('only ends a response whose headers are out', async () => {
    const app = express();
    app.get('/stream', (_req, res, next) => {
      res.status(200).type('text/event-stream');
      res.write('event: node\ndata: {}\n\n');
      next(new Error('store down'));
    });
    app.use(problemHandler({ logger: { error: () => undefined } }));
    const res = await request(app).get('/stream').expect(200);
    expect(res.text).toBe('event: node\ndata: {}\n\n');
  });
});
