// Generated from schemas/json/gateway-config.schema.json by `npm run generate:types`. Do not edit.

/**
 * The gateway's configuration file, validated once at start-up.
 */
export interface GatewayConfig {
  /**
   * Where researchers and nodes reach the gateway; the `iss` of node tokens.
   */
  publicUrl: string;
  listen?: {
    host?: string;
    port?: number;
  };
  oidc: {
    issuer: string;
    audience: string;
    /**
     * @minItems 1
     */
    algorithms?: ['RS256' | 'ES256' | 'EdDSA', ...('RS256' | 'ES256' | 'EdDSA')[]];
    /**
     * Accepted `typ` headers of researcher access tokens. RFC 9068 access tokens say `at+jwt`; list `JWT` only for an IdP that cannot issue it (Keycloak's default access tokens), where ID tokens are still refused by their claims and audience.
     *
     * @minItems 1
     */
    typ?: ['at+jwt' | 'JWT', ...('at+jwt' | 'JWT')[]];
    requiredScope?: string;
    /**
     * The IdP's public client for the researcher's command line (`tessera login`: the device authorization grant). Served with the issuer at GET /v1/sign-in; without it `tessera login` needs --client-id.
     */
    cliClientId?: string;
    projectsClaim?: string;
    /**
     * How long fetched IdP keys are trusted while the IdP cannot be reached.
     */
    jwksCacheMaxAgeSec?: number;
    /**
     * Clock skew allowed when checking a token's lifetime.
     */
    clockToleranceSec?: number;
    /**
     * Timeout for the IdP's discovery document and JWKS.
     */
    fetchTimeoutMs?: number;
    /**
     * The web page's sign-in: a public client of the IdP using the authorization code flow with PKCE, whose redirect URI is the gateway's public URL followed by `/`. Without it the page cannot sign anyone in. The page's Content-Security-Policy lets it reach the issuer's origin (discovery, token, revocation).
     */
    browserClient?: {
      clientId: string;
      /**
       * Scopes the page asks for; must include `requiredScope`.
       */
      scope?: string;
    };
  };
  /**
   * @minItems 1
   * @maxItems 500
   */
  nodes: [
    {
      id: string;
      url: string;
      title?: string;
      connections?: number;
      /**
       * Calls in flight to this node at most. A query finding the node at its limit gets it as unavailable (ERR_NODE_BUSY) at once and the other nodes' answers as usual, so a hung node cannot hold the gateway's capacity.
       */
      maxConcurrentQueries?: number;
    },
    ...{
      id: string;
      url: string;
      title?: string;
      connections?: number;
      /**
       * Calls in flight to this node at most. A query finding the node at its limit gets it as unavailable (ERR_NODE_BUSY) at once and the other nodes' answers as usual, so a hung node cannot hold the gateway's capacity.
       */
      maxConcurrentQueries?: number;
    }[],
  ];
  projects: {
    [k: string]:
      | {
          /**
           * Nodes this project may query.
           */
          nodes: string[];
          measures?: ('count' | 'histogram' | 'summary')[];
          maxStrata?: number;
          queriesPerMinute?: number;
          queriesPerDay?: number;
          repeatsPerWindow?: number;
          repeatWindowSec?: number;
        }
      | undefined;
  };
  fanout?: {
    perNodeDeadlineMs?: number;
    queryDeadlineMs?: number;
    maxAttempts?: number;
    /**
     * Full-jitter exponential backoff between attempts: its first step.
     */
    backoffBaseMs?: number;
    /**
     * The longest backoff step.
     */
    backoffMaxMs?: number;
    /**
     * Retries allowed per node request in the long run, shared by all nodes.
     */
    retryBudgetRatio?: number;
    /**
     * Retries available in a burst: the retry budget's tokens at start, and the most it holds (at least 1).
     */
    retryBudgetReserve?: number;
    breakerFailureThreshold?: number;
    breakerOpenMs?: number;
    /**
     * Queries one gateway replica runs at once; one more is refused at submission with 503 ERR_OVERLOADED and Retry-After, before any job or quota exists.
     */
    maxConcurrentQueries?: number;
    /**
     * Queries one researcher has running on one replica at once; one more is refused at submission with 429 ERR_TOO_MANY_RUNNING and Retry-After.
     */
    maxConcurrentPerResearcher?: number;
    maxResponseBytes?: number;
  };
  /**
   * The node health polls (`/readyz`) behind /v1/nodes and the data versions.
   */
  health?: {
    /**
     * Seconds between polls; 0 disables polling.
     */
    pollIntervalSec?: number;
    timeoutMs?: number;
    /**
     * Largest /readyz body read; a larger one makes the node not ready.
     */
    maxBodyBytes?: number;
  };
  /**
   * Fetching the nodes' catalogue entries (cached for cache.catalogueTtlSec).
   */
  catalogue?: {
    timeoutMs?: number;
    /**
     * Largest entry read; a larger one is refused like a broken one.
     */
    maxBytes?: number;
  };
  merge?: {
    minNodes?: number;
  };
  store?: {
    /**
     * PGlite data directory, used when no databaseUrl is set.
     */
    dataDir?: string;
    /**
     * PostgreSQL connection string; DATABASE_URL in the environment also sets it.
     */
    databaseUrl?: string;
    /**
     * Days a finished job (done, failed or cancelled) and its node outcomes are kept after it last changed; the purge then deletes them. Queued and running jobs are never purged.
     */
    jobRetentionDays?: number;
    /**
     * Seconds between purges of expired cached results, refilled rate-limit state, finished jobs past their retention, instances silent for a day and retired signing keys no longer published.
     */
    purgeIntervalSec?: number;
    /**
     * Seconds between this gateway's heartbeats into the store; each is followed by a recovery of the jobs of replicas gone silent, and the signing keys are re-read as often. At most half of staleAfterSec.
     */
    heartbeatIntervalSec?: number;
    /**
     * Seconds without a heartbeat after which a replica is taken as dead and its queued and running jobs are failed with ERR_GATEWAY_RESTARTED. At least twice heartbeatIntervalSec, so that one late heartbeat does not fail a live replica's jobs. On PGlite the data directory's lock already proves that no other gateway runs, so a restarted gateway fails its predecessor's jobs at once.
     */
    staleAfterSec?: number;
  };
  /**
   * The keys the gateway signs its node requests with (published at /.well-known/jwks.json).
   */
  nodeTokens?: {
    /**
     * Seconds a new key from `tessera-gateway keys rotate` is published before any gateway signs with it. Keep it above the nodes' JWKS cache age (10 minutes), so that every node has fetched the new key before it meets a token signed with it.
     */
    keyPublicationDelaySec?: number;
  };
  cache?: {
    resultTtlSec?: number;
    catalogueTtlSec?: number;
  };
  limits?: {
    bodyBytes?: number;
  };
  log?: {
    level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
}
