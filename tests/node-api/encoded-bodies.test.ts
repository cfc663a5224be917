// Threat 49: compressed bodies at the node. The gateway sends every node
// request as plain JSON, and the token is checked against the bytes as they
// arrive, so the node decompresses nothing: any Content-Encoding other than
// identity is refused with 415 before a byte of the body is read, with or
// without a token. Before, a bad gzip, deflate or brotli body was decompressed
// ahead of authentication and answered 500 ERR_INTERNAL.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNTHEA_10 } from '../support/paths.ts';
import { type TestNode, createTestNode } from '../support/test-node.ts';

const body = JSON.stringify({
  query: { version: 1, cohort: { patient: { gender: ['female'] } }, asOf: '2026-02-01' },
});

describe('encoded request bodies at the node (threat 49)', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await createTestNode({ sources: [SYNTHEA_10] });
  }, 120_000);
  afterAll(async () => {
    await node.close();
  });

  const cases: [string, string, Buffer][] = [
    ['gzip over a plain body', 'gzip', Buffer.from(body)],
    ['a truncated deflate body', 'deflate', deflateSync(body).subarray(0, 12)],
    ['a truncated brotli body', 'br', brotliCompressSync(body).subarray(0, 12)],
    ['a valid gzip body', 'gzip', gzipSync(body)],
    ['an unknown encoding', 'compress', Buffer.from(body)],
  ];

  for (const [name, encoding, bytes] of cases) {
    it(`answers 415 ERR_ENCODING_UNSUPPORTED for ${name}, with or without a token`, async () => {
      for (const token of [undefined, node.sign(bytes.toString('latin1'))]) {
        const req = request(node.service.app)
          .post('/v1/evaluate')
          .set('content-type', 'application/json')
          .set('content-encoding', encoding);
        if (token !== undefined) req.set('authorization', `Bearer ${token}`);
        // As bytes: superagent would otherwise send a Buffer as JSON.
        const res = await req.serialize((b: Buffer) => b as unknown as string).send(bytes);
        expect(res.status).toBe(415);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(res.body.code).toBe('ERR_ENCODING_UNSUPPORTED');
      }
    });
  }

  it('answers 400 with a pointer for a name twice in one object (threat 50)', async () => {
    const twice =
      '{"query":{"version":1,"cohort":{"patient":{"gender":["female"]}},"cohort":{"patient":{"gender":["male"]}},"asOf":"2026-02-01"}}';
    const res = await request(node.service.app)
      .post('/v1/evaluate')
      .set('authorization', `Bearer ${node.sign(twice)}`)
      .set('content-type', 'application/json')
      .send(twice);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'ERR_QUERY_INVALID', pointer: '/query/cohort' });
  });

  it('still answers a plain body, and identity is plain', async () => {
    const res = await request(node.service.app)
      .post('/v1/evaluate')
      .set('authorization', `Bearer ${node.sign(body)}`)
      .set('content-type', 'application/json')
      .set('content-encoding', 'identity')
      .send(body);
    expect(res.status).toBe(200);
  });
});
