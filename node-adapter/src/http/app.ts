// The node's HTTP edge: turns requests into pipeline calls and results into
// responses. No evaluation logic lives here.
import express from 'express';
import type { Logger } from 'pino';
import {
  problemHandler,
  requestContext,
  requestIdOf,
  securityHeaders,
  sendProblem,
} from '@tessera/http-kit';
import type { CatalogueEntry } from '@tessera/schemas';
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

/**
 * The node adapter's Express application, without a listening socket.
 * @example const app = buildNodeApp(deps); app.listen(8081);
 */
export function buildNodeApp(deps: NodeAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(requestContext(deps.metrics.httpDuration));
  // nosniff, no referrer, a deny-all CSP and no-store on every answer (threat 56).
  app.use(securityHeaders());

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
    refuseEncodedBodies,
    // The bytes as they arrived, within the cap: the token is checked against
    // them before anything parses them (threat 49).
    express.raw({ type: () => true, limit: deps.bodyLimitBytes, inflate: false }),
    async (req, res) => {
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
      deps.logger.info({ requestId: requestIdOf(res), code: error.code }, 'evaluation refused');
      sendProblem(res, error);
    },
  );

  app.use((_req, res) => {
    sendProblem(res, nodeProblem('ERR_NOT_FOUND'));
  });

  app.use(
    problemHandler({
      logger: deps.logger,
      normalise: asNodeProblem,
      onFailure: () => deps.metrics.evaluations.inc({ outcome: 'error' }),
    }),
  );

  return app;
}

/**
 * The gateway sends every node request as plain JSON, and the token binds the
 * bytes as sent, so the node decompresses nothing (threat 49): any
 * Content-Encoding but identity is refused before the body is read, and before
 * the token is checked, since no body of it could be evaluated either way.
 * Decompressing first let an unauthenticated caller spend the node's CPU and
 * memory on inflation and, on a bad stream, get a 500.
 */
const refuseEncodedBodies: express.RequestHandler = (req, _res, next) => {
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') {
    next();
    return;
  }
  next(
    nodeProblem('ERR_ENCODING_UNSUPPORTED', {
      detail: 'the node accepts uncompressed bodies only (Content-Encoding: identity)',
    }),
  );
};

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
