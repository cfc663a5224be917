// The HTTP manners and failure mapping of the live source: retries that honour
// Retry-After, bounded concurrency, timeouts, no redirects, size caps, the
// headers sent, and errors that never carry the server's words.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '@tessera/schemas';
import { createAuthProvider } from './auth.ts';
import type { FhirAuth } from './auth.ts';
import { fakeServers, problemOf, sendJson } from '../../test/support/fake-fhir-server.ts';
import { createFhirHttp, parseRetryAfter } from './fhir-http.ts';
import type { FhirHttpOptions } from './fhir-http.ts';

const fake = fakeServers();

function http(options: Partial<Omit<FhirHttpOptions, 'auth'>> & { auth?: FhirAuth } = {}) {
  const { auth: config, ...rest } = options;
  const auth = createAuthProvider(config ?? { kind: 'none' }, {
    fetch,
    timeoutMs: 2000,
    now: Date.now,
  });
  return createFhirHttp({ fetch, concurrency: 4, backoffMs: 10, timeoutMs: 2000, ...rest, auth });
}

const UPSTREAM_TEXT = 'Patient/secret-id-4711 failed: NullPointerException at db.query';

function leaks(err: ProblemError): boolean {
  const everything = [
    err.message,
    err.detail,
    err.title,
    JSON.stringify(err.toProblem('r')),
    err.stack,
  ].join('\n');
  return everything.includes('secret-id-4711') || everything.includes('NullPointerException');
}

describe('retries', () => {
  it('waits as long as Retry-After says after a 429, then succeeds', async () => {
    let calls = 0;
    const server = await fake((_req, res) => {
      calls += 1;
      if (calls === 1)
        sendJson(res, 429, { resourceType: 'OperationOutcome' }, { 'retry-after': '1' });
      else sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset' });
    });
    const started = Date.now();
    const json = await http().getJson(`${server.baseUrl}/Patient`);
    expect(json).toEqual({ resourceType: 'Bundle', type: 'searchset' });
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('gives up after three attempts on 503 and says when to come back', async () => {
    const server = await fake((_req, res) => sendJson(res, 503, {}, { 'retry-after': '0' }));
    const err = await problemOf(http().getJson(`${server.baseUrl}/Patient`));
    expect(err.code).toBe('ERR_SOURCE_UNAVAILABLE');
    expect(err.status).toBe(503);
    expect(err.retryAfter).toBe(0);
    expect(server.requests).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond its limit', async () => {
    const server = await fake((_req, res) => sendJson(res, 429, {}, { 'retry-after': '120' }));
    const err = await problemOf(
      http({ maxRetryAfterMs: 5000 }).getJson(`${server.baseUrl}/Patient`),
    );
    expect(err.code).toBe('ERR_SOURCE_UNAVAILABLE');
    expect(err.retryAfter).toBe(120);
    expect(server.requests).toHaveLength(1);
  });

  it('parallel requests retrying under one signal wait without piling listeners on it', async () => {
    const tries = new Map<string, number>();
    const server = await fake((req, res) => {
      const n = (tries.get(req.url) ?? 0) + 1;
      tries.set(req.url, n);
      if (n === 1) return sendJson(res, 503, {});
      return sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset' });
    });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const client = http({ concurrency: 20, backoffMs: 50 });
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client.getJson(`${server.baseUrl}/Patient?n=${i}`, controller.signal),
        ),
      );
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
    expect(server.requests).toHaveLength(40);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('failures', () => {
  it('a server that is down is unavailable', async () => {
    const server = await fake((_req, res) => sendJson(res, 200, {}));
    const url = `${server.baseUrl}/Patient`;
    await server.close();
    const err = await problemOf(http().getJson(url));
    expect(err.code).toBe('ERR_SOURCE_UNAVAILABLE');
  });

  it('a 500 with an OperationOutcome is unavailable, and its text goes nowhere', async () => {
    const server = await fake((_req, res) =>
      sendJson(res, 500, {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'fatal',
            code: 'exception',
            diagnostics: UPSTREAM_TEXT,
            details: { text: UPSTREAM_TEXT },
          },
        ],
      }),
    );
    const err = await problemOf(http().getJson(`${server.baseUrl}/Condition`));
    expect(err.code).toBe('ERR_SOURCE_UNAVAILABLE');
    expect(leaks(err)).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('a 400 (a search the server refuses) is invalid, without its text', async () => {
    const server = await fake((_req, res) =>
      sendJson(res, 400, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'invalid', diagnostics: UPSTREAM_TEXT }],
      }),
    );
    const err = await problemOf(http().getJson(`${server.baseUrl}/Condition`));
    expect(err.code).toBe('ERR_SOURCE_INVALID');
    expect(err.status).toBe(502);
    expect(leaks(err)).toBe(false);
  });

  it('a server that does not answer in time is unavailable', async () => {
    const server = await fake(() => new Promise<void>(() => undefined));
    const started = Date.now();
    const err = await problemOf(http({ timeoutMs: 200 }).getJson(`${server.baseUrl}/Patient`));
    expect(err.code).toBe('ERR_SOURCE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('an answer that is not JSON, or is too large, is invalid', async () => {
    const server = await fake((req, res) => {
      if (req.url.includes('html')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<html>${UPSTREAM_TEXT}</html>`);
      } else if (req.url.includes('broken')) {
        res.writeHead(200, { 'content-type': 'application/fhir+json' });
        res.end(`{"resourceType": "Bundle", ${UPSTREAM_TEXT}`);
      } else {
        sendJson(res, 200, { resourceType: 'Bundle', padding: 'x'.repeat(10_000) });
      }
    });
    const client = http({ maxBodyBytes: 5000 });
    for (const path of ['html', 'broken', 'big']) {
      const err = await problemOf(client.getJson(`${server.baseUrl}/${path}`));
      expect(err.code).toBe('ERR_SOURCE_INVALID');
      expect(leaks(err)).toBe(false);
    }
  });

  it('never follows a redirect, so credentials stay with the server', async () => {
    const elsewhere = await fake((_req, res) => sendJson(res, 200, {}));
    const server = await fake((_req, res) => {
      res.writeHead(302, { location: `${elsewhere.baseUrl}/Patient` });
      res.end();
    });
    const err = await problemOf(
      http({ auth: { kind: 'bearer', token: 'node-token' } }).getJson(`${server.baseUrl}/Patient`),
    );
    expect(err.code).toBe('ERR_SOURCE_INVALID');
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('a cancelled evaluation stops waiting', async () => {
    const server = await fake(() => new Promise<void>(() => undefined));
    const controller = new AbortController();
    const pending = http().getJson(`${server.baseUrl}/Patient`, controller.signal);
    setTimeout(() => controller.abort(new Error('deadline')), 50);
    await expect(pending).rejects.toThrow('deadline');
  });
});

describe('requests', () => {
  it('ask for FHIR JSON with strict handling, and carry the configured credentials', async () => {
    const server = await fake((_req, res) => sendJson(res, 200, {}));
    await http().getJson(`${server.baseUrl}/Patient`);
    await http({ auth: { kind: 'bearer', token: 'abc.def' } }).getJson(`${server.baseUrl}/Patient`);
    await http({ auth: { kind: 'basic', username: 'node', password: 'pä:ss' } }).getJson(
      `${server.baseUrl}/Patient`,
    );
    const [none, bearer, basic] = server.requests;
    expect(none!.headers.accept).toBe('application/fhir+json');
    expect(none!.headers.prefer).toBe('handling=strict');
    expect(none!.headers.authorization).toBeUndefined();
    expect(bearer!.headers.authorization).toBe('Bearer abc.def');
    expect(basic!.headers.authorization).toBe(
      `Basic ${Buffer.from('node:pä:ss').toString('base64')}`,
    );
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let active = 0;
    let peak = 0;
    const server = await fake(async (_req, res) => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 30));
      active -= 1;
      sendJson(res, 200, {});
    });
    const client = http({ concurrency: 3 });
    await Promise.all(
      Array.from({ length: 12 }, () => client.getJson(`${server.baseUrl}/Patient`)),
    );
    expect(server.requests).toHaveLength(12);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThanOrEqual(2);
  });

  it('refuses credentials that could break a header', () => {
    const deps = { fetch, timeoutMs: 1000, now: Date.now };
    expect(() => createAuthProvider({ kind: 'bearer', token: 'a\r\nX-Evil: 1' }, deps)).toThrow(
      ProblemError,
    );
    expect(() =>
      createAuthProvider({ kind: 'basic', username: 'a:b', password: 'c' }, deps),
    ).toThrow(ProblemError);
  });
});
