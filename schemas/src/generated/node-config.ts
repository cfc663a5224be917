// Generated from schemas/json/node-config.schema.json by `npm run generate:types`. Do not edit.

/**
 * This interface was referenced by `NodeConfig`'s JSON-Schema
 * via the `definition` "FhirAuth".
 */
export type FhirAuth =
  | {
      kind: 'none';
    }
  | {
      kind: 'bearer';
      token: string;
    }
  | {
      kind: 'basic';
      username: string;
      password: string;
    }
  | {
      kind: 'smart-backend';
      tokenUrl: string;
      clientId: string;
      /**
       * Private JWK (JSON) for the client assertion.
       */
      privateKeyFile: string;
      kid?: string;
      /**
       * Default system/*.read.
       */
      scope?: string;
    };

/**
 * A node adapter's configuration file, validated once at start-up.
 */
export interface NodeConfig {
  /**
   * The node id the gateway addresses (the `aud` of its tokens).
   */
  nodeId: string;
  listen?: {
    host?: string;
    port?: number;
  };
  source:
    | {
        kind: 'duckdb';
        /**
         * DuckDB store built by `tessera-node ingest` or `sync`.
         */
        path: string;
      }
    | {
        kind: 'fhir';
        baseUrl: string;
        auth?: FhirAuth;
        /**
         * Default 4.
         */
        concurrency?: number;
        /**
         * Default 30000.
         */
        timeoutMs?: number;
        /**
         * Default 1000000.
         */
        maxResources?: number;
      };
  sync?: {
    baseUrl: string;
    auth?: FhirAuth;
    storePath: string;
    everyMinutes?: number;
    mode?: 'auto' | 'bulk' | 'search';
    /**
     * Bulk Data only: keep the last export next to the store (`<storePath>.export/`, owner-only) and ask only for what changed `_since` it. For FHIR servers that list deleted resources in `_since` manifests.
     */
    incremental?: boolean;
    /**
     * With incremental: a full export at least this often.
     */
    fullEveryHours?: number;
  };
  /**
   * 32-byte secret for patients' record keys; created on first ingest. Defaults to `<store>.key`.
   */
  recordKeyFile?: string;
  /**
   * Audit log and budget ledger.
   */
  stateDir?: string;
  /**
   * Disclosure policy: a path to a policy file, an inline policy, or "open" (refused unless started with --allow-open-policy).
   */
  policy?: string | {};
  gateway: {
    /**
     * The gateway's `iss`.
     */
    issuer: string;
    /**
     * Pinned gateway JWKS URL.
     */
    jwksUrl?: string;
    /**
     * Pinned gateway keys, instead of a URL.
     */
    publicJwks?: {};
  };
  /**
   * Projects this node answers for; any other is refused.
   */
  projects: string[];
  limits?: {
    bodyBytes?: number;
    evaluationTimeoutMs?: number;
  };
  catalogue?: {
    title?: string;
    description?: string;
    publisher?: {
      name: string;
      url?: string;
    };
    spatial?: string;
    healthTheme?: string[];
    accessRights?: 'PUBLIC' | 'RESTRICTED' | 'NON_PUBLIC';
    contactPoint?: {
      name?: string;
      email?: string;
    };
  };
  log?: {
    level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
}
