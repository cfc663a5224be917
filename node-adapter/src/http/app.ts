// The node's HTTP edge: turns requests into pipeline calls and results into
// responses. No evaluation logic lives here.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import {
  type CatalogueEntry,
  type ProblemError,
  bodyProblem,
  toProblemError,
} from '@tessera/schemas';
import { asNodeProblem, nodeProblem } from '../errors.ts';
import type { EvaluateRequest, EvaluationOutcome } from '../evaluate/evaluator.ts';
import type { Readiness } from '../sources/source.ts';
import type { NodeMetrics } from './metrics.ts';

export type { Readiness };

export interface NodeAppDeps {
  readonly evaluate: (request: EvaluateRequest) => Promise<EvaluationOutcome>;
  readonly catalogue: () => Promise<CatalogueEntry>;
  /** Whether the node can answer now; the reason when not (store not open, data not loaded, source down). */
  readonly readiness: () => Promise<Readiness>;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(req: Request): string {
  const given = req.get('x-request-id');
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}

export function sendProblem(res: Response, error: ProblemError, requestId: string): void {
  if (error.status === 401) {
    res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
  }
  if (error.retryAfter !== undefined) res.set('Retry-After', String(error.retryAfter));
  res.status(error.status).type('application/problem+json').json(error.toProblem(requestId));
}

/**
 * The node adapter's Express application, without a listening socket.
 * @example const app = buildNodeApp(deps); app.listen(8081);
 */
export function buildNodeApp(deps: NodeAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const requestId = requestIdOf(req);
    res.locals.requestId = requestId;
    res.set('x-request-id', requestId);
    const stop = deps.metrics.httpDuration.startTimer();
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
    const { ready, ...rest } = await deps.readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', ...rest });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get('/v1/catalogue', async (_req, res) => {
    res.json(await deps.catalogue());
  });

  app.post(
    '/v1/evaluate',
    express.raw({ type: () => true, limit: deps.bodyLimitBytes, inflate: true }),
    async (req, res) => {
      const requestId = res.locals.requestId as string;
      const deadline = Number(req.get('x-tessera-deadline-ms'));
      const outcome = await deps.evaluate({
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        authorization: req.get('authorization'),
        ...(Number.isFinite(deadline) && deadline > 0 ? { deadlineMs: deadline } : {}),
      });
      if (outcome.kind === 'released') {
        deps.metrics.evaluations.inc({ outcome: 'released' });
        deps.metrics.suppressedCells.inc(outcome.suppressedCells);
        recordBudget(deps.metrics, outcome);
        res.json(outcome.result);
        return;
      }
      const { error } = outcome;
      deps.metrics.evaluations.inc({ outcome: 'refused' });
      if (error.code === 'ERR_BUDGET_EXHAUSTED') deps.metrics.budgetRefusals.inc();
      deps.logger.info({ requestId, code: error.code }, 'evaluation refused');
      sendProblem(res, error, requestId);
    },
  );

  app.use((_req, res) => {
    sendProblem(res, nodeProblem('ERR_NOT_FOUND'), res.locals.requestId as string);
  });

  // Express recognises error handlers by their four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
    const isBodyError = typeof (err as { type?: unknown } | null)?.type === 'string';
    const problem = asNodeProblem(isBodyError ? bodyProblem(err) : toProblemError(err));
    if (problem.status >= 500) {
      deps.metrics.evaluations.inc({ outcome: 'error' });
      // The error's message may quote data; only its class is logged.
      deps.logger.error(
        { requestId, error: (err as Error | null)?.name ?? 'unknown' },
        'request failed',
      );
    }
    sendProblem(res, problem, requestId);
  });

  return app;
}

/** Budget metrics of one release: what it cost and what its project has spent. */
function recordBudget(
  metrics: NodeMetrics,
  outcome: Extract<EvaluationOutcome, { kind: 'released' }>,
): void {
  const { budget } = outcome.result;
  const project = outcome.project;
  metrics.releases.inc({
    project,
    charged: budget !== undefined && budget.cost > 0 ? 'true' : 'false',
  });
  if (budget === undefined) return;
  metrics.epsilonCharged.inc({ project }, budget.cost);
  metrics.budgetSpent.set({ project }, budget.project.spent);
  metrics.budgetLimit.set({ account: 'project' }, budget.project.limit);
  metrics.budgetLimit.set({ account: 'researcher' }, budget.researcher.limit);
}
