// The test IdP's client for the researcher's command line: a public client
// using the OAuth 2.0 device authorization grant (RFC 8628). Its researchers
// sign in on the same plain form as the web page's (test-idp-browser.ts);
// test-idp.ts wires both into the provider. `completeDeviceSignIn` does in
// a test what a researcher does in a browser with the link the CLI prints.
import type { ClientMetadata } from 'oidc-provider';
import type { TestResearcher } from './test-idp-browser.ts';

export interface TestIdpDeviceClient {
  /** The CLI's client id (a public client: no secret). */
  readonly clientId: string;
  /** Sign-in name → password and projects; the name is the token's `sub`. */
  readonly researchers: Readonly<Record<string, TestResearcher>>;
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
    const fields = 'password' in form.fields ? { username: name, password } : form.fields;
    page = await browse(new URL(form.action, page.url), fields);
  }
  throw new Error('test IdP: device sign-in did not succeed');
}
