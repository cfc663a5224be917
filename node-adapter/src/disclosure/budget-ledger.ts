// The Laplace privacy budget (threat 8): every released table costs epsilon,
// charged to (subject, project) before anything is released; within a rolling
// window of `periodDays` one pair may spend at most `budget`. An exhausted
// budget answers 429 ERR_BUDGET_EXHAUSTED with no partial result.
//
// The file ledger is append-only JSON lines in the node's state directory, each
// charge fsync'd before it counts, and read back at start, so a restart does
// not refill anyone's budget. A last line cut off by a crash was never
// acknowledged and is dropped; any other unreadable line stops start-up,
// because guessing would hand out budget. The file is never rewritten; charges
// older than the window are only dropped from memory.
import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodePolicy } from './policy.ts';

export interface BudgetLedger {
  /** Charges epsilon when the budget allows it; 'exhausted' charges nothing. */
  charge(subject: string, project: string, epsilon: number, now: Date): Promise<'ok' | 'exhausted'>;
}

export interface FileBudgetLedger extends BudgetLedger {
  close(): Promise<void>;
}

export interface BudgetLimits {
  /** Epsilon one (subject, project) may spend within the window. */
  readonly budget: number;
  readonly periodDays: number;
}

/** The ledger limits a policy sets. */
export function budgetLimits(policy: NodePolicy): BudgetLimits {
  return { budget: policy.laplace.budget, periodDays: policy.laplace.periodDays };
}

interface Charge {
  readonly at: number;
  readonly subject: string;
  readonly project: string;
  readonly epsilon: number;
}

const DAY_MS = 86_400_000;
/** Sums of epsilons pick up rounding error (0.1 * 10 != 1); this much is forgiven. */
const TOLERANCE = 1e-9;

function checkCharge(subject: string, project: string, epsilon: number, now: Date): void {
  if (typeof subject !== 'string' || typeof project !== 'string') {
    throw new TypeError('subject and project must be strings');
  }
  if (!Number.isFinite(epsilon) || epsilon <= 0) {
    throw new RangeError('epsilon must be a finite number greater than 0');
  }
  if (!Number.isFinite(now.getTime())) throw new RangeError('now is not a valid date');
}

function checkLimits(limits: BudgetLimits): void {
  if (!Number.isFinite(limits.budget) || limits.budget <= 0) {
    throw new RangeError('budget must be a finite number greater than 0');
  }
  if (!Number.isInteger(limits.periodDays) || limits.periodDays < 1) {
    throw new RangeError('periodDays must be a whole number of at least 1');
  }
}

/** Charges per (subject, project), trimmed to the window as they are read. */
class Accounts {
  readonly #byKey = new Map<string, Charge[]>();
  readonly #limits: BudgetLimits;

  constructor(limits: BudgetLimits) {
    this.#limits = limits;
  }

  static key(subject: string, project: string): string {
    return JSON.stringify([subject, project]);
  }

  add(charge: Charge): void {
    const key = Accounts.key(charge.subject, charge.project);
    const list = this.#byKey.get(key) ?? [];
    list.push(charge);
    this.#byKey.set(key, list);
  }

  /** Whether the charge fits into what the pair has left in the window ending at `now`. */
  fits(charge: Charge): boolean {
    const key = Accounts.key(charge.subject, charge.project);
    const since = charge.at - this.#limits.periodDays * DAY_MS;
    const live = (this.#byKey.get(key) ?? []).filter((c) => c.at > since);
    if (live.length > 0) this.#byKey.set(key, live);
    else this.#byKey.delete(key);
    const spent = live.reduce((sum, c) => sum + c.epsilon, 0);
    return spent + charge.epsilon <= this.#limits.budget + TOLERANCE;
  }
}

/**
 * A ledger kept in memory only, for tests and single-run tools: a restart refills every budget.
 * @example await createMemoryBudgetLedger({ budget: 1, periodDays: 30 }).charge('sub', 'p', 0.5, new Date()) // 'ok'
 */
export function createMemoryBudgetLedger(limits: BudgetLimits): BudgetLedger {
  checkLimits(limits);
  const accounts = new Accounts(limits);
  return {
    charge(subject, project, epsilon, now) {
      checkCharge(subject, project, epsilon, now);
      const charge = { at: now.getTime(), subject, project, epsilon };
      if (!accounts.fits(charge)) return Promise.resolve('exhausted');
      accounts.add(charge);
      return Promise.resolve('ok');
    },
  };
}

export function budgetLedgerPath(stateDir: string): string {
  return join(stateDir, 'budget-ledger.jsonl');
}

function parseLine(line: string): Charge | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { at, subject, project, epsilon } = value as Record<string, unknown>;
  const time = typeof at === 'string' ? Date.parse(at) : NaN;
  if (!Number.isFinite(time) || typeof subject !== 'string' || typeof project !== 'string') {
    return undefined;
  }
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0) return undefined;
  return { at: time, subject, project, epsilon };
}

/** Reads the ledger; drops (and cuts off) a final line a crash left unfinished. */
async function readCharges(path: string): Promise<Charge[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) await truncate(path, Buffer.byteLength(text.slice(0, end)));
  const charges: Charge[] = [];
  text
    .slice(0, end)
    .split('\n')
    .forEach((line, i) => {
      if (line.length === 0) return;
      const charge = parseLine(line);
      if (!charge) throw new Error(`budget ledger ${path}: line ${i + 1} is not a valid charge`);
      charges.push(charge);
    });
  return charges;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Opens (creating if needed) the budget ledger in `stateDir` and loads every
 * charge. Charges are serialised in process; one node process owns one state
 * directory. A failed write stops the ledger: every later charge fails, so
 * budget is never handed out on an unknown state.
 * @example const ledger = await openFileBudgetLedger('.data/node', budgetLimits(policy));
 */
export async function openFileBudgetLedger(
  stateDir: string,
  limits: BudgetLimits,
): Promise<FileBudgetLedger> {
  checkLimits(limits);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = budgetLedgerPath(stateDir);
  const existing = await readCharges(path);
  const accounts = new Accounts(limits);
  for (const charge of existing ?? []) accounts.add(charge);
  const file: FileHandle = await open(path, 'a', 0o600);
  if (existing === undefined) await syncDirectory(stateDir);

  let broken = false;
  let tail: Promise<unknown> = Promise.resolve();

  const chargeNow = async (charge: Charge): Promise<'ok' | 'exhausted'> => {
    if (broken) throw new Error('budget ledger stopped after a failed write');
    if (!accounts.fits(charge)) return 'exhausted';
    const line = JSON.stringify({
      at: new Date(charge.at).toISOString(),
      subject: charge.subject,
      project: charge.project,
      epsilon: charge.epsilon,
    });
    try {
      await file.write(`${line}\n`);
      await file.sync();
    } catch (err) {
      broken = true;
      throw err;
    }
    accounts.add(charge);
    return 'ok';
  };

  return {
    // async, so an invalid charge rejects; nothing is awaited before `tail` is set.
    async charge(subject, project, epsilon, now) {
      checkCharge(subject, project, epsilon, now);
      const result = tail.then(() => chargeNow({ at: now.getTime(), subject, project, epsilon }));
      tail = result.catch(() => undefined);
      return result;
    },
    async close() {
      await tail;
      await file.close();
    },
  };
}
