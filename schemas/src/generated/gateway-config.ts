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
     * @minItems 1
     */
    typ?: ['at+jwt' | 'JWT', ...('at+jwt' | 'JWT')[]];
    requiredScope?: string;
    projectsClaim?: string;
    jwksCacheMaxAgeSec?: number;
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
    },
    ...{
      id: string;
      url: string;
      title?: string;
      connections?: number;
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
    retryBudgetRatio?: number;
    breakerFailureThreshold?: number;
    breakerOpenMs?: number;
    maxConcurrentQueries?: number;
    maxResponseBytes?: number;
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
