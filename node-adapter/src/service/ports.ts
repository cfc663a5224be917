// What the evaluation pipeline needs from the world, as narrow interfaces:
// the data source, caller verification, disclosure control, budgets and the
// audit log are all passed in, so the pipeline is testable without I/O.
import type {
  CanonicalQuery,
  Cell,
  Disclosure,
  MeasureResult,
  QueryLimits,
  Stratum,
} from '@tessera/schemas';
import type { RawResult } from '../engine/raw-result.ts';

/** A canonical query with its reference date pinned. */
export type EvaluableQuery = CanonicalQuery & { readonly asOf: string };

/** The embedded store or a live FHIR server: anything that can compute true figures. */
export interface QuerySource {
  evaluate(query: EvaluableQuery, signal: AbortSignal): Promise<RawResult>;
  /** The version of the data the next evaluation reads (a live source may have to ask its server). */
  dataVersion(): Promise<string>;
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

export interface DisclosureControl {
  /** Query limits the node's policy sets (strata, codes per dimension). */
  readonly limits: QueryLimits;
  /** Privacy budget the query costs, when the mechanism spends one. */
  epsilonFor(query: EvaluableQuery): number | undefined;
  protect(raw: RawResult): Released;
  /** The answer given when evaluation failed in a way data could have caused. */
  suppressedLike(query: EvaluableQuery): Released;
}

export interface BudgetLedger {
  charge(subject: string, project: string, epsilon: number, now: Date): Promise<'ok' | 'exhausted'>;
}

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
