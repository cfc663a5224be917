// A stand-in IdP for the auth tests: serves OpenID discovery and a JWKS from
// memory on a loopback port, counts every request, and can be switched to
// fail (500), drop connections or hang, so key-cache behaviour can be pinned
// exactly. Also a "trap" server that records any request made to it.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export type KeyServerMode = 'up' | 'error' | 'drop' | 'hang';

export interface TestKeyServer {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Requests seen, by path. */
  readonly hits: { discovery: number; jwks: number };
  /** What the server answers from now on. */
  mode: KeyServerMode;
  /** The issuer the discovery document claims; defaults to the real one. */
  advertisedIssuer: string | undefined;
  setKeys(keys: readonly JWK[]): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startTestKeyServer(): Promise<TestKeyServer> {
  let keys: readonly JWK[] = [];
  const hanging = new Set<ServerResponse>();
  const state: TestKeyServer = {
    issuer: '',
    jwksUrl: '',
    hits: { discovery: 0, jwks: 0 },
    mode: 'up',
    advertisedIssuer: undefined,
    setKeys(next) {
      keys = next;
    },
    reset() {
      keys = [];
      state.hits.discovery = 0;
      state.hits.jwks = 0;
      state.mode = 'up';
      state.advertisedIssuer = undefined;
    },
    close: () => close(server, hanging),
  };

  const server = createServer((req, res) => {
    const path = req.url ?? '';
    if (path === '/.well-known/openid-configuration') state.hits.discovery += 1;
    else if (path === '/jwks') state.hits.jwks += 1;
    else return send(res, 404, { error: 'not_found' });

    switch (state.mode) {
      case 'error':
        return send(res, 500, { error: 'server_error' });
      case 'drop':
        return void req.socket.destroy();
      case 'hang':
        return void hanging.add(res);
      case 'up':
        break;
    }
    if (path === '/jwks') return send(res, 200, { keys });
    return send(res, 200, {
      issuer: state.advertisedIssuer ?? state.issuer,
      jwks_uri: state.jwksUrl,
      token_endpoint: `${state.issuer}/token`,
    });
  });
  const base = await listen(server);
  Object.assign(state, { issuer: base, jwksUrl: `${base}/jwks` });
  return state;
}

export interface TrapServer {
  readonly url: string;
  /** Every request that reached the trap. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** A server no code under test may ever call: it only records. */
export async function startTrapServer(): Promise<TrapServer> {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    send(res, 200, { keys: [] });
  });
  const url = await listen(server);
  return { url, requests, close: () => close(server, new Set()) };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: Server, hanging: Set<ServerResponse>): Promise<void> {
  for (const res of hanging) res.destroy();
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
