// The gateway's HTTP edge: one router per resource, each turning requests
// into calls and results into answers. Every error is problem+json with a
// stable code; nothing upstream is ever echoed.
import express from 'express';
import type { Logger } from 'pino';
import { problemHandler, requestContext, securityHeaders, sendProblem } from '@tessera/http-kit';
import type { FederatedCatalogue } from '../catalogue/catalogue.ts';
import { gatewayProblem } from '../errors.ts';
import type { QueryService } from '../jobs/service.ts';
import type { NodeRegistry } from '../nodes/registry.ts';
import { catalogueRouter } from './catalogue.ts';
import { healthRouter } from './health.ts';
import type { GatewayMetrics } from './metrics.ts';
import { nodeKeysRouter, nodesRouter } from './nodes.ts';
import { queriesRouter } from './queries.ts';
import { queryCheckRouter } from './query-check.ts';
import { savedQueriesRouter } from './saved-queries.ts';
import type { SavedQueryService } from '../saved/saved-queries.ts';
import { type SignInSettings, signInRouter } from './sign-in.ts';
import { type WebSignIn, webRouter } from './web.ts';

export interface GatewayAppDeps {
  /** Without a trailing slash. */
  readonly publicUrl: string;
  readonly queries: QueryService;
  readonly saved: SavedQueryService;
  readonly authenticate: express.RequestHandler;
  readonly catalogue: FederatedCatalogue;
  readonly registry: NodeRegistry;
  readonly circuits: () => { node: string; state: string }[];
  readonly jwks: () => Promise<{ keys: unknown[] }>;
  readonly ready: () => Promise<boolean>;
  readonly openapi: Record<string, unknown>;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  /** What `GET /v1/sign-in` tells researchers' tools. */
  readonly signIn: SignInSettings;
  /** Static web UI directory, served at `/`. */
  readonly webRoot?: string;
  /** What the web page needs to sign researchers in; no sign-in on the page without it. */
  readonly browserSignIn?: WebSignIn;
}

/**
 * The gateway's Express application, without a listening socket.
 * @example const app = buildGatewayApp(deps); await listen(app, '127.0.0.1', 8080);
 */
export function buildGatewayApp(deps: GatewayAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps.metrics.httpDuration));
  // nosniff, no referrer, a deny-all CSP and no-store on every answer; the
  // web page's own files get the page policy (web.ts). Threat 56.
  app.use(securityHeaders());

  app.use(healthRouter(deps));
  app.use(nodeKeysRouter(deps));
  app.use(catalogueRouter(deps));
  app.use(signInRouter(deps.signIn));

  // Everything else under /v1 is the researcher's own: authenticated first.
  // Every router names its routes in full, so that a route's metrics label
  // is its whole path even when an error leaves the router.
  app.use('/v1', deps.authenticate);
  app.use(queriesRouter(deps));
  app.use(nodesRouter(deps));
  app.use(queryCheckRouter(deps));
  app.use(savedQueriesRouter(deps));

  app.use(webRouter(deps));

  app.use((_req, res) => {
    sendProblem(res, gatewayProblem('ERR_NOT_FOUND'));
  });
  // At capacity is a decision, counted as a refusal where it is made (threat 59).
  app.use(problemHandler({ logger: deps.logger, decisions: new Set(['ERR_OVERLOADED']) }));
  return app;
}
