// The gateway's HTTP edge: parse, call the query service, write. Every error
// is problem+json with a stable code; nothing upstream is ever echoed.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import {
  EXAMPLE_QUERIES,
  type NodeOutcome,
  type ProblemError,
  bodyProblem,
  parseJsonBody,
  toCsv,
  toMeasureReport,
  toProblemError,
} from '@tessera/schemas';
import { researcherOf } from '../auth/researcher.ts';
import type { FederatedCatalogue } from '../catalogue/catalogue.ts';
import { searchCatalogue, toJsonLd } from '../catalogue/catalogue.ts';
import { gatewayProblem } from '../errors.ts';
import type { NodeRegistry } from '../nodes/registry.ts';
import type { JobRecord } from '../store/store.ts';
import {
  type JobEvent,
  type QueryMediaType,
  type QueryService,
  isFinished,
} from '../queries/service.ts';
import type { GatewayMetrics } from './metrics.ts';

/** How often an event stream re-reads a job that another gateway replica is running. */
const SSE_POLL_MS = 1000;

export interface GatewayAppDeps {
  readonly publicUrl: string;
  readonly queries: QueryService;
  readonly authenticate: express.RequestHandler;
  readonly catalogue: FederatedCatalogue;
  readonly registry: NodeRegistry;
  readonly circuits: () => { node: string; state: string; consecutiveFailures?: number }[];
  readonly jwks: () => Promise<{ keys: unknown[] }>;
  readonly ready: () => Promise<boolean>;
  readonly openapi: Record<string, unknown>;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  /** Static web UI directory, served at `/`. */
  readonly webRoot?: string;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
export const CCDL_MEDIA_TYPES = ['application/ccdl+json', 'application/sq+json'];

function sendProblem(res: Response, error: ProblemError): void {
  const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
  if (error.status === 401 && !res.get('WWW-Authenticate')) {
    res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
  }
  if (error.retryAfter !== undefined) res.set('Retry-After', String(error.retryAfter));
  res.status(error.status).type('application/problem+json').json(error.toProblem(requestId));
}

/** The job as the researcher sees it. */
export function jobView(job: JobRecord, publicUrl: string): Record<string, unknown> {
  return {
    id: job.id,
    status: job.status,
    project: job.project,
    queryHash: job.queryHash,
    nodes: job.nodes,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    links: {
      self: `${publicUrl}/v1/queries/${job.id}`,
      events: `${publicUrl}/v1/queries/${job.id}/events`,
    },
    ...(job.status === 'done' ? { result: job.result } : {}),
    ...(job.errorCode ? { error: job.errorCode } : {}),
  };
}

function mediaTypeOf(req: Request): QueryMediaType {
  const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (CCDL_MEDIA_TYPES.includes(type)) return 'ccdl';
  if (type === 'application/json' || type === '') return 'query';
  throw gatewayProblem('ERR_MEDIA_TYPE', {
    detail: `send application/json (query v1) or ${CCDL_MEDIA_TYPES.join(' / ')} (CCDL)`,
  });
}

/** `Prefer: wait=N`, capped at 30 s. */
function preferWaitMs(req: Request): number {
  const match = /(?:^|[,;\s])wait=(\d+)/.exec(req.get('prefer') ?? '');
  return match ? Math.min(Number(match[1]), 30) * 1000 : 0;
}

/**
 * The gateway's Express application, without a listening socket.
 * @example const app = buildGatewayApp(deps); app.listen(8080);
 */
export function buildGatewayApp(deps: GatewayAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const { queries, metrics } = deps;

  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.set('x-request-id', requestId);
    const stop = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      // The full route pattern (router mount + path), never the raw URL: ids would explode the label set.
      const path = (req.route as { path?: string } | undefined)?.path;
      const route = path === undefined ? 'unmatched' : `${req.baseUrl}${path}`;
      stop({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await deps.ready().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(deps.openapi);
  });
  app.get('/.well-known/jwks.json', async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(await deps.jwks());
  });

  app.get('/v1/catalogue', async (req, res) => {
    const entries = searchCatalogue(await deps.catalogue.entries(), {
      code: typeof req.query.code === 'string' ? req.query.code : undefined,
      q: typeof req.query.q === 'string' ? req.query.q : undefined,
    });
    if (req.accepts(['application/json', 'application/ld+json']) === 'application/ld+json') {
      res.type('application/ld+json').json(toJsonLd(entries, `${deps.publicUrl}/v1/catalogue`));
    } else {
      res.json({ entries });
    }
  });

  const v1 = express.Router();
  v1.use(deps.authenticate);

  v1.get('/nodes', (_req, res) => {
    const circuits = new Map(deps.circuits().map((c) => [c.node, c]));
    res.json({
      nodes: deps.registry.list().map((n) => ({
        id: n.id,
        title: n.title,
        ready: n.ready,
        latencyMs: n.latencyMs,
        dataVersion: n.dataVersion,
        dataAgeSeconds: n.dataAgeSeconds,
        checkedAt: n.checkedAt,
        circuit: circuits.get(n.id)?.state ?? 'closed',
      })),
    });
  });

  v1.post(
    '/queries',
    express.raw({ type: () => true, limit: deps.bodyLimitBytes, inflate: true }),
    async (req, res) => {
      const researcher = researcherOf(res);
      const mediaType = mediaTypeOf(req);
      const body = parseJsonBody(Buffer.isBuffer(req.body) ? req.body : undefined);
      const project =
        req.get('x-tessera-project') ??
        (typeof req.query.project === 'string' ? req.query.project : undefined);
      const traceparent = req.get('traceparent');
      let job = await queries.submit({
        researcher,
        body,
        mediaType,
        project,
        requestId: res.locals.requestId as string,
        traceparent: traceparent && TRACEPARENT.test(traceparent) ? traceparent : undefined,
      });
      job = await queries.wait(job, preferWaitMs(req));
      res.set('Location', `${deps.publicUrl}/v1/queries/${job.id}`);
      res.status(isFinished(job) ? 200 : 202).json(jobView(job, deps.publicUrl));
    },
  );

  v1.get('/queries', async (_req, res) => {
    const jobs = await queries.list(researcherOf(res));
    res.json({ queries: jobs.map((j) => ({ ...jobView(j, deps.publicUrl), result: undefined })) });
  });

  v1.get('/queries/:id', async (req, res) => {
    const job = await queries.get(req.params.id, researcherOf(res));
    const wanted = req.accepts(['application/json', 'application/fhir+json', 'text/csv']);
    if (wanted === 'application/json' || wanted === false || job.status !== 'done') {
      res.json(jobView(job, deps.publicUrl));
      return;
    }
    const { result } = job;
    if (wanted === 'text/csv') {
      res.type('text/csv').attachment(`tessera-${job.id}.csv`).send(toCsv(result));
    } else {
      res.type('application/fhir+json').json(
        toMeasureReport(result, {
          date: job.updatedAt.toISOString(),
          asOf: result.asOf,
          reporter: 'tessera',
        }),
      );
    }
  });

  v1.delete('/queries/:id', async (req, res) => {
    const job = await queries.cancel(req.params.id, researcherOf(res));
    res.json(jobView(job, deps.publicUrl));
  });

  v1.get('/queries/:id/events', async (req, res) => {
    const job = await queries.get(req.params.id, researcherOf(res));
    res.status(200).set({
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    let finished = false;
    const sent = new Set<string>();
    const sendNode = (outcome: NodeOutcome): void => {
      if (finished || sent.has(outcome.node)) return;
      sent.add(outcome.node);
      send('node', outcome);
    };
    const finish = (final: JobRecord): void => {
      if (finished) return;
      finished = true;
      stop();
      send('result', jobView(final, deps.publicUrl));
      res.end();
    };
    // Subscribe before reading what is stored, so nothing that happens in
    // between is missed; events are held until the stored part has gone out.
    let held: JobEvent[] | undefined = [];
    const deliver = (event: JobEvent): void => {
      if (event.type === 'node') sendNode(event.outcome);
      else finish(event.job);
    };
    const unsubscribe = queries.subscribe(job.id, (event) => {
      if (held) held.push(event);
      else deliver(event);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000).unref();
    // A job run by another gateway replica sends no events here: poll the store.
    const poll = queries.isRunningHere(job.id)
      ? undefined
      : setInterval(() => void catchUp().catch(() => undefined), SSE_POLL_MS).unref();
    function stop(): void {
      unsubscribe();
      clearInterval(keepAlive);
      if (poll) clearInterval(poll);
    }
    res.on('close', stop);
    async function catchUp(): Promise<void> {
      for (const outcome of await queries.outcomes(job.id)) sendNode(outcome);
      const latest = await queries.get(job.id, researcherOf(res));
      if (isFinished(latest)) finish(latest);
    }
    await catchUp();
    const early = held;
    held = undefined;
    for (const event of early) deliver(event);
  });

  app.use('/v1', v1);

  if (deps.webRoot) {
    // The page's example menu: the query fixtures of the schemas package, as data.
    app.get('/examples.json', (_req, res) => {
      res.json(EXAMPLE_QUERIES);
    });
    app.use(express.static(deps.webRoot, { index: 'index.html' }));
  }

  app.use((_req, res) => {
    sendProblem(res, gatewayProblem('ERR_NOT_FOUND'));
  });

  // Express recognises error handlers by their four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const isBodyError = typeof (err as { type?: unknown } | null)?.type === 'string';
    const problem = isBodyError ? bodyProblem(err) : toProblemError(err);
    if (problem.status >= 500) {
      deps.logger.error(
        {
          requestId: res.locals.requestId as string,
          error: (err as Error | null)?.name ?? 'unknown',
        },
        'request failed',
      );
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, problem);
  });

  return app;
}
