// Generated from schemas/json/node-config.schema.json by `npm run generate:types`. Do not edit.
// The document as read with the schema's defaults filled in: every key with a default is present.

/**
 * This interface was referenced by `ResolvedNodeConfig`'s JSON-Schema
 * via the `definition` "FhirAuth".
 */
export type ResolvedFhirAuth =
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
      scope: string;
    };

/**
 * A node adapter's configuration file, validated once at start-up.
 */
export interface ResolvedNodeConfig {
  /**
   * The node id the gateway addresses (the `aud` of its tokens).
   */
  nodeId: string;
  listen: {
    host: string;
    port: number;
  };
  /**
   * Where the node's data comes from: a DuckDB store or a live FHIR server, by `kind`.
   */
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
        auth: ResolvedFhirAuth;
        /**
         * Requests in flight to the server at once.
         */
        concurrency: number;
        /**
         * Per request, until the whole body is read.
         */
        timeoutMs: number;
        /**
         * Resources one evaluation may read, and patients the source may hold.
         */
        maxResources: number;
        /**
         * `_count` asked for, where the server declares it.
         */
        pageSize: number;
        /**
         * How long a data version read from the server is trusted: readiness sees an outage within this time.
         */
        dataVersionTtlMs: number;
        /**
         * How long readiness waits for the server's data version.
         */
        readinessTimeoutMs: number;
      };
  sync?: {
    baseUrl: string;
    auth: ResolvedFhirAuth;
    storePath: string;
    everyMinutes?: number;
    mode: 'auto' | 'bulk' | 'search';
    /**
     * Bulk Data only: keep the last export next to the store (`<storePath>.export/`, owner-only) and ask only for what changed `_since` it. For FHIR servers that list deleted resources in `_since` manifests.
     */
    incremental: boolean;
    /**
     * With incremental: a full export at least this often.
     */
    fullEveryHours: number;
  };
  /**
   * How the node reads FHIR resources, in `tessera-node ingest --config`, sync and the live source (docs/query-language.md).
   */
  reading: {
    /**
     * More code-system aliases, beside the built-in ones (the dimdi URLs of ICD-10-GM, OPS, ATC and Alpha-ID for their bfarm URLs): an alias URL and the URL it stands for. Codes under an alias are stored and compared under the URL it stands for; an alias of an alias is refused.
     */
    codeSystemAliases: {
      [k: string]: string | undefined;
    };
    /**
     * Conditions whose verificationStatus is unconfirmed, provisional or differential: counted like confirmed ones (as the MII's engines count them), or left out. Refuted and entered-in-error ones never count.
     */
    unconfirmedConditions: 'count' | 'exclude';
  };
  /**
   * 32-byte secret for patients' record keys; created when absent. Default: `<sync.storePath>.key` for sync (as `ingest` defaults to `<db>.key`), `<stateDir>/record-key` for a live FHIR source.
   */
  recordKeyFile?: string;
  /**
   * Audit log and budget ledger.
   */
  stateDir: string;
  /**
   * Disclosure policy: a path to a policy file, an inline policy, or "open" (refused unless started with --allow-open-policy). Default: the policy with every default of its schema.
   */
  policy: string | {};
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
  limits: {
    bodyBytes: number;
    evaluationTimeoutMs: number;
  };
  catalogue: {
    /**
     * Default: `Tessera node <nodeId>`.
     */
    title?: string;
    description: string;
    /**
     * Default: the node id as its name.
     */
    publisher?: {
      name: string;
      url?: string;
    };
    /**
     * Default: the node id.
     */
    spatial?: string;
    healthTheme: string[];
    accessRights: 'PUBLIC' | 'RESTRICTED' | 'NON_PUBLIC';
    contactPoint?: {
      name?: string;
      email?: string;
    };
  };
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
}
