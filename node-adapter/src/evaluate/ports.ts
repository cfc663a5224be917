// What the evaluation pipeline needs from the world, as narrow interfaces:
// the data source, caller verification, disclosure control, budgets, the
// audit log and the clock are all passed in, so the pipeline is testable
// without I/O.
import type {
  Cell,
  Disclosure,
  EvaluableQuery,
  MeasureResult,
  QueryLimits,
  Stratum,
} from '@tessera/schemas';
import type { SourceQuery, SummaryBounds } from '../engine/bounds.ts';
import type { RawResult } from '../engine/raw-result.ts';

export type { EvaluableQuery, SourceQuery, SummaryBounds };

/** The embedded store or a live FHIR server: anything that can compute true figures. */
export interface QuerySource {
  evaluate(query: SourceQuery, signal: AbortSignal): Promise<RawResult>;
  /** The version of the data the next evaluation reads (a live source may have to ask its server). */
  dataVersion(): Promise<string>;
}

/** Time as the pipeline reads it: the wall clock for dates, a monotonic clock for durations. */
export interface Clock {
  now(): Date;
  /** Milliseconds from an arbitrary origin that never go back (`performance.now()`). */
  monotonicMs(): number;
}

/** Who is asking: established from the gateway's signed, body-bound token. */
export interface Caller {
  readonly sub: string;
  readonly project: string;
}

export interface CallerVerifier {
  verify(authorization: string | undefined, rawBody: Uint8Array): Promise<Caller>;
}

/** The released parts of a NodeResult. */
export interface Released {
  readonly total: Cell;
  readonly strata: Stratum[];
  readonly measures: MeasureResult[];
  readonly overlapping?: boolean;
  readonly disclosure: Disclosure;
}

/** One release's identity: what its noise is keyed by. */
export interface ReleaseKey {
  readonly queryHash: string;
  readonly dataVersion: string;
}

export interface DisclosureControl {
  /** Query limits the node's policy sets (strata, codes per dimension). */
  readonly limits: QueryLimits;
  /** The noise identity of the policy (mechanism and parameters). */
  readonly noise: string;
  /** Refuses a query the policy does not answer (ERR_QUERY_INVALID, pointer under `pointer`). */
  check(query: EvaluableQuery, pointer: string): void;
  /** The clamping bounds the source applies to the query's summaries. */
  summaryBounds(query: EvaluableQuery): (SummaryBounds | undefined)[];
  /** Privacy budget the query costs, when the mechanism spends one. */
  epsilonFor(query: EvaluableQuery): number | undefined;
  protect(raw: RawResult, query: SourceQuery, release: ReleaseKey): Released;
  /** The answer given when evaluation failed in a way data could have caused. */
  suppressedLike(query: SourceQuery, release: ReleaseKey): Released;
}

/** Records every release and charges its budget. */
export type { ReleaseLedger } from '../disclosure/budget.ts';

export interface RepeatLimiter {
  hit(queryHash: string, subject: string, now: Date): 'ok' | 'exceeded';
}

/** One audit decision; released figures only, never ids or unreleased counts. */
export interface AuditRecord {
  readonly actor: string;
  readonly project: string;
  readonly queryHash: string;
  readonly action: 'evaluate';
  readonly outcome: 'released' | 'refused' | 'alert' | 'failed';
  readonly detail?: Record<string, unknown>;
}

export interface AuditSink {
  append(record: AuditRecord): Promise<void>;
}
