// /v1/queries: submit, read, list, cancel and follow a researcher's jobs.
// The routes turn requests into query-service calls and jobs into answers;
// the pipeline is jobs/service.ts, following a job jobs/events.ts.
import express, { type Request } from 'express';
import { acceptTraceparent, requestIdOf } from '@tessera/http-kit';
import { parseJsonBody, toCsv, toMeasureReport } from '@tessera/schemas';
import { researcherOf } from '../auth/researcher.ts';
import { accessRequestDraft } from '../catalogue/access-request.ts';
import { gatewayProblem } from '../errors.ts';
import { readBody } from './body.ts';
import { followJob } from '../jobs/events.ts';
import { type QueryMediaType, type QueryService, isFinished } from '../jobs/service.ts';
import type { JobRecord } from '../store/store.ts';

export interface QueriesRouteDeps {
  readonly queries: QueryService;
  /** The gateway's public URL, without a trailing slash: links are absolute. */
  readonly publicUrl: string;
  readonly bodyLimitBytes: number;
}

const CCDL_MEDIA_TYPES = ['application/ccdl+json', 'application/sq+json'];

/** Comments that keep idle proxies from closing an event stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * The job as the researcher sees it: what was asked (the query as submitted,
 * with its label; the canonical form for jobs kept before it was) and, when
 * done, the answer.
 */
export function jobView(job: JobRecord, publicUrl: string): Record<string, unknown> {
  const label = job.submittedQuery?.label;
  return {
    id: job.id,
    status: job.status,
    ...(label === undefined ? {} : { label }),
    query: job.submittedQuery ?? job.query,
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
/** The project the researcher acts in: the x-tessera-project header or ?project=. */
function projectOf(req: Request): string | undefined {
  return (
    req.get('x-tessera-project') ??
    (typeof req.query.project === 'string' ? req.query.project : undefined)
  );
}

function preferWaitMs(req: Request): number {
  const match = /(?:^|[,;\s])wait=(\d+)/.exec(req.get('prefer') ?? '');
  return match ? Math.min(Number(match[1]), 30) * 1000 : 0;
}

/**
 * The query routes; mount them behind researcher authentication.
 * @example app.use(queriesRouter({ queries, publicUrl, bodyLimitBytes: 262_144 }));
 */
export function queriesRouter(deps: QueriesRouteDeps): express.Router {
  const { queries, publicUrl } = deps;
  const router = express.Router();

  // Refusals that do not depend on the query come before its body is read (threat 59).
  const screen: express.RequestHandler = async (req, res, next) => {
    await queries.screen({ researcher: researcherOf(res), project: projectOf(req) });
    next();
  };

  router.post('/v1/queries', screen, readBody(deps.bodyLimitBytes), async (req, res) => {
    const mediaType = mediaTypeOf(req);
    const body = parseJsonBody(Buffer.isBuffer(req.body) ? req.body : undefined);
    const job = await queries.submit({
      researcher: researcherOf(res),
      body,
      mediaType,
      project: projectOf(req),
      requestId: requestIdOf(res),
      traceparent: acceptTraceparent(req.get('traceparent')),
      waitMs: preferWaitMs(req),
    });
    res.set('Location', `${publicUrl}/v1/queries/${job.id}`);
    res.status(isFinished(job) ? 200 : 202).json(jobView(job, publicUrl));
  });

  router.get('/v1/queries', async (req, res) => {
    const limit = typeof req.query.limit === 'string' ? Number(req.query.limit) : undefined;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 200)) {
      throw gatewayProblem('ERR_SEARCH_INVALID', {
        detail: 'limit is a whole number from 1 to 200',
        pointer: '/limit',
      });
    }
    const jobs = await queries.list(researcherOf(res), limit);
    res.json({ queries: jobs.map((j) => ({ ...jobView(j, publicUrl), result: undefined })) });
  });

  router.get('/v1/queries/:id', async (req, res) => {
    const job = await queries.get(req.params.id, researcherOf(res));
    const wanted = req.accepts(['application/json', 'application/fhir+json', 'text/csv']);
    if (wanted === 'application/json' || wanted === false || job.status !== 'done') {
      res.json(jobView(job, publicUrl));
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

  router.get('/v1/queries/:id/access-request', async (req, res) => {
    const job = await queries.get(req.params.id, researcherOf(res));
    if (job.status !== 'done') {
      throw gatewayProblem('ERR_JOB_NOT_DONE', { detail: `the query is ${job.status}` });
    }
    res.type('application/ld+json').json(accessRequestDraft(job, { publicUrl, now: new Date() }));
  });

  router.delete('/v1/queries/:id', async (req, res) => {
    const job = await queries.cancel(req.params.id, researcherOf(res));
    res.json(jobView(job, publicUrl));
  });

  router.get('/v1/queries/:id/events', async (req, res) => {
    const researcher = researcherOf(res);
    const job = await queries.get(req.params.id, researcher);
    res.status(200).set({
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS).unref();
    const follower = followJob(queries, job, researcher, {
      node: (outcome) => send('node', outcome),
      result: (final) => {
        clearInterval(keepAlive);
        send('result', jobView(final, publicUrl));
        res.end();
      },
    });
    res.on('close', () => {
      clearInterval(keepAlive);
      follower.stop();
    });
    await follower.caughtUp;
  });

  return router;
}
