// Signing the researcher in with the IdP: OpenID Connect authorization code
// flow with PKCE (oauth4webapi), for a public client. Tokens live in this
// module's memory only, never in web storage (threat 56); the PKCE verifier
// and state wait in sessionStorage for the one round trip to the IdP and are
// removed when the researcher comes back. The access token is renewed with
// the refresh token before it expires; when renewal fails the session has
// ended and the page sends the researcher through sign-in again.
import * as oauth from 'oauth4webapi';

export interface SignInSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly scope: string;
  /** The gateway's audience (RFC 8707 resource indicator). */
  readonly resource: string;
  /** The access token claim listing the researcher's projects. */
  readonly projectsClaim: string;
}

export interface SessionState {
  readonly status: 'signed-out' | 'signed-in' | 'expired';
  /** The researcher's name as the IdP gives it (the ID token's subject). */
  readonly subject?: string;
  /** The projects the access token names. */
  readonly projects?: readonly string[];
}

const PENDING_KEY = 'tessera.signin';
/** Renew this long before the access token expires (or at half its life, if shorter). */
const RENEW_AHEAD_SEC = 30;

interface Tokens {
  accessToken: string;
  refreshToken: string | undefined;
  idToken: string | undefined;
  subject: string | undefined;
}

/**
 * The projects an access token names, read without verifying it (the
 * gateway verifies; the page only offers the choice).
 */
export function projectsOf(accessToken: string, claim: string): string[] {
  try {
    const payload = accessToken.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const value = (JSON.parse(json) as Record<string, unknown>)[claim];
    return Array.isArray(value) ? value.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/** The page's sign-in: one per page, created from the gateway's settings. */
export class Session {
  readonly #settings: SignInSettings;
  readonly #client: oauth.Client;
  readonly #redirectUri: string;
  readonly #options: { [oauth.allowInsecureRequests]?: boolean };
  #server: oauth.AuthorizationServer | undefined;
  #tokens: Tokens | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #renewing: Promise<boolean> | undefined;
  #state: SessionState = { status: 'signed-out' };
  readonly #listeners = new Set<(state: SessionState) => void>();

  constructor(settings: SignInSettings, redirectUri: string) {
    this.#settings = settings;
    this.#client = { client_id: settings.clientId };
    this.#redirectUri = redirectUri;
    // A test or demo IdP on loopback speaks plain HTTP; anything else must be HTTPS.
    const issuer = new URL(settings.issuer);
    this.#options =
      issuer.protocol === 'http:' && isLoopback(issuer)
        ? { [oauth.allowInsecureRequests]: true }
        : {};
  }

  get state(): SessionState {
    return this.#state;
  }

  onChange(listener: (state: SessionState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current access token, or undefined when signed out or expired. */
  get accessToken(): string | undefined {
    return this.#state.status === 'signed-in' ? this.#tokens?.accessToken : undefined;
  }

  async #discover(): Promise<oauth.AuthorizationServer> {
    if (this.#server) return this.#server;
    const issuer = new URL(this.#settings.issuer);
    const response = await oauth.discoveryRequest(issuer, { ...this.#options, algorithm: 'oidc' });
    this.#server = await oauth.processDiscoveryResponse(issuer, response);
    return this.#server;
  }

  /** Goes to the IdP's sign-in page; the browser comes back to the redirect URI. */
  async signIn(): Promise<void> {
    const server = await this.#discover();
    if (server.authorization_endpoint === undefined)
      throw new Error('the IdP has no authorization endpoint');
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
    const url = new URL(server.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: this.#settings.clientId,
      redirect_uri: this.#redirectUri,
      response_type: 'code',
      scope: this.#settings.scope,
      resource: this.#settings.resource,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    }).toString();
    window.location.assign(url.href);
  }

  /**
   * When the page was opened by the IdP's redirect, trades the code for
   * tokens and removes the code from the address bar. True when signed in.
   */
  async completeSignIn(location: URL): Promise<boolean> {
    const pending = sessionStorage.getItem(PENDING_KEY);
    if (!location.searchParams.has('state') || pending === null) return false;
    sessionStorage.removeItem(PENDING_KEY);
    window.history.replaceState(null, '', location.pathname);
    const { verifier, state } = JSON.parse(pending) as { verifier: string; state: string };
    const server = await this.#discover();
    const params = oauth.validateAuthResponse(server, this.#client, location.searchParams, state);
    const response = await oauth.authorizationCodeGrantRequest(
      server,
      this.#client,
      oauth.None(),
      params,
      this.#redirectUri,
      verifier,
      this.#options,
    );
    this.#accept(await oauth.processAuthorizationCodeResponse(server, this.#client, response));
    return true;
  }

  /**
   * Renews the access token now (also what a 401 from the gateway calls).
   * False when the session has ended: the state is then `expired`.
   */
  renew(): Promise<boolean> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(): Promise<boolean> {
    const refreshToken = this.#tokens?.refreshToken;
    if (refreshToken === undefined) return this.#expire();
    try {
      const server = await this.#discover();
      const response = await oauth.refreshTokenGrantRequest(
        server,
        this.#client,
        oauth.None(),
        refreshToken,
        this.#options,
      );
      this.#accept(await oauth.processRefreshTokenResponse(server, this.#client, response));
      return true;
    } catch {
      return this.#expire();
    }
  }

  /** Forgets the tokens, revokes the refresh token and ends the IdP session. */
  async signOut(): Promise<void> {
    const tokens = this.#tokens;
    this.#clear({ status: 'signed-out' });
    if (tokens === undefined) return;
    const server = await this.#discover();
    if (tokens.refreshToken !== undefined && server.revocation_endpoint !== undefined) {
      await oauth
        .revocationRequest(server, this.#client, oauth.None(), tokens.refreshToken, this.#options)
        .catch(() => undefined);
    }
    if (server.end_session_endpoint !== undefined) {
      const url = new URL(server.end_session_endpoint);
      url.search = new URLSearchParams({
        client_id: this.#settings.clientId,
        post_logout_redirect_uri: this.#redirectUri,
        ...(tokens.idToken === undefined ? {} : { id_token_hint: tokens.idToken }),
      }).toString();
      window.location.assign(url.href);
    }
  }

  #accept(response: oauth.TokenEndpointResponse): void {
    const claims = oauth.getValidatedIdTokenClaims(response);
    this.#tokens = {
      accessToken: response.access_token,
      refreshToken: response.refresh_token ?? this.#tokens?.refreshToken,
      idToken: response.id_token ?? this.#tokens?.idToken,
      subject: claims?.sub ?? this.#tokens?.subject,
    };
    const lifetime = response.expires_in ?? 300;
    const renewIn = Math.max(1, Math.min(lifetime - RENEW_AHEAD_SEC, lifetime / 2));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.renew(), renewIn * 1000);
    this.#set({
      status: 'signed-in',
      projects: projectsOf(response.access_token, this.#settings.projectsClaim),
      ...(this.#tokens.subject === undefined ? {} : { subject: this.#tokens.subject }),
    });
  }

  #expire(): false {
    this.#clear({ status: 'expired' });
    return false;
  }

  #clear(state: SessionState): void {
    clearTimeout(this.#timer);
    this.#tokens = undefined;
    this.#set(state);
  }

  #set(state: SessionState): void {
    this.#state = state;
    for (const listener of this.#listeners) listener(state);
  }
}
