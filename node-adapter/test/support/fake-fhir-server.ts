// A scripted HTTP server on the loopback interface for the live source's
// tests: each request is answered by a handler the test writes, and every
// request is recorded, so tests can assert what the node sent.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect } from 'vitest';
import { ProblemError } from '@tessera/schemas';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type FakeHandler = (request: RecordedRequest, res: ServerResponse, base: string) => unknown;

export interface FakeServer {
  /** `http://127.0.0.1:<port>/fhir` */
  readonly baseUrl: string;
  readonly origin: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Writes a FHIR JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * @example const fake = await startFakeServer((req, res) => sendJson(res, 200, bundle));
 */
export async function startFakeServer(handler: FakeHandler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  let origin = '';
  const server = createServer((req, res) => {
    void (async () => {
      const request: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: await readBody(req),
      };
      requests.push(request);
      try {
        await handler(request, res, `${origin}/fhir`);
      } catch {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl: `${origin}/fhir`,
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A starter of fake servers for one test file; every server it started is
 * closed after each test.
 * @example const fake = fakeServers(); const server = await fake((req, res) => sendJson(res, 200, {}));
 */
export function fakeServers(): (handler: FakeHandler) => Promise<FakeServer> {
  const open: FakeServer[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return async (handler) => {
    const server = await startFakeServer(handler);
    open.push(server);
    return server;
  };
}

/** A searchset page whose self link echoes the request, as a conformant server writes it. */
export function searchset(
  request: RecordedRequest,
  origin: string,
  resources: readonly Record<string, unknown>[],
  extra: { readonly next?: string; readonly total?: number } = {},
): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(extra.total === undefined ? {} : { total: extra.total }),
    link: [
      { relation: 'self', url: `${origin}${request.url}` },
      ...(extra.next === undefined ? [] : [{ relation: 'next', url: extra.next }]),
    ],
    entry: resources.map((resource) => ({ resource, search: { mode: 'match' } })),
  };
}

/** The ProblemError a promise rejects with; fails the test when it resolves or throws anything else. */
export async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProblemError);
  return err as ProblemError;
}
