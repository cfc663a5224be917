import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  acceptRequestId,
  acceptTraceparent,
  isRequestId,
  requestContext,
  requestIdOf,
  type RouteLabels,
} from './request-context.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('request ids', () => {
  it('keeps a short plain token', () => {
    for (const id of ['req-1', 'a', 'trace:42.7_x', 'x'.repeat(128)]) {
      expect(isRequestId(id)).toBe(true);
      expect(acceptRequestId(id)).toBe(id);
    }
  });

  it('replaces anything else with a fresh UUID', () => {
    const refused = ['', 'x'.repeat(129), 'a b', 'a"b', 'a/b', 'ä', 'a\nb', '<script>'];
    for (const id of refused) {
      expect(isRequestId(id)).toBe(false);
      expect(acceptRequestId(id)).toMatch(UUID);
    }
    expect(acceptRequestId(undefined)).toMatch(UUID);
    expect(isRequestId(42)).toBe(false);
  });
});

describe('traceparent', () => {
  it('passes a well-formed one on and drops anything else', () => {
    expect(acceptTraceparent(TRACE)).toBe(TRACE);
    for (const bad of ['not-a-trace', TRACE.toUpperCase(), `${TRACE}-00`, ` ${TRACE}`, '']) {
      expect(acceptTraceparent(bad)).toBeUndefined();
    }
    expect(acceptTraceparent(undefined)).toBeUndefined();
  });
});

describe('requestContext', () => {
  function app(): { app: express.Express; timed: RouteLabels[] } {
    const timed: RouteLabels[] = [];
    const app = express();
    app.use(requestContext({ startTimer: () => (labels) => timed.push(labels) }));
    const v1 = express.Router();
    v1.get('/things/:id', (_req, res) => {
      res.json({ requestId: requestIdOf(res) });
    });
    app.use('/v1', v1);
    return { app, timed };
  }

  it("echoes the caller's id, and times the request by route pattern", async () => {
    const { app: served, timed } = app();
    const res = await request(served).get('/v1/things/42').set('x-request-id', 'req-1');
    expect(res.headers['x-request-id']).toBe('req-1');
    expect(res.body).toEqual({ requestId: 'req-1' });
    expect(timed).toEqual([{ method: 'GET', route: '/v1/things/:id', status: '200' }]);
  });

  it('gives a request without a usable id a fresh one, and an unmatched one no route', async () => {
    const { app: served, timed } = app();
    const res = await request(served).get('/nowhere').set('x-request-id', 'a b');
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(timed).toEqual([{ method: 'GET', route: 'unmatched', status: '404' }]);
  });
});
