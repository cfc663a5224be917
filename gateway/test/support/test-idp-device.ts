// The test IdP's sign-in for the researcher's command line: a public client
// using the OAuth 2.0 device authorization grant (RFC 8628), researchers who
// sign in with a name and a password on a plain form, and consent taken as
// given for that first-party client. Pure configuration and a form handler;
// test-idp.ts wires them into the provider. `completeDeviceSignIn` does in
// a test what a researcher does in a browser with the link the CLI prints.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientMetadata, Configuration, default as Provider } from 'oidc-provider';

export interface DeviceResearcher {
  readonly password: string;
  /** The projects put into this researcher's access tokens. */
  readonly projects: readonly string[];
}

export interface TestIdpDeviceClient {
  /** The CLI's client id (a public client: no secret). */
  readonly clientId: string;
  /** Sign-in name → password and projects; the name is the token's `sub`. */
  readonly researchers: Readonly<Record<string, DeviceResearcher>>;
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The CLI client's registration. */
export function deviceClientMetadata(device: TestIdpDeviceClient, scope: string): ClientMetadata {
  return {
    client_id: device.clientId,
    grant_types: [DEVICE_CODE_GRANT],
    redirect_uris: [],
    response_types: [],
    scope: `openid ${scope}`,
    token_endpoint_auth_method: 'none',
  };
}

/** What the provider needs for the device flow: accounts and consent for the CLI. */
export function deviceConfiguration(
  device: TestIdpDeviceClient,
  audience: string,
  scope: string,
): Pick<Configuration, 'findAccount' | 'loadExistingGrant'> {
  return {
    findAccount: (_ctx, accountId) =>
      Object.hasOwn(device.researchers, accountId)
        ? { accountId, claims: () => ({ sub: accountId }) }
        : undefined,
    // The CLI is the project's own client: no consent screen, the grant is
    // made on first sign-in (oidc-provider's "skip consent" recipe).
    async loadExistingGrant(ctx) {
      const { client, session, result, provider } = ctx.oidc;
      const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId) return provider.Grant.find(grantId);
      if (client.clientId !== device.clientId || session.accountId === undefined) return undefined;
      const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      // The device flow names its resource only at the token endpoint, so the
      // gateway's scope is asked for, and granted, as a plain scope too.
      grant.addOIDCScope(`openid ${scope}`);
      grant.addResourceScope(audience, scope);
      await grant.save();
      return grant;
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function loginPage(uid: string, error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in to Tessera</h1>${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Name <input name="login" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 16_384) break;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Serves the sign-in form of an interaction (`/interaction/<uid>`) and its
 * answer; returns false for any other request, which the provider serves.
 */
export async function handleDeviceInteraction(
  provider: Provider,
  device: TestIdpDeviceClient,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(
    new URL(req.url ?? '/', 'http://idp').pathname,
  );
  if (match === null) return false;
  const uid = match[1]!;
  const send = (status: number, html: string): void => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  };
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) {
      send(400, loginPage(uid, 'This sign-in has expired; start again.'));
      return true;
    }
    if (req.method === 'GET' && match[2] === undefined) {
      send(200, loginPage(uid));
      return true;
    }
    if (req.method !== 'POST' || match[2] === undefined) {
      send(405, loginPage(uid));
      return true;
    }
    const form = await readForm(req);
    const name = form.get('login') ?? '';
    const researcher = Object.hasOwn(device.researchers, name)
      ? device.researchers[name]
      : undefined;
    if (researcher === undefined || researcher.password !== form.get('password')) {
      send(200, loginPage(uid, 'Unknown name or wrong password.'));
      return true;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: name } },
      { mergeWithLastSubmission: false },
    );
  } catch {
    send(400, loginPage(uid, 'This sign-in has expired; start again.'));
  }
  return true;
}

/** A browser in a few lines: cookies kept per name, redirects followed by hand. */
function createBrowser() {
  const cookies = new Map<string, string>();
  return async (url: URL, form?: Record<string, string>): Promise<{ url: URL; html: string }> => {
    let next: URL | undefined = url;
    let body: URLSearchParams | undefined = form ? new URLSearchParams(form) : undefined;
    for (let hops = 0; hops < 10 && next !== undefined; hops += 1) {
      const response: Response = await fetch(next, {
        method: body ? 'POST' : 'GET',
        redirect: 'manual',
        headers: {
          cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(body ? { body } : {}),
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const at = pair!.indexOf('=');
        cookies.set(pair!.slice(0, at).trim(), pair!.slice(at + 1));
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        next = new URL(location, next);
        body = undefined;
        await response.body?.cancel();
        continue;
      }
      return { url: next, html: await response.text() };
    }
    throw new Error('test IdP: too many redirects');
  };
}

/** The first form on a page: where it posts and its named inputs (hidden ones included). */
function firstForm(html: string): { action: string; fields: Record<string, string> } | undefined {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (form === null) return undefined;
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name !== undefined) fields[name] = value;
  }
  return { action: form[1]!.replaceAll('&amp;', '&'), fields };
}

/**
 * What a researcher does with the link `tessera login` prints: opens it,
 * confirms the code, signs in. Resolves when the IdP says sign-in succeeded.
 * @example await completeDeviceSignIn(verificationUriComplete, 'alice', 'alice');
 */
export async function completeDeviceSignIn(
  verificationUriComplete: string,
  name: string,
  password: string,
): Promise<void> {
  const browse = createBrowser();
  let page = await browse(new URL(verificationUriComplete));
  // The link's page posts the code, the next asks to confirm it, then the sign-in form.
  for (let step = 0; step < 5; step += 1) {
    if (page.html.includes('Sign-in Success')) return;
    const form = firstForm(page.html);
    if (form === undefined) break;
    const fields = 'password' in form.fields ? { login: name, password } : form.fields;
    page = await browse(new URL(form.action, page.url), fields);
  }
  throw new Error('test IdP: device sign-in did not succeed');
}
