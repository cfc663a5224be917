// Threat 49 at the gateway: a compressed query body that does not decompress,
// or an encoding the gateway does not offer, is a 400 or 415 problem with its
// own code, never a 500 ERR_INTERNAL; a valid gzip body is still read.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { problemHandler } from '@tessera/http-kit';
import { gatewayProblem } from '../errors.ts';
import type { QueryService } from '../jobs/service.ts';
import { queriesRouter } from './queries.ts';

const text = JSON.stringify({ version: 1, cohort: { patient: { gender: ['female'] } } });

function app(options: { screen?: QueryService['screen']; bodyLimitBytes?: number } = {}): {
  server: express.Express;
  submitted: unknown[];
  screened: unknown[];
} {
  const submitted: unknown[] = [];
  const screened: unknown[] = [];
  const queries = {
    screen: (input: Parameters<QueryService['screen']>[0]) => {
      screened.push({ researcher: input.researcher.sub, project: input.project });
      return options.screen ? options.screen(input) : Promise.resolve();
    },
    submit: (input: { body: unknown }) => {
      submitted.push(input.body);
      // Stop here: what matters is that the body reached the service.
      return Promise.reject(gatewayProblem('ERR_RATE_LIMITED'));
    },
  } as unknown as QueryService;
  const server = express();
  server.use((_req, res, next) => {
    res.locals.researcher = { sub: 'alice', projects: ['diabetes-eu'], scopes: [] };
    next();
  });
  const bodyLimitBytes = options.bodyLimitBytes ?? 4096;
  server.use(queriesRouter({ queries, publicUrl: 'https://gw.test', bodyLimitBytes }));
  server.use(problemHandler({ logger: pino({ level: 'silent' }) }));
  return { server, submitted, screened };
}

function post(server: express.Express, encoding: string, bytes: Buffer) {
  return request(server)
    .post('/v1/queries')
    .set('content-type', 'application/json')
    .set('content-encoding', encoding)
    .set('x-tessera-project', 'diabetes-eu')
    .serialize((b: Buffer) => b as unknown as string)
    .send(bytes);
}

describe('POST /queries with an encoded body (threat 49)', () => {
  const broken: [string, string, Buffer][] = [
    ['gzip over a plain body', 'gzip', Buffer.from(text)],
    ['a truncated gzip body', 'gzip', gzipSync(text).subarray(0, 15)],
    ['a truncated deflate body', 'deflate', deflateSync(text).subarray(0, 12)],
    ['a truncated brotli body', 'br', brotliCompressSync(text).subarray(0, 12)],
    ['a corrupt brotli body', 'br', Buffer.from('not brotli at all, not at all')],
  ];
  for (const [name, encoding, bytes] of broken) {
    it(`answers 400 ERR_BODY_ENCODING for ${name}`, async () => {
      const { server, submitted } = app();
      const res = await post(server, encoding, bytes);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('ERR_BODY_ENCODING');
      expect(submitted).toEqual([]);
    });
  }

  it('answers 415 ERR_ENCODING_UNSUPPORTED for an encoding it does not offer', async () => {
    for (const encoding of ['compress', 'x-gzip, gzip', 'zstd']) {
      const { server, submitted } = app();
      const res = await post(server, encoding, Buffer.from(text));
      expect(res.status).toBe(415);
      expect(res.body.code).toBe('ERR_ENCODING_UNSUPPORTED');
      expect(submitted).toEqual([]);
    }
  });

  it('reads valid gzip, deflate and brotli bodies, and caps the decompressed size', async () => {
    for (const [encoding, bytes] of [
      ['gzip', gzipSync(text)],
      ['deflate', deflateSync(text)],
      ['br', brotliCompressSync(text)],
    ] as const) {
      const { server, submitted } = app();
      const res = await post(server, encoding, bytes);
      expect(res.status).toBe(429);
      expect(submitted).toEqual([JSON.parse(text)]);
    }
    const bomb = gzipSync(Buffer.alloc(10_000_000, 0x20));
    const { server, submitted } = app();
    const res = await post(server, 'gzip', bomb);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('ERR_BODY_TOO_LARGE');
    expect(submitted).toEqual([]);
  });
});

describe('POST /queries with a name twice in one object (threat 50)', () => {
  it('answers 400 with a pointer to the duplicate, and never submits', async () => {
    const { server, submitted } = app();
    const twice =
      '{"version":1,"cohort":{"patient":{"gender":["female"]}},"cohort":{"patient":{}}}';
    const res = await post(server, 'identity', Buffer.from(twice));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'ERR_QUERY_INVALID', pointer: '/cohort' });
    expect(submitted).toEqual([]);
  });
});

// A submission refused whatever its query (no project, not a member, no place
// left on this replica) is answered before its body is read (threat 59): a
// flood costs a lookup per request, not a parse, a validation and a hash.
describe('POST /queries screened before its body is read (threat 59)', () => {
  it('answers the refusal, with Retry-After, for a body it never reads', async () => {
    const { server, submitted, screened } = app({
      screen: () => Promise.reject(gatewayProblem('ERR_TOO_MANY_RUNNING', { retryAfter: 1 })),
      bodyLimitBytes: 64,
    });
    // Too large and not JSON: read, it would be a 413; it is never read.
    const res = await request(server)
      .post('/v1/queries?project=diabetes-eu')
      .set('content-type', 'application/json')
      .send('x'.repeat(1000));
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.code).toBe('ERR_TOO_MANY_RUNNING');
    expect(screened).toEqual([{ researcher: 'alice', project: 'diabetes-eu' }]);
    expect(submitted).toEqual([]);
  });

  it('reads and submits the body once screened', async () => {
    const { server, submitted, screened } = app();
    await request(server)
      .post('/v1/queries')
      .set('content-type', 'application/json')
      .set('x-tessera-project', 'diabetes-eu')
      .send({ version: 1 })
      .expect(429);
    expect(screened).toEqual([{ researcher: 'alice', project: 'diabetes-eu' }]);
    expect(submitted).toEqual([{ version: 1 }]);
  });
});
