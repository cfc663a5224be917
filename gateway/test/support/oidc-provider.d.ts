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

  export interface Configuration {
    clients?: ClientMetadata[];
    jwks?: { keys: JWK[] };
    cookies?: { keys: string[] };
    scopes?: string[];
    claims?: Record<string, string[] | null>;
    ttl?: Record<string, number>;
    features?: {
      devInteractions?: { enabled: boolean };
      clientCredentials?: { enabled: boolean };
      introspection?: { enabled: boolean };
      revocation?: { enabled: boolean };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: unknown, client: unknown, oneOf?: string[]) => string | undefined;
        useGrantedResource?: (ctx: unknown, model: unknown) => boolean;
        getResourceServerInfo?: (
          ctx: unknown,
          resourceIndicator: string,
          client: unknown,
        ) => ResourceServer | Promise<ResourceServer>;
      };
    };
    extraTokenClaims?: (
      ctx: unknown,
      token: IssuedToken,
    ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
