// POST /v1/query-check: the server's own checks on a query before it is
// sent, for the web page's builder. A query v1 (`{"query": ...}`) is checked
// as a submission would be; a CCDL document (`{"ccdl": ...}`) is translated
// into query v1 first, so the page can fill its builder from a pasted CCDL
// document. Nothing reaches a node and nothing is recorded: the answer is
// the query (as query v1) or the first fault, with a JSON pointer into the
// document checked. Behind researcher authentication, like every body read.
import express from 'express';
import { DEFAULT_LIMITS, ccdlToQuery, parseJsonBody, parseQuery } from '@tessera/schemas';
import { gatewayProblem } from '../errors.ts';
import { readBody } from './body.ts';

export interface QueryCheckRouteDeps {
  readonly bodyLimitBytes: number;
}

/** @example app.use(queryCheckRouter({ bodyLimitBytes: 262_144 })); */
export function queryCheckRouter(deps: QueryCheckRouteDeps): express.Router {
  const router = express.Router();
  router.post('/v1/query-check', readBody(deps.bodyLimitBytes), (req, res) => {
    const body = parseJsonBody(Buffer.isBuffer(req.body) ? req.body : undefined);
    const keys = typeof body === 'object' && body !== null ? Object.keys(body) : [];
    if (keys.length !== 1 || (keys[0] !== 'query' && keys[0] !== 'ccdl')) {
      throw gatewayProblem('ERR_QUERY_INVALID', {
        pointer: '',
        detail: 'send {"query": <query v1>} or {"ccdl": <CCDL document>}',
      });
    }
    const { query, ccdl } = body as { query?: unknown; ccdl?: unknown };
    const input = keys[0] === 'ccdl' ? ccdlToQuery(ccdl) : query;
    res.json({ query: parseQuery(input, DEFAULT_LIMITS) });
  });
  return router;
}
