// oidc-provider ships no types and @types/oidc-provider describes an older
// major; this covers only what test-idp.ts uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { JWK } from 'jose';

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    grant_types?: string[];
    redirect_uris?: string[];
    post_logout_redirect_uris?: string[];
    response_types?: string[];
    scope?: string;
    token_endpoint_auth_method?: string;
  }

  export interface ResourceServer {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg?: string; kid?: string } };
  }

  /** The token being issued, as extraTokenClaims sees it. */
  export interface IssuedToken {
    clientId?: string;
    accountId?: string;
  }

  /** The client as the provider's callbacks see it. */
  export interface ProviderClient {
    readonly clientId: string;
    readonly redirectUris: string[];
  }

  /** The request context the provider's callbacks get (the parts used here). */
  export interface ProviderContext {
    body: string;
    oidc: {
      provider: Provider;
      client?: ProviderClient;
      session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
      result?: { consent?: { grantId?: string } };
    };
  }

  /** Storage for the provider's models (sessions, grants, codes, refresh tokens...). */
  export interface AdapterPayload {
    grantId?: string;
    uid?: string;
    userCode?: string;
    consumed?: number;
    [key: string]: unknown;
  }
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface Account {
    accountId: string;
    claims(): Record<string, unknown>;
  }

  export interface Configuration {
    adapter?: new (model: string) => Adapter;
    clients?: ClientMetadata[];
    jwks?: { keys: JWK[] };
    cookies?: { keys: string[] };
    scopes?: string[];
    claims?: Record<string, string[] | null>;
    ttl?: Record<
      string,
      number | ((ctx: unknown, token: unknown, client: ProviderClient) => number)
    >;
    clientBasedCORS?: (ctx: unknown, origin: string, client: ProviderClient) => boolean;
    findAccount?: (ctx: unknown, id: string) => Account | undefined | Promise<Account | undefined>;
    interactions?: { url: (ctx: unknown, interaction: { uid: string }) => string };
    issueRefreshToken?: (ctx: unknown, client: ProviderClient) => boolean | Promise<boolean>;
    loadExistingGrant?: (ctx: ProviderContext) => Promise<Grant | undefined>;
    features?: {
      devInteractions?: { enabled: boolean };
      clientCredentials?: { enabled: boolean };
      deviceFlow?: { enabled: boolean };
      introspection?: { enabled: boolean };
      revocation?: { enabled: boolean };
      rpInitiatedLogout?: {
        enabled: boolean;
        logoutSource?: (ctx: ProviderContext, form: string) => void | Promise<void>;
        postLogoutSuccessSource?: (ctx: ProviderContext) => void | Promise<void>;
      };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: unknown, client: unknown, oneOf?: string[]) => string | undefined;
        useGrantedResource?: (ctx: unknown, model: unknown) => boolean;
        getResourceServerInfo?: (
          ctx: unknown,
          resourceIndicator: string,
          client: ProviderClient,
        ) => ResourceServer | Promise<ResourceServer>;
      };
    };
    extraTokenClaims?: (
      ctx: unknown,
      token: IssuedToken,
    ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;
  }

  export class Grant {
    constructor(init: { clientId: string; accountId: string });
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
    static find(id: string): Promise<Grant | undefined>;
  }

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string };
    params: Record<string, unknown>;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    readonly Grant: typeof Grant;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }
}
