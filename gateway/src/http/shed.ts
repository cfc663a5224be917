// Load shedding before Express (threat 59). In a flood most submissions are
// refused whatever their query, the researcher's share or the replica's
// capacity being used up, and entering Express alone costs a request as much
// again as answering it. So a submission that carries a token this gateway
// has verified before (and still remembers) and that meets a capacity
// refusal is answered here, from memory, with the problem, headers, metrics
// and audit entry the route would give it. Anything else (an unknown or
// forgotten token, a project she is no member of, a query string, room to
// run) goes on to the application, which decides everything in full.
import type { IncomingMessage, RequestListener } from 'node:http';
import { type RequestTimer, hygieneHeaders, startRequest, writeProblem } from '@tessera/http-kit';
import type { ProblemError } from '@tessera/schemas';
import type { Researcher } from '../auth/researcher.ts';

export interface ShedDeps {
  /** The application every request not shed here goes to. */
  readonly app: RequestListener;
  /** The researcher of an already verified token, without any check; undefined otherwise. */
  readonly knownResearcher: (authorization: string | undefined) => Researcher | undefined;
  /** The capacity refusal a member's submission meets now, counted and audited; undefined otherwise. */
  readonly capacityRefusal: (request: {
    researcher: Researcher;
    project: string | undefined;
  }) => ProblemError | undefined;
  /** The request timer of the application's own requestContext. */
  readonly timer: RequestTimer;
}

/** Where submissions go, as the route (and its metrics label) names it. */
const SUBMISSIONS = '/v1/queries';

/**
 * The gateway's request listener: sheds refused submissions, passes on the rest.
 * @example const { server } = await listen(shedRefusals({ app, knownResearcher, capacityRefusal, timer }), host, port);
 */
export function shedRefusals(deps: ShedDeps): RequestListener {
  const headers = Object.entries(hygieneHeaders());

  const refusalOf = (req: IncomingMessage): ProblemError | undefined => {
    // The project may also come as ?project=: with any query string the route decides.
    if (req.method !== 'POST' || req.url !== SUBMISSIONS) return undefined;
    const researcher = deps.knownResearcher(req.headers.authorization);
    if (researcher === undefined) return undefined;
    const project = req.headers['x-tessera-project'];
    return deps.capacityRefusal({
      researcher,
      project: typeof project === 'string' ? project : undefined,
    });
  };

  return (req, res) => {
    const refusal = refusalOf(req);
    if (refusal === undefined) {
      deps.app(req, res);
      return;
    }
    const requestId = startRequest(deps.timer, req, res, () => SUBMISSIONS);
    for (const [name, value] of headers) res.setHeader(name, value);
    writeProblem(res, refusal, requestId);
  };
}
