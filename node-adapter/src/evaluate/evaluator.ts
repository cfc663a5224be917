// The node's evaluation pipeline: verify the caller, validate the query
// under the node's own limits, apply the node's project and repeat rules,
// compute true figures, protect them, check the output, audit the decision.
// Every refusal is audited as well as every release.
import {
  type NodeResult,
  ProblemError,
  canonicalQuery,
  parseJsonBody,
  parseQuery,
  pinAsOf,
  prescan,
  queryHash,
} from '@tessera/schemas';
import { type NodeProblemError, asNodeProblem, nodeProblem } from '../errors.ts';
import type {
  AuditSink,
  CallerVerifier,
  Clock,
  DisclosureControl,
  QuerySource,
  Released,
  ReleaseLedger,
  RepeatLimiter,
  SourceQuery,
} from './ports.ts';

export interface EvaluatorDeps {
  readonly nodeId: string;
  readonly projects: readonly string[];
  readonly source: QuerySource;
  readonly verifier: CallerVerifier;
  readonly disclosure: DisclosureControl;
  /** Records every release and keeps the privacy budget. */
  readonly ledger: ReleaseLedger;
  readonly repeats: RepeatLimiter;
  readonly audit: AuditSink;
  /** Rejects anything that is not a releasable NodeResult (threat 14). */
  readonly checkOutput: (result: NodeResult) => void;
  readonly evaluationTimeoutMs: number;
  readonly clock: Clock;
}

export interface EvaluateRequest {
  readonly rawBody: Uint8Array;
  readonly authorization: string | undefined;
  /** Milliseconds the gateway still waits for this answer. */
  readonly deadlineMs?: number;
}

export type EvaluationOutcome =
  | {
      readonly kind: 'released';
      readonly result: NodeResult;
      readonly suppressedCells: number;
      /** The caller's project, for the budget metrics. */
      readonly project: string;
    }
  | { readonly kind: 'refused'; readonly error: NodeProblemError };

/** An epsilon for a message: at most three decimals. */
function formatEpsilon(value: number): string {
  return String(Math.max(0, Math.round(value * 1000) / 1000));
}

/**
 * The answer a node gives: the released figures under what identifies them.
 * @example toNodeResult({ node: 'lombardia', queryHash, dataVersion, evaluatedAt, elapsedMs: 0 }, released)
 */
export function toNodeResult(
  answer: Pick<NodeResult, 'node' | 'queryHash' | 'dataVersion' | 'evaluatedAt' | 'elapsedMs'>,
  released: Released,
): NodeResult {
  return {
    ...answer,
    disclosure: released.disclosure,
    total: released.total,
    ...(released.overlapping ? { overlapping: true } : {}),
    strata: released.strata,
    measures: released.measures,
  };
}

function countSuppressed(released: Released): number {
  let n = 0;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      if ((value as { suppressed?: unknown }).suppressed === true) n += 1;
      Object.values(value).forEach(visit);
    }
  };
  visit([released.total, released.strata, released.measures]);
  return n;
}

/** Runs `work` with an abort signal that fires after `ms`; the rejection says it timed out. */
async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new EvaluationTimeout());
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class EvaluationTimeout extends Error {}

/**
 * Builds the evaluation pipeline.
 * @example const evaluate = createEvaluator(deps); const outcome = await evaluate(request);
 */
export function createEvaluator(deps: EvaluatorDeps) {
  const now = (): Date => deps.clock.now();

  return async function evaluate(request: EvaluateRequest): Promise<EvaluationOutcome> {
    const started = deps.clock.monotonicMs();
    // The caller is established first: nothing about the body is read for an unauthenticated request.
    const caller = await deps.verifier
      .verify(request.authorization, request.rawBody)
      .catch((err: unknown) => {
        throw err instanceof ProblemError ? asNodeProblem(err) : nodeProblem('ERR_UNAUTHENTICATED');
      });
    let hash = 'sha256:unknown';
    const refuse = async (error: NodeProblemError): Promise<EvaluationOutcome> => {
      await deps.audit.append({
        actor: caller.sub,
        project: caller.project,
        queryHash: hash,
        action: 'evaluate',
        outcome: 'refused',
        detail: { code: error.code },
      });
      return { kind: 'refused', error };
    };

    try {
      if (!deps.projects.includes(caller.project)) {
        return await refuse(
          nodeProblem('ERR_PROJECT_NOT_ALLOWED', {
            detail: 'this node does not answer for the project',
          }),
        );
      }
      const body = parseJsonBody(request.rawBody);
      prescan(body);
      if (typeof body !== 'object' || body === null || Array.isArray(body) || !('query' in body)) {
        throw nodeProblem('ERR_QUERY_INVALID', {
          pointer: '',
          detail: 'expected {query, requestId}',
        });
      }
      const extra = Object.keys(body).find((k) => k !== 'query' && k !== 'requestId');
      if (extra !== undefined) {
        throw nodeProblem('ERR_QUERY_INVALID', {
          pointer: `/${extra}`,
          detail: `unknown key "${extra}"`,
        });
      }
      const query = parseQuery(body.query, deps.disclosure.limits, '/query');
      const evaluable = pinAsOf(canonicalQuery(query), now());
      hash = queryHash(evaluable);
      deps.disclosure.check(evaluable, '/query');

      if (deps.repeats.hit(hash, caller.sub, now()) === 'exceeded') {
        await deps.audit.append({
          actor: caller.sub,
          project: caller.project,
          queryHash: hash,
          action: 'evaluate',
          outcome: 'alert',
          detail: { reason: 'repeat-limit' },
        });
        return await refuse(nodeProblem('ERR_REPEAT_LIMIT'));
      }

      const dataVersion = await deps.source.dataVersion();
      const release = { queryHash: hash, dataVersion };
      const sourceQuery: SourceQuery = {
        ...evaluable,
        summaryBounds: deps.disclosure.summaryBounds(evaluable),
      };
      const timeoutMs = Math.min(deps.evaluationTimeoutMs, request.deadlineMs ?? Infinity);
      let released: Released;
      try {
        const raw = await withTimeout(timeoutMs, (signal) =>
          deps.source.evaluate(sourceQuery, signal),
        );
        released = deps.disclosure.protect(raw, sourceQuery, release);
      } catch (err) {
        // A timeout or arithmetic failure could be caused by one patient's data:
        // answer exactly as if everything were suppressed (threat 13).
        if (err instanceof ProblemError) throw err;
        released = deps.disclosure.suppressedLike(sourceQuery, release);
      }

      const result = toNodeResult(
        {
          node: deps.nodeId,
          queryHash: hash,
          dataVersion,
          evaluatedAt: now().toISOString(),
          elapsedMs: 0,
        },
        released,
      );
      deps.checkOutput(result);
      // Charged before anything leaves, and released only once both the ledger
      // line and the audit entry are on disk: no figure without its ledger line.
      const decision = deps.ledger.charge({
        at: now(),
        project: caller.project,
        researcher: caller.sub,
        queryHash: hash,
        dataVersion,
        noise: deps.disclosure.noise,
        epsilon: deps.disclosure.epsilonFor(evaluable) ?? 0,
        released: { total: result.total, strata: result.strata, measures: result.measures },
      });
      if (decision.kind === 'exhausted') {
        return await refuse(
          nodeProblem('ERR_BUDGET_EXHAUSTED', {
            detail:
              `the ${decision.account} budget at this node has ${formatEpsilon(decision.limit - decision.spent)} ` +
              `of ${formatEpsilon(decision.limit)} epsilon left in the period; this query costs ${formatEpsilon(decision.cost)}`,
          }),
        );
      }
      // The figures passed the output check before they were recorded; the budget
      // block is the ledger's own arithmetic, nothing read from the data.
      if (decision.budget !== undefined) result.budget = decision.budget;
      result.elapsedMs = Math.round((deps.clock.monotonicMs() - started) * 100) / 100;
      // Both syncs at once (two files, one wait). Should the ledger's write fail,
      // the audit says "released" of an answer that never left: the safe error.
      await Promise.all([
        decision.written,
        deps.audit.append({
          actor: caller.sub,
          project: caller.project,
          queryHash: hash,
          action: 'evaluate',
          outcome: 'released',
          detail: { dataVersion, total: result.total },
        }),
      ]);
      return {
        kind: 'released',
        result,
        suppressedCells: countSuppressed(released),
        project: caller.project,
      };
    } catch (err) {
      if (err instanceof ProblemError) return await refuse(asNodeProblem(err));
      throw err;
    }
  };
}
