// A real OpenID Provider (oidc-provider) on a loopback port, for the tests and
// the local demo: it issues RFC 9068 JWT access tokens through the
// client_credentials grant, to a browser through the authorization code flow
// with PKCE (test-idp-browser.ts) and to the researcher's command line through
// the device authorization grant (test-idp-device.ts), for one resource (the
// gateway's audience), with the researcher's projects in a custom claim.
// State is in memory only.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import type { ClientMetadata, ResourceServer } from 'oidc-provider';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import {
  MemoryStore,
  type TestIdpBrowserClient,
  browserClientMetadata,
  browserConfiguration,
  handleInteraction,
  logoutSource,
  signInConfiguration,
} from './test-idp-browser.ts';
import { type TestIdpDeviceClient, deviceClientMetadata } from './test-idp-device.ts';

export {
  type TestIdpBrowserClient,
  type TestResearcher,
  demoResearchers,
} from './test-idp-browser.ts';
export { type TestIdpDeviceClient, completeDeviceSignIn } from './test-idp-device.ts';

export interface TestIdpClient {
  readonly clientId: string;
  /** Generated when absent; read it back from `TestIdp.clients`. */
  readonly clientSecret?: string;
}

export interface TestIdpOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Client ids, or ids with secrets. */
  readonly clients: readonly (string | TestIdpClient)[];
  /** The projects put into each client's access tokens. */
  readonly projectsByClient: Readonly<Record<string, readonly string[]>>;
  /** Default `urn:tessera:gateway` (a resource indicator must be an absolute URI). */
  readonly audience?: string;
  /** Default `tessera_projects`. */
  readonly projectsClaim?: string;
  /** The scope the gateway requires; default `tessera:query`. */
  readonly scope?: string;
  /** Default 300. */
  readonly accessTokenTtlSec?: number;
  /** A browser client (the gateway's web page) and the researchers who sign in there. */
  readonly browser?: TestIdpBrowserClient;
  /** A command-line client signing researchers in with the device flow. */
  readonly device?: TestIdpDeviceClient;
}

export interface TestIdp {
  readonly issuer: string;
  readonly audience: string;
  readonly projectsClaim: string;
  readonly tokenEndpoint: string;
  /** The device flow's client id; undefined without `device`. */
  readonly deviceClientId: string | undefined;
  /** Client id → secret, for tools that fetch their own tokens. */
  readonly clients: ReadonlyMap<string, string>;
  /** A fresh access token for a client; `scope: ''` asks for none (to show a 403). */
  tokenFor(clientId: string, options?: { readonly scope?: string }): Promise<string>;
  /**
   * Ends every sign-in: sessions, grants and refresh tokens are forgotten, so
   * a browser's next renewal fails and its researcher must sign in again.
   */
  endSessions(): void;
  close(): Promise<void>;
}

/**
 * @example
 * const idp = await startTestIdp({ clients: ['alice'], projectsByClient: { alice: ['diabetes-eu'] } });
 * const token = await idp.tokenFor('alice');
 * await idp.close();
 */
export async function startTestIdp(options: TestIdpOptions): Promise<TestIdp> {
  const {
    port = 0,
    host = '127.0.0.1',
    audience = 'urn:tessera:gateway',
    projectsClaim = 'tessera_projects',
    scope = 'tessera:query',
    accessTokenTtlSec = 300,
    projectsByClient,
  } = options;

  const clients = new Map<string, string>();
  for (const client of options.clients) {
    const { clientId, clientSecret } = typeof client === 'string' ? { clientId: client } : client;
    clients.set(clientId, clientSecret ?? randomBytes(24).toString('base64url'));
  }

  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  const signingJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  const { browser } = options;
  const resourceServer = (clientId: string): ResourceServer => ({
    scope,
    audience,
    accessTokenFormat: 'jwt',
    accessTokenTTL:
      clientId === browser?.clientId
        ? (browser.accessTokenTtlSec ?? accessTokenTtlSec)
        : accessTokenTtlSec,
    jwt: { sign: { alg: 'RS256' } },
  });
  const store = new MemoryStore();
  const { device } = options;
  // One sign-in form for both: a name known to either client signs in.
  const researchers = { ...device?.researchers, ...browser?.researchers };
  const interactive = [browser?.clientId, device?.clientId].filter((id) => id !== undefined);
  const machineClients = [...clients].map(([clientId, secret]): ClientMetadata => ({
    client_id: clientId,
    client_secret: secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope,
    token_endpoint_auth_method: 'client_secret_basic',
  }));

  const provider = new Provider(issuer, {
    adapter: store.adapter(),
    clients: [
      ...machineClients,
      ...(browser ? [browserClientMetadata(browser, scope)] : []),
      ...(device ? [deviceClientMetadata(device, scope)] : []),
    ],
    ...(interactive.length > 0
      ? signInConfiguration(interactive, researchers, audience, scope)
      : {}),
    ...(browser ? browserConfiguration(browser) : {}),
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: [scope],
    ttl: {
      AccessToken: (_ctx, _token, client) =>
        client.clientId === browser?.clientId
          ? (browser.accessTokenTtlSec ?? accessTokenTtlSec)
          : accessTokenTtlSec,
      ClientCredentials: accessTokenTtlSec,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource },
      deviceFlow: { enabled: device !== undefined },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator, client) => {
          if (resourceIndicator !== audience) throw new Error('unknown resource');
          return resourceServer(client.clientId);
        },
      },
    },
    extraTokenClaims: (_ctx, token) => {
      // A signed-in researcher carries their projects; a machine client its own.
      const researcher =
        token.accountId !== undefined && Object.hasOwn(researchers, token.accountId)
          ? researchers[token.accountId]
          : undefined;
      if (researcher !== undefined) return { [projectsClaim]: [...researcher.projects] };
      const clientId = token.clientId ?? '';
      const projects = Object.hasOwn(projectsByClient, clientId)
        ? projectsByClient[clientId]
        : undefined;
      return { [projectsClaim]: [...(projects ?? [])] };
    },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (interactive.length === 0) {
      callback(req, res);
      return;
    }
    void handleInteraction(provider, researchers, req, res).then((handled) => {
      if (!handled) callback(req, res);
    });
  });

  const tokenEndpoint = `${issuer}/token`;

  return {
    issuer,
    audience,
    projectsClaim,
    tokenEndpoint,
    deviceClientId: device?.clientId,
    clients,
    async tokenFor(clientId, tokenOptions = {}) {
      const secret = clients.get(clientId);
      if (secret === undefined) throw new Error(`test IdP: unknown client ${clientId}`);
      const credentials = `${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`;
      const form = new URLSearchParams({ grant_type: 'client_credentials', resource: audience });
      const requested = tokenOptions.scope ?? scope;
      if (requested !== '') form.set('scope', requested);
      const response = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: form,
      });
      const body = (await response.json()) as { access_token?: unknown; error?: unknown };
      if (response.status !== 200 || typeof body.access_token !== 'string') {
        throw new Error(
          `test IdP: token request failed with ${response.status} ${String(body.error)}`,
        );
      }
      return body.access_token;
    },
    endSessions() {
      store.clear();
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
