// The test IdP's browser sign-in: a public client using the authorization
// code flow with PKCE (the gateway's web page), demo researchers who sign in
// with a name and a password on a plain form, refresh tokens that end with
// the IdP session, and a way to end every session at once (what a test does
// to make a browser's session expire). Pure configuration and two form
// handlers; test-idp.ts wires them into the provider.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  Adapter,
  AdapterPayload,
  ClientMetadata,
  Configuration,
  Grant,
  ProviderContext,
} from 'oidc-provider';
import type Provider from 'oidc-provider';

export interface TestResearcher {
  readonly password: string;
  /** The projects put into this researcher's access tokens. */
  readonly projects: readonly string[];
}

export interface TestIdpBrowserClient {
  readonly clientId: string;
  /** Where the IdP may send the browser back (the web page's own URL). */
  readonly redirectUris: readonly string[];
  /** Sign-in name → password and projects. */
  readonly researchers: Readonly<Record<string, TestResearcher>>;
  /** Lifetime of this client's access tokens; default the IdP's. */
  readonly accessTokenTtlSec?: number;
}

/**
 * The demo's researchers: one of the first project, one of the first two,
 * and one of none (signs in, and every query is refused). Password: the name.
 * @example startTestIdp({ ..., browser: { clientId: 'tessera-web', redirectUris, researchers: demoResearchers(['diabetes-eu']) } })
 */
export function demoResearchers(projects: readonly string[]): Record<string, TestResearcher> {
  return {
    rosa: { password: 'rosa', projects: projects.slice(0, 1) },
    marco: { password: 'marco', projects: projects.slice(0, 2) },
    nina: { password: 'nina', projects: [] },
  };
}

/**
 * The provider's storage, in memory, one map per model; `clear()` forgets
 * every session, grant, code and refresh token (JWT access tokens live on
 * until they expire: they are never stored).
 */
export class MemoryStore {
  readonly #rows = new Map<string, { payload: AdapterPayload; expiresAt: number }>();

  adapter(): new (model: string) => Adapter {
    const rows = this.#rows;
    const live = (key: string): AdapterPayload | undefined => {
      const row = rows.get(key);
      if (row === undefined) return undefined;
      if (row.expiresAt <= Date.now()) {
        rows.delete(key);
        return undefined;
      }
      return row.payload;
    };
    return class implements Adapter {
      readonly #model: string;
      constructor(model: string) {
        this.#model = model;
      }
      #key(id: string): string {
        return `${this.#model}:${id}`;
      }
      upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
        const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
        rows.set(this.#key(id), { payload, expiresAt });
        return Promise.resolve();
      }
      find(id: string): Promise<AdapterPayload | undefined> {
        return Promise.resolve(live(this.#key(id)));
      }
      findByUid(uid: string): Promise<AdapterPayload | undefined> {
        return Promise.resolve(this.#findWhere((p) => p.uid === uid));
      }
      findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
        return Promise.resolve(this.#findWhere((p) => p.userCode === userCode));
      }
      consume(id: string): Promise<void> {
        const payload = live(this.#key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
        return Promise.resolve();
      }
      destroy(id: string): Promise<void> {
        rows.delete(this.#key(id));
        return Promise.resolve();
      }
      revokeByGrantId(grantId: string): Promise<void> {
        for (const [key, row] of rows) if (row.payload.grantId === grantId) rows.delete(key);
        return Promise.resolve();
      }
      #findWhere(test: (p: AdapterPayload) => boolean): AdapterPayload | undefined {
        const prefix = `${this.#model}:`;
        for (const key of rows.keys()) {
          if (!key.startsWith(prefix)) continue;
          const payload = live(key);
          if (payload && test(payload)) return payload;
        }
        return undefined;
      }
    };
  }

  clear(): void {
    this.#rows.clear();
  }
}

/** The browser client as the provider registers it: public, PKCE, refresh tokens. */
export function browserClientMetadata(client: TestIdpBrowserClient, scope: string): ClientMetadata {
  return {
    client_id: client.clientId,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [...client.redirectUris],
    post_logout_redirect_uris: [...client.redirectUris],
    scope: `openid ${scope}`,
    token_endpoint_auth_method: 'none',
  };
}

/**
 * Provider settings for signing researchers in on a page (the web page's
 * authorization code flow, or the link the command line's device flow
 * prints): accounts from the researchers, a grant of the gateway's scope
 * without a consent page for the federation's own clients, and the sign-in
 * pages at /interaction/<uid>.
 */
export function signInConfiguration(
  clientIds: readonly string[],
  researchers: Readonly<Record<string, TestResearcher>>,
  audience: string,
  scope: string,
): Partial<Configuration> {
  return {
    findAccount: (_ctx, id) =>
      Object.hasOwn(researchers, id) ? { accountId: id, claims: () => ({ sub: id }) } : undefined,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async loadExistingGrant(ctx: ProviderContext): Promise<Grant | undefined> {
      const { oidc } = ctx;
      const clientId = oidc.client?.clientId ?? '';
      const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(clientId);
      const { provider } = oidc;
      if (grantId) return provider.Grant.find(grantId);
      const accountId = oidc.session?.accountId;
      if (!clientIds.includes(clientId) || accountId === undefined) return undefined;
      const grant = new provider.Grant({ clientId, accountId });
      // The gateway's scope is also one of the provider's own scopes: the
      // machine clients ask for it, and the device flow names its resource
      // only at the token endpoint.
      grant.addOIDCScope(`openid ${scope}`);
      grant.addResourceScope(audience, scope);
      await grant.save();
      return grant;
    },
  };
}

/** The browser client's own settings: refresh tokens, and CORS for its origin only. */
export function browserConfiguration(client: TestIdpBrowserClient): Partial<Configuration> {
  const allowedOrigins = new Set(client.redirectUris.map((uri) => new URL(uri).origin));
  return {
    issueRefreshToken: (_ctx, c) => c.clientId === client.clientId,
    clientBasedCORS: (_ctx, origin, c) =>
      c.clientId === client.clientId && allowedOrigins.has(origin),
  };
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function loginForm(uid: string, error?: string): string {
  return page(
    'Sign in to the Tessera test IdP',
    `${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<p><label>Name <input name="username" autocomplete="username" required autofocus></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16_384) throw new Error('sign-in form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Serves the sign-in form and its answer; false for any other request (the
 * provider's own). A wrong name or password shows the form again.
 */
export async function handleInteraction(
  provider: Provider,
  researchers: Readonly<Record<string, TestResearcher>>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(
    new URL(req.url ?? '/', 'http://x').pathname,
  );
  if (match === null) return false;
  const send = (status: number, html: string): void => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(html);
  };
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET' && match[2] === undefined) {
      send(200, loginForm(details.uid));
      return true;
    }
    if (req.method !== 'POST' || match[2] === undefined) {
      send(405, page('Not allowed', ''));
      return true;
    }
    const form = await formBody(req);
    const name = form.get('username') ?? '';
    const known = Object.hasOwn(researchers, name) ? researchers[name] : undefined;
    if (known === undefined || known.password !== form.get('password')) {
      send(200, loginForm(details.uid, 'Unknown name or wrong password.'));
      return true;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: name } },
      { mergeWithLastSubmission: false },
    );
  } catch {
    send(400, page('This sign-in has ended', '<p>Go back to the page and sign in again.</p>'));
  }
  return true;
}

/** The sign-out confirmation: a plain form, no script. */
export function logoutSource(ctx: ProviderContext, form: string): void {
  ctx.body = page(
    'Sign out of the Tessera test IdP?',
    `${form}<p><button type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button></p>`,
  );
}
