// Admission: whether this replica takes one more query, decided at submission
// from memory alone. A query turned away here gets its answer (503 or 429,
// with Retry-After) before any job, quota or store round trip exists, so a
// flood is refused as fast as it arrives and costs the researcher nothing.
//
// What is limited here is what is truly this replica's: the queries it runs
// at once (memory, sockets, the event loop) and how many of those one
// researcher holds. Each node's own limit lives in the fan-out, where a
// saturated node costs only its own outcome (threat 58).
import type { ProblemError } from '@tessera/schemas';
import { gatewayProblem } from '../errors.ts';

export interface AdmissionLimits {
  /** Queries this replica runs at once; one more is refused with 503 ERR_OVERLOADED. */
  readonly maxConcurrentQueries: number;
  /** Queries one researcher has running on this replica at once; one more is 429 ERR_TOO_MANY_RUNNING. */
  readonly maxConcurrentPerResearcher: number;
}

/** A place taken by one query; give it back once, when the query ends. */
export interface Ticket {
  release(): void;
}

export interface Admission {
  /** A ticket for this researcher's query, or a refusal (thrown) naming when to try again. */
  enter(researcher: string): Ticket;
  /** The refusal `enter` would throw now, without taking a place; undefined when there is room. */
  refusal(researcher: string): ProblemError | undefined;
  /** Queries running now. */
  running(): number;
}

/** Seconds a refused client is told to wait: queries last about this long at the least. */
const RETRY_AFTER_SEC = 1;

/**
 * An admission controller for one replica.
 * @example
 * const admission = createAdmission({ maxConcurrentQueries: 256, maxConcurrentPerResearcher: 16 });
 * const ticket = admission.enter('researcher-1'); // throws 503 or 429 when full
 * try { await run() } finally { ticket.release() }
 */
export function createAdmission(
  limits: AdmissionLimits,
  hooks: { readonly onChange?: (running: number) => void } = {},
): Admission {
  for (const key of ['maxConcurrentQueries', 'maxConcurrentPerResearcher'] as const) {
    const value = limits[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`admission: ${key} must be an integer of at least 1`);
    }
  }
  let total = 0;
  const perResearcher = new Map<string, number>();

  // A flood meets the same few refusals over and over: each is made once
  // (an Error captures a stack when made), problems being immutable.
  const overloaded = gatewayProblem('ERR_OVERLOADED', { retryAfter: RETRY_AFTER_SEC });
  const tooManyRunning = new Map<number, ProblemError>();
  const refusal = (researcher: string): ProblemError | undefined => {
    if (total >= limits.maxConcurrentQueries) return overloaded;
    const held = perResearcher.get(researcher) ?? 0;
    if (held < limits.maxConcurrentPerResearcher) return undefined;
    let refused = tooManyRunning.get(held);
    if (refused === undefined) {
      refused = gatewayProblem('ERR_TOO_MANY_RUNNING', {
        retryAfter: RETRY_AFTER_SEC,
        detail: `${held} of your queries are still running; wait for one to finish`,
      });
      tooManyRunning.set(held, refused);
    }
    return refused;
  };

  return {
    refusal,
    enter(researcher) {
      const refused = refusal(researcher);
      if (refused) throw refused;
      const held = perResearcher.get(researcher) ?? 0;
      total += 1;
      perResearcher.set(researcher, held + 1);
      hooks.onChange?.(total);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          total -= 1;
          const left = (perResearcher.get(researcher) ?? 1) - 1;
          if (left === 0) perResearcher.delete(researcher);
          else perResearcher.set(researcher, left);
          hooks.onChange?.(total);
        },
      };
    },
    running: () => total,
  };
}
