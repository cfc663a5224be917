import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  budgetLedgerPath,
  createMemoryBudgetLedger,
  openFileBudgetLedger,
} from './budget-ledger.ts';

const limits = { budget: 1, periodDays: 1 };
const now = new Date('2026-11-21T10:00:00Z');
const DAY = 86_400_000;

describe('memory budget ledger', () => {
  it('charges within the budget and forgives float rounding', async () => {
    const ledger = createMemoryBudgetLedger(limits);
    for (let i = 0; i < 10; i++) expect(await ledger.charge('s', 'p', 0.1, now)).toBe('ok');
    expect(await ledger.charge('s', 'p', 0.1, now)).toBe('exhausted');
  });

  it('a rolling window: charges expire one period after they were made', async () => {
    const ledger = createMemoryBudgetLedger(limits);
    expect(await ledger.charge('s', 'p', 0.6, now)).toBe('ok');
    expect(await ledger.charge('s', 'p', 0.6, new Date(now.getTime() + DAY / 2))).toBe('exhausted');
    expect(await ledger.charge('s', 'p', 0.6, new Date(now.getTime() + DAY))).toBe('ok');
  });

  it('refuses a charge larger than the whole budget', async () => {
    expect(await createMemoryBudgetLedger(limits).charge('s', 'p', 1.5, now)).toBe('exhausted');
  });

  it('refuses invalid charges and limits', () => {
    const ledger = createMemoryBudgetLedger(limits);
    for (const epsilon of [0, -1, Number.NaN, Infinity]) {
      expect(() => ledger.charge('s', 'p', epsilon, now)).toThrow(/epsilon/);
    }
    expect(() => ledger.charge('s', 'p', 0.1, new Date(Number.NaN))).toThrow(/date/);
    expect(() => createMemoryBudgetLedger({ budget: Number.NaN, periodDays: 1 })).toThrow();
    expect(() => createMemoryBudgetLedger({ budget: 1, periodDays: 0 })).toThrow();
  });

  it('keeps subjects and projects apart, even when names contain separators', async () => {
    const ledger = createMemoryBudgetLedger(limits);
    expect(await ledger.charge('a|b', 'c', 1, now)).toBe('ok');
    expect(await ledger.charge('a', 'b|c', 1, now)).toBe('ok');
  });
});

describe('file budget ledger', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-ledger-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends one JSON line per accepted charge and nothing for a refused one', async () => {
    const ledger = await openFileBudgetLedger(dir, limits);
    await ledger.charge('alice', 'p1', 0.75, now);
    await ledger.charge('alice', 'p1', 0.75, now);
    await ledger.close();
    const lines = (await readFile(budgetLedgerPath(dir), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { at: now.toISOString(), subject: 'alice', project: 'p1', epsilon: 0.75 },
    ]);
  });

  it('serialises concurrent charges: no more than the budget is handed out', async () => {
    const ledger = await openFileBudgetLedger(dir, limits);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => ledger.charge('alice', 'p1', 0.25, now)),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(4);
    await ledger.close();
  });

  it('drops and cuts off a last line a crash left unfinished', async () => {
    const first = await openFileBudgetLedger(dir, limits);
    await first.charge('alice', 'p1', 0.5, now);
    await first.close();
    await appendFile(budgetLedgerPath(dir), '{"at":"2026-11-21T10:00:00.000Z","subj');
    const second = await openFileBudgetLedger(dir, limits);
    expect(await second.charge('alice', 'p1', 0.5, now)).toBe('ok');
    expect(await second.charge('alice', 'p1', 0.5, now)).toBe('exhausted');
    await second.close();
    const lines = (await readFile(budgetLedgerPath(dir), 'utf8')).split('\n');
    expect(lines.filter((l) => l.length > 0).map((l) => JSON.parse(l) as unknown)).toHaveLength(2);
  });

  it('refuses to start on an unreadable line in the middle', async () => {
    await writeFile(
      budgetLedgerPath(dir),
      '{"at":"2026-11-21T10:00:00.000Z","subject":"a","project":"p","epsilon":0.5}\nnot json\n',
    );
    await expect(openFileBudgetLedger(dir, limits)).rejects.toThrow(/line 2/);
    await writeFile(
      budgetLedgerPath(dir),
      '{"at":"2026-11-21T10:00:00.000Z","subject":"a","project":"p","epsilon":-1}\n',
    );
    await expect(openFileBudgetLedger(dir, limits)).rejects.toThrow(/line 1/);
  });

  it('creates its state directory', async () => {
    const nested = join(dir, 'state', 'node');
    const ledger = await openFileBudgetLedger(nested, limits);
    expect(await ledger.charge('alice', 'p1', 0.5, now)).toBe('ok');
    await ledger.close();
  });
});
