// The privacy budget and the release decision: which releases a ledger
// records, what each costs and when a budget is spent (threat 8). Pure
// arithmetic over the releases seen; where the lines are kept (the file
// ledger, ledger/file-ledger.ts) is passed in.
//
// Budget (mechanism laplace): a release costs its epsilon the first time its
// project receives that query on that data under that noise; afterwards the
// same answer costs nothing, since it is the same draw and tells nothing new.
// The charge is taken from the project's account (all its researchers together)
// and from the asking researcher's, each limited within a rolling window of
// `periodDays`. A release that would overdraw either is refused with nothing
// written and nothing released (429 ERR_BUDGET_EXHAUSTED). The charge depends
// on the query alone, never on the data, so neither the cost shown nor a
// refusal says anything about a patient.
import type { Budget } from '@tessera/schemas';
import type { NodePolicy } from './policy.ts';

export interface BudgetLimits {
  readonly projectBudget: number;
  readonly researcherBudget: number;
  readonly periodDays: number;
}

/** One answer leaving the node. */
export interface Release {
  readonly at: Date;
  readonly project: string;
  readonly researcher: string;
  readonly queryHash: string;
  readonly dataVersion: string;
  /** The noise the answer was drawn with (mechanism and parameters); a different noise is a new release. */
  readonly noise: string;
  /** Epsilon the answer costs when it is new to the project; 0 for mechanisms without a budget. */
  readonly epsilon: number;
  /** The released parts, as they leave. */
  readonly released: unknown;
}

export interface Exhausted {
  readonly kind: 'exhausted';
  readonly account: 'project' | 'researcher';
  readonly spent: number;
  readonly limit: number;
  readonly cost: number;
}

export type ReleaseDecision =
  { readonly kind: 'recorded'; readonly budget: Budget | undefined } | Exhausted;

export type Charge =
  | {
      readonly kind: 'recorded';
      readonly budget: Budget | undefined;
      /** Settles once the release's line is on disk: nothing may leave before. */
      readonly written: Promise<void>;
    }
  | Exhausted;

export interface ReleaseLedger {
  /**
   * Charges a release and starts writing its line, or refuses it when a budget
   * would be overdrawn. The books change at once, so releases decided one
   * after the other never overdraw, whatever is still being written; the
   * caller does its own durable work (the audit entry) while the line is
   * synced, and releases nothing before `written` settles.
   */
  charge(release: Release): Charge;
  /** Charges a release and waits until its line is written. */
  record(release: Release): Promise<ReleaseDecision>;
}

/** The limits a policy sets; undefined when its mechanism keeps no budget. */
export function budgetLimits(policy: NodePolicy): BudgetLimits | undefined {
  if (policy.mechanism !== 'laplace') return undefined;
  const { projectBudget, researcherBudget, periodDays } = policy.laplace;
  return { projectBudget, researcherBudget, periodDays };
}

/** The noise identity of a policy: releases under other noise parameters are new releases. */
export function noiseIdOf(policy: NodePolicy): string {
  switch (policy.mechanism) {
    case 'laplace': {
      const { epsilon, delta } = policy.laplace;
      return `laplace:${epsilon}:${delta}:${policy.threshold}:${policy.rounding}`;
    }
    case 'cell-key':
      return `cell-key:${policy.cellKey.maxNoise}:${policy.cellKey.table}:${policy.rounding}`;
    case 'none':
      return 'none';
  }
}

const DAY_MS = 86_400_000;
/** Sums of epsilons pick up rounding error (0.1 * 10 != 1); this much is forgiven. */
const TOLERANCE = 1e-9;

interface Spending {
  readonly at: number;
  readonly epsilon: number;
}

/** Charges within a rolling window, trimmed as they are read. */
class Account {
  #charges: Spending[] = [];

  add(charge: Spending): void {
    this.#charges.push(charge);
  }

  spent(now: number, periodDays: number): number {
    const since = now - periodDays * DAY_MS;
    if (this.#charges.length > 0 && this.#charges[0]!.at <= since) {
      this.#charges = this.#charges.filter((c) => c.at > since);
    }
    return this.#charges.reduce((sum, c) => sum + c.epsilon, 0);
  }
}

function checkLimits(limits: BudgetLimits): void {
  for (const value of [limits.projectBudget, limits.researcherBudget]) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError('budgets must be finite numbers greater than 0');
    }
  }
  if (!Number.isInteger(limits.periodDays) || limits.periodDays < 1) {
    throw new RangeError('periodDays must be a whole number of at least 1');
  }
}

function checkRelease(release: Release): void {
  for (const key of ['project', 'researcher', 'queryHash', 'dataVersion', 'noise'] as const) {
    if (typeof release[key] !== 'string') throw new TypeError(`${key} must be a string`);
  }
  if (!Number.isFinite(release.epsilon) || release.epsilon < 0) {
    throw new RangeError('epsilon must be a finite number >= 0');
  }
  if (!Number.isFinite(release.at.getTime())) throw new RangeError('at is not a valid date');
}

/** One release as the ledger records it (one line of the file ledger). */
export interface ReleaseLine {
  readonly at: string;
  readonly project: string;
  readonly researcher: string;
  readonly queryHash: string;
  readonly dataVersion: string;
  readonly noise: string;
  readonly cost: number;
  readonly released: unknown;
}

/** The accounts, the releases seen, and the decision; no I/O. */
export class Books {
  readonly #limits: BudgetLimits | undefined;
  readonly #projects = new Map<string, Account>();
  readonly #researchers = new Map<string, Account>();
  readonly #seen = new Set<string>();

  constructor(limits: BudgetLimits | undefined) {
    if (limits) checkLimits(limits);
    this.#limits = limits;
  }

  static #seenKey(r: Pick<ReleaseLine, 'project' | 'queryHash' | 'dataVersion' | 'noise'>): string {
    return JSON.stringify([r.project, r.queryHash, r.dataVersion, r.noise]);
  }

  #account(map: Map<string, Account>, key: string): Account {
    let account = map.get(key);
    if (!account) {
      account = new Account();
      map.set(key, account);
    }
    return account;
  }

  #accounts(project: string, researcher: string) {
    return {
      project: this.#account(this.#projects, project),
      researcher: this.#account(this.#researchers, JSON.stringify([project, researcher])),
    };
  }

  /** The line to write, or the refusal. */
  decide(release: Release): { line: ReleaseLine; budget: Budget | undefined } | Exhausted {
    const cost =
      this.#limits === undefined || this.#seen.has(Books.#seenKey(release)) ? 0 : release.epsilon;
    const line: ReleaseLine = {
      at: release.at.toISOString(),
      project: release.project,
      researcher: release.researcher,
      queryHash: release.queryHash,
      dataVersion: release.dataVersion,
      noise: release.noise,
      cost,
      released: release.released,
    };
    const limits = this.#limits;
    if (limits === undefined) return { line, budget: undefined };
    const now = release.at.getTime();
    const accounts = this.#accounts(release.project, release.researcher);
    const spent = {
      project: accounts.project.spent(now, limits.periodDays),
      researcher: accounts.researcher.spent(now, limits.periodDays),
    };
    const limit = { project: limits.projectBudget, researcher: limits.researcherBudget };
    for (const account of ['project', 'researcher'] as const) {
      if (spent[account] + cost > limit[account] + TOLERANCE) {
        return { kind: 'exhausted', account, spent: spent[account], limit: limit[account], cost };
      }
    }
    return {
      line,
      budget: {
        cost,
        periodDays: limits.periodDays,
        project: { spent: spent.project + cost, limit: limit.project },
        researcher: { spent: spent.researcher + cost, limit: limit.researcher },
      },
    };
  }

  /** Applies a written line. */
  apply(line: ReleaseLine): void {
    if (line.noise.startsWith('laplace:')) this.#seen.add(Books.#seenKey(line));
    if (line.cost > 0) {
      const at = Date.parse(line.at);
      const accounts = this.#accounts(line.project, line.researcher);
      accounts.project.add({ at, epsilon: line.cost });
      accounts.researcher.add({ at, epsilon: line.cost });
    }
  }
}

/**
 * A ledger over `books` whose lines `persist` makes durable (the file ledger
 * in ledger/ appends and syncs them).
 */
export function ledgerOf(
  books: Books,
  persist: (line: ReleaseLine) => Promise<void>,
): ReleaseLedger {
  const charge = (release: Release): Charge => {
    checkRelease(release);
    const decision = books.decide(release);
    if ('kind' in decision) return decision;
    books.apply(decision.line);
    const written = persist(decision.line);
    // Handled here too, so a caller that stops waiting (its audit entry failed
    // first) cannot turn a failed write into an unhandled rejection.
    written.catch(() => undefined);
    return { kind: 'recorded', budget: decision.budget, written };
  };
  return {
    charge,
    async record(release) {
      const decision = charge(release);
      if (decision.kind === 'exhausted') return decision;
      await decision.written;
      return { kind: 'recorded', budget: decision.budget };
    },
  };
}

/**
 * A ledger kept in memory only, for tests and single-run tools: a restart refills every budget.
 * @example await createMemoryReleaseLedger(limits).record(release) // { kind: 'recorded', budget: {...} }
 */
export function createMemoryReleaseLedger(limits: BudgetLimits | undefined): ReleaseLedger {
  return ledgerOf(new Books(limits), () => Promise.resolve());
}
