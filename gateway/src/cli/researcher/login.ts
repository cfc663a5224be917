// `tessera login` and `tessera logout`. A researcher signs in with the OAuth
// 2.0 device authorization grant (RFC 8628): the CLI prints a link and a
// code, the researcher opens it in any browser and signs in at the IdP, and
// the CLI receives the token; no password ever passes through the CLI. A
// service account signs in with its client credentials instead. Where the
// IdP is, and the CLI's client id, come from the gateway (GET /v1/sign-in)
// unless given. The token is saved per gateway (credentials.ts).
import { parseArgs } from 'node:util';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { CONNECTION_HELP, CliError, EXIT, connect, gatewayUrl, readFileOrFail } from './client.ts';
import {
  type StoredCredential,
  credentialsPath,
  forgetCredential,
  saveCredential,
} from './credentials.ts';

interface SignInSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly scope: string;
  readonly cliClientId?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Plain HTTP to an IdP is allowed on this machine only (tests and the demo). */
function discoveryOptions(issuer: URL): oidc.DiscoveryRequestOptions {
  return issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname)
    ? { execute: [oidc.allowInsecureRequests] }
    : {};
}

function projectsOf(accessToken: string): string {
  try {
    const claims = decodeJwt(accessToken);
    const projects = Object.values(claims).find(
      (v): v is string[] => Array.isArray(v) && v.every((p) => typeof p === 'string'),
    );
    return `${claims.sub ?? 'unknown'}${projects && projects.length > 0 ? ` (projects: ${projects.join(', ')})` : ''}`;
  } catch {
    return 'an opaque token';
  }
}

async function discover(
  issuer: string,
  clientId: string,
  auth: oidc.ClientAuth,
): Promise<oidc.Configuration> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new CliError(`the issuer "${issuer}" is not a URL`, EXIT.refused);
  }
  try {
    return await oidc.discovery(url, clientId, undefined, auth, discoveryOptions(url));
  } catch {
    throw new CliError(`cannot reach the identity provider at ${issuer}`, EXIT.error);
  }
}

function oauthFailure(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof oidc.ResponseBodyError) {
    const denied = ['access_denied', 'expired_token', 'invalid_client', 'unauthorized_client'];
    return new CliError(
      `the identity provider refused: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`,
      denied.includes(err.error) ? EXIT.refused : EXIT.error,
    );
  }
  return new CliError(
    `sign-in failed: ${err instanceof Error ? err.message : String(err)}`,
    EXIT.error,
  );
}

export async function runLogin(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      gateway: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(`Usage: tessera login [options]

Signs in and saves the token for this gateway (readable by you only).
A researcher opens the link it prints in a browser and signs in there
(device authorization). A service account gives its client id and secret
(client credentials): --client-id with --client-secret-file or $TESSERA_CLIENT_SECRET.

  --gateway <url>              the gateway (default $TESSERA_GATEWAY or http://127.0.0.1:8080)
  --issuer <url>               the identity provider (default: the gateway's)
  --client-id <id>             the client to sign in as (default: the gateway's CLI client)
  --client-secret-file <file>  a service account's secret`);
    return EXIT.ok;
  }
  const gateway = await connect({ gateway: values.gateway, token: '' });
  const settings = await gateway.json<SignInSettings>('/v1/sign-in');
  const issuer = values.issuer ?? settings.issuer;
  const secret =
    values['client-secret-file'] !== undefined
      ? (await readFileOrFail(values['client-secret-file'])).trim()
      : process.env.TESSERA_CLIENT_SECRET;
  const clientId = values['client-id'] ?? (secret === undefined ? settings.cliClientId : undefined);
  if (clientId === undefined) {
    throw new CliError(
      secret === undefined
        ? 'this gateway names no command-line client; give --client-id'
        : 'a client secret needs its --client-id',
      EXIT.refused,
    );
  }
  const params = { scope: settings.scope, resource: settings.audience };
  let tokens: oidc.TokenEndpointResponse;
  let grant: StoredCredential['grant'];
  try {
    if (secret !== undefined) {
      const config = await discover(issuer, clientId, oidc.ClientSecretBasic(secret));
      tokens = await oidc.clientCredentialsGrant(config, params);
      grant = 'client-credentials';
    } else {
      const config = await discover(issuer, clientId, oidc.None());
      const device = await oidc.initiateDeviceAuthorization(config, {
        ...params,
        scope: `openid ${settings.scope}`,
      });
      console.error(
        device.verification_uri_complete
          ? `To sign in, open ${device.verification_uri_complete}\nand check that it shows the code ${device.user_code}.`
          : `To sign in, open ${device.verification_uri} and enter the code ${device.user_code}.`,
      );
      console.error('Waiting for you to sign in…');
      tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
      grant = 'device';
    }
  } catch (err) {
    throw oauthFailure(err);
  }
  const expiresIn = tokens.expires_in ?? 300;
  await saveCredential(credentialsPath(), gateway.url, {
    accessToken: tokens.access_token,
    expiresAt: Math.floor(Date.now() / 1000) + expiresIn,
    grant,
    issuer,
    clientId,
  });
  console.error(
    `Signed in to ${gateway.url} as ${projectsOf(tokens.access_token)}; the token is valid for ${Math.round(expiresIn / 60)} min.`,
  );
  return EXIT.ok;
}

export async function runLogout(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { gateway: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(
      `Usage: tessera logout [--gateway <url>]\n\nForgets the token saved for this gateway.\n\n${CONNECTION_HELP.split('\n')[0]}`,
    );
    return EXIT.ok;
  }
  const url = gatewayUrl(values);
  const forgot = await forgetCredential(credentialsPath(), url);
  console.error(forgot ? `Signed out of ${url}.` : `You were not signed in to ${url}.`);
  return EXIT.ok;
}
