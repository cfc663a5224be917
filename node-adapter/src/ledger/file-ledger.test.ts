// The release ledger: every release recorded, charged once per (project,
// query, data version, noise), against the project's and the researcher's
// budgets in a rolling window; kept on disk across restarts.
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BudgetLimits,
  type Release,
  type ReleaseLedger,
  budgetLimits,
  createMemoryReleaseLedger,
  noiseIdOf,
} from '../disclosure/budget.ts';
import { protect } from '../disclosure/protect.ts';
import { exportReleases, openFileReleaseLedger, releaseLedgerPath } from './file-ledger.ts';
import {
  cell,
  cellKeyPolicy,
  countOf,
  laplacePolicy,
  lone,
  policyOf,
  queryHashOf,
  releaseContext,
} from '../../test/support/disclosure.ts';

const DAY = 86_400_000;
const now = new Date('2026-11-21T10:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const NOISE = 'laplace:0.5:1e-9:10:1';
const limits: BudgetLimits = { projectBudget: 2, researcherBudget: 1, periodDays: 30 };

function releaseOf(over: Partial<Release> = {}): Release {
  return {
    at: now,
    project: 'p1',
    researcher: 'alice',
    queryHash: queryHashOf('q1'),
    dataVersion: 'v1',
    noise: NOISE,
    epsilon: 0.5,
    released: { total: { count: 118, perturbed: true, range: [79, 157], interval: [112, 124] } },
    ...over,
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-releases-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lines(): Promise<Record<string, unknown>[]> {
  const text = await readFile(releaseLedgerPath(dir), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

type Open = (l: BudgetLimits | undefined) => Promise<ReleaseLedger & { close?(): Promise<void> }>;
const ledgers: [string, Open][] = [
  ['memory', (l) => Promise.resolve(createMemoryReleaseLedger(l))],
  ['file', (l) => openFileReleaseLedger(dir, l)],
];

describe.each(ledgers)('%s release ledger', (_kind, openLedger) => {
  it('charges a release the first time its project receives it, and 0 afterwards', async () => {
    const ledger = await openLedger(limits);
    expect(await ledger.record(releaseOf())).toEqual({
      kind: 'recorded',
      budget: {
        cost: 0.5,
        periodDays: 30,
        project: { spent: 0.5, limit: 2 },
        researcher: { spent: 0.5, limit: 1 },
      },
    });
    for (let i = 0; i < 5; i++) {
      expect(await ledger.record(releaseOf({ at: later(i * 1000) }))).toMatchObject({
        kind: 'recorded',
        budget: { cost: 0, project: { spent: 0.5 }, researcher: { spent: 0.5 } },
      });
    }
    await ledger.close?.();
  });

  it('a second researcher of the project pays nothing for the same query; another project pays', async () => {
    const ledger = await openLedger(limits);
    await ledger.record(releaseOf());
    expect(await ledger.record(releaseOf({ researcher: 'bob' }))).toMatchObject({
      kind: 'recorded',
      budget: { cost: 0, project: { spent: 0.5 }, researcher: { spent: 0 } },
    });
    expect(await ledger.record(releaseOf({ project: 'p2', researcher: 'bob' }))).toMatchObject({
      kind: 'recorded',
      budget: { cost: 0.5, project: { spent: 0.5 }, researcher: { spent: 0.5 } },
    });
    await ledger.close?.();
  });

  it('a new query, data version or noise is a new release and pays', async () => {
    const ledger = await openLedger(limits);
    await ledger.record(releaseOf({ epsilon: 0.25 }));
    for (const other of [
      { queryHash: queryHashOf('q2') },
      { dataVersion: 'v2' },
      { noise: 'laplace:0.25:1e-9:10:1' },
    ]) {
      expect(await ledger.record(releaseOf({ ...other, epsilon: 0.25 }))).toMatchObject({
        budget: { cost: 0.25 },
      });
    }
    expect(await ledger.record(releaseOf({ epsilon: 0.25 }))).toMatchObject({
      budget: { cost: 0, researcher: { spent: 1 } },
    });
    await ledger.close?.();
  });

  it('the researcher limit refuses with account "researcher", recording nothing', async () => {
    const ledger = await openLedger(limits);
    await ledger.record(releaseOf({ queryHash: queryHashOf('q1') }));
    await ledger.record(releaseOf({ queryHash: queryHashOf('q2') }));
    const refused = releaseOf({ queryHash: queryHashOf('q3') });
    expect(await ledger.record(refused)).toEqual({
      kind: 'exhausted',
      account: 'researcher',
      spent: 1,
      limit: 1,
      cost: 0.5,
    });
    // Still unseen: refused again; bob may ask it, and then it is free for alice.
    expect(await ledger.record(refused)).toMatchObject({ kind: 'exhausted' });
    expect(await ledger.record({ ...refused, researcher: 'bob' })).toMatchObject({
      budget: { cost: 0.5, project: { spent: 1.5 } },
    });
    expect(await ledger.record(refused)).toMatchObject({
      kind: 'recorded',
      budget: { cost: 0, researcher: { spent: 1 } },
    });
    // A researcher's budget is per project: alice still has hers in another one.
    expect(await ledger.record({ ...refused, project: 'p2' })).toMatchObject({
      kind: 'recorded',
      budget: { cost: 0.5, researcher: { spent: 0.5 }, project: { spent: 0.5 } },
    });
    await ledger.close?.();
  });

  it('the project limit refuses with account "project", whoever asks', async () => {
    const ledger = await openLedger(limits);
    await ledger.record(releaseOf({ researcher: 'alice', queryHash: queryHashOf('a') }));
    await ledger.record(releaseOf({ researcher: 'alice', queryHash: queryHashOf('b') }));
    await ledger.record(releaseOf({ researcher: 'bob', queryHash: queryHashOf('c') }));
    await ledger.record(releaseOf({ researcher: 'bob', queryHash: queryHashOf('d') }));
    expect(
      await ledger.record(releaseOf({ researcher: 'carol', queryHash: queryHashOf('e') })),
    ).toEqual({ kind: 'exhausted', account: 'project', spent: 2, limit: 2, cost: 0.5 });
    // A release the project has already received stays free.
    expect(
      await ledger.record(releaseOf({ researcher: 'carol', queryHash: queryHashOf('a') })),
    ).toMatchObject({ kind: 'recorded', budget: { cost: 0 } });
    // Other projects are untouched.
    expect(await ledger.record(releaseOf({ project: 'p2', researcher: 'carol' }))).toMatchObject({
      kind: 'recorded',
      budget: { cost: 0.5 },
    });
    await ledger.close?.();
  });

  it('refuses a release costing more than a whole budget', async () => {
    const ledger = await openLedger(limits);
    expect(await ledger.record(releaseOf({ epsilon: 1.5 }))).toMatchObject({
      kind: 'exhausted',
      account: 'researcher',
      spent: 0,
      cost: 1.5,
    });
    await ledger.close?.();
  });

  it('a rolling window: a charge counts until periodDays after it was made', async () => {
    const ledger = await openLedger(limits);
    await ledger.record(releaseOf({ epsilon: 1 }));
    const next = releaseOf({ queryHash: queryHashOf('q2'), epsilon: 1 });
    expect(await ledger.record({ ...next, at: later(30 * DAY - 1) })).toMatchObject({
      kind: 'exhausted',
      account: 'researcher',
    });
    expect(await ledger.record({ ...next, at: later(30 * DAY) })).toMatchObject({
      kind: 'recorded',
      budget: { cost: 1, researcher: { spent: 1 }, project: { spent: 1 } },
    });
    await ledger.close?.();
  });

  it('forgives float rounding: ten charges of 0.1 fit a budget of 1', async () => {
    const ledger = await openLedger({ projectBudget: 1, researcherBudget: 1, periodDays: 1 });
    for (let i = 0; i < 10; i++) {
      expect(
        await ledger.record(releaseOf({ queryHash: queryHashOf(i), epsilon: 0.1 })),
      ).toMatchObject({ kind: 'recorded' });
    }
    expect(
      await ledger.record(releaseOf({ queryHash: queryHashOf(10), epsilon: 0.1 })),
    ).toMatchObject({ kind: 'exhausted' });
    await ledger.close?.();
  });

  it('keeps accounts apart even when names contain separators', async () => {
    const ledger = await openLedger(limits);
    await ledger.record(releaseOf({ project: 'a|b', researcher: 'c', epsilon: 1 }));
    expect(
      await ledger.record(releaseOf({ project: 'a', researcher: 'b|c', epsilon: 1 })),
    ).toMatchObject({ kind: 'recorded', budget: { cost: 1 } });
    await ledger.close?.();
  });

  it('cell-key (no limits): records every release with cost 0 and no budget', async () => {
    const ledger = await openLedger(budgetLimits(cellKeyPolicy()));
    const noise = noiseIdOf(cellKeyPolicy());
    for (let i = 0; i < 3; i++) {
      expect(
        await ledger.record(releaseOf({ noise, epsilon: 0, queryHash: queryHashOf(i) })),
      ).toEqual({
        kind: 'recorded',
        budget: undefined,
      });
    }
    await ledger.close?.();
  });

  it('rejects an invalid release: the returned promise rejects, nothing is recorded', async () => {
    const ledger = await openLedger(limits);
    const bad: Partial<Release>[] = [
      { epsilon: -1 },
      { epsilon: Number.NaN },
      { epsilon: Infinity },
      { at: new Date(Number.NaN) },
      { project: 7 as unknown as string },
    ];
    for (const fields of bad) {
      let outcome: Promise<unknown> | undefined;
      expect(() => {
        outcome = ledger.record(releaseOf(fields));
      }).not.toThrow();
      await expect(outcome).rejects.toThrow();
    }
    expect(await ledger.record(releaseOf())).toMatchObject({ budget: { cost: 0.5 } });
    await ledger.close?.();
  });
});

describe('release ledger limits', () => {
  it.each<BudgetLimits>([
    { projectBudget: 0, researcherBudget: 1, periodDays: 1 },
    { projectBudget: 1, researcherBudget: Number.NaN, periodDays: 1 },
    { projectBudget: Infinity, researcherBudget: 1, periodDays: 1 },
    { projectBudget: 1, researcherBudget: 1, periodDays: 0 },
    { projectBudget: 1, researcherBudget: 1, periodDays: 1.5 },
  ])('refuses %j', async (bad) => {
    expect(() => createMemoryReleaseLedger(bad)).toThrow(RangeError);
    await expect(openFileReleaseLedger(dir, bad)).rejects.toThrow(RangeError);
  });

  it('budgetLimits: the policy budgets under laplace, none otherwise', () => {
    expect(budgetLimits(policyOf())).toEqual({
      projectBudget: 10,
      researcherBudget: 5,
      periodDays: 30,
    });
    expect(
      budgetLimits(laplacePolicy({ laplace: { projectBudget: 8, researcherBudget: 3 } })),
    ).toEqual({ projectBudget: 8, researcherBudget: 3, periodDays: 30 });
    expect(budgetLimits(cellKeyPolicy())).toBeUndefined();
    expect(budgetLimits(policyOf({ mechanism: 'none' }))).toBeUndefined();
  });

  it('noiseIdOf: every parameter that changes the draws changes the id, and nothing else does', () => {
    const base = noiseIdOf(policyOf());
    expect(base).toBe('laplace:0.25:1e-9:10:1');
    for (const other of [
      { laplace: { epsilon: 0.5 } },
      { laplace: { delta: 1e-8 } },
      { threshold: 11 },
      { rounding: 5 },
    ]) {
      expect(noiseIdOf(laplacePolicy(other))).not.toBe(base);
    }
    expect(noiseIdOf(laplacePolicy({ laplace: { confidence: 0.9, projectBudget: 30 } }))).toBe(
      base,
    );
    expect(noiseIdOf(cellKeyPolicy())).toBe('cell-key:2:triangular:1');
    expect(noiseIdOf(policyOf({ mechanism: 'none' }))).toBe('none');
  });
});

describe('file release ledger', () => {
  it('writes one JSON line per recorded release and none for a refused one', async () => {
    const ledger = await openFileReleaseLedger(dir, limits);
    await ledger.record(releaseOf({ epsilon: 1 }));
    await ledger.record(releaseOf({ epsilon: 1, researcher: 'bob' }));
    await ledger.record(releaseOf({ epsilon: 1, queryHash: queryHashOf('q2') })); // refused
    await ledger.close();
    expect(await lines()).toEqual([
      {
        at: now.toISOString(),
        project: 'p1',
        researcher: 'alice',
        queryHash: queryHashOf('q1'),
        dataVersion: 'v1',
        noise: NOISE,
        cost: 1,
        released: releaseOf().released,
      },
      expect.objectContaining({ researcher: 'bob', cost: 0 }),
    ]);
  });

  it('a restart keeps what was spent and what was seen', async () => {
    const first = await openFileReleaseLedger(dir, limits);
    await first.record(releaseOf({ epsilon: 1 }));
    await first.close();
    const second = await openFileReleaseLedger(dir, limits);
    expect(await second.record(releaseOf({ epsilon: 1, researcher: 'bob' }))).toMatchObject({
      budget: { cost: 0, project: { spent: 1 } },
    });
    expect(
      await second.record(releaseOf({ epsilon: 1, queryHash: queryHashOf('q2') })),
    ).toMatchObject({ kind: 'exhausted', account: 'researcher', spent: 1 });
    await second.close();
    // Still so after another restart, until the window has passed.
    const third = await openFileReleaseLedger(dir, limits);
    const q2 = releaseOf({ epsilon: 1, queryHash: queryHashOf('q2') });
    expect(await third.record(q2)).toMatchObject({ kind: 'exhausted' });
    expect(await third.record({ ...q2, at: later(30 * DAY) })).toMatchObject({
      kind: 'recorded',
      budget: { cost: 1 },
    });
    await third.close();
  });

  it('serialises concurrent releases: never more than the budget, each release charged once', async () => {
    const ledger = await openFileReleaseLedger(dir, limits);
    const distinct = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ledger.record(releaseOf({ queryHash: queryHashOf(i), epsilon: 0.25 })),
      ),
    );
    expect(distinct.filter((d) => d.kind === 'recorded')).toHaveLength(4);
    const same = await Promise.all(
      Array.from({ length: 10 }, () =>
        ledger.record(releaseOf({ project: 'p2', queryHash: queryHashOf('same'), epsilon: 0.5 })),
      ),
    );
    expect(same.map((d) => (d.kind === 'recorded' ? d.budget?.cost : d.kind))).toEqual([
      0.5,
      ...Array<number>(9).fill(0),
    ]);
    await ledger.close();
  });

  it('charges at once, before its line is written: releases decided together never overdraw, and all their lines land in order', async () => {
    const ledger = await openFileReleaseLedger(dir, limits);
    const charges = Array.from({ length: 6 }, (_, i) =>
      ledger.charge(releaseOf({ queryHash: queryHashOf(i), epsilon: 0.25 })),
    );
    // Decided synchronously, none of the lines yet on disk: the researcher's 1
    // fits four of them.
    expect(charges.map((c) => c.kind)).toEqual([
      'recorded',
      'recorded',
      'recorded',
      'recorded',
      'exhausted',
      'exhausted',
    ]);
    expect(charges[3]).toMatchObject({ budget: { researcher: { spent: 1 } } });
    await Promise.all(charges.flatMap((c) => (c.kind === 'recorded' ? [c.written] : [])));
    expect((await lines()).map((l) => l.queryHash)).toEqual([0, 1, 2, 3].map(queryHashOf));
    await ledger.close();
    const reopened = await openFileReleaseLedger(dir, limits);
    expect(reopened.charge(releaseOf({ queryHash: queryHashOf(9), epsilon: 0.25 }))).toMatchObject({
      kind: 'exhausted',
      account: 'researcher',
      spent: 1,
    });
    await reopened.close();
  });

  it('drops and cuts off a last line a crash left unfinished', async () => {
    const first = await openFileReleaseLedger(dir, limits);
    await first.record(releaseOf({ epsilon: 0.5 }));
    await first.close();
    const before = await readFile(releaseLedgerPath(dir), 'utf8');
    await appendFile(releaseLedgerPath(dir), '{"at":"2026-11-21T10:00:00.000Z","proj');
    const second = await openFileReleaseLedger(dir, limits);
    expect(await readFile(releaseLedgerPath(dir), 'utf8')).toBe(before);
    expect(
      await second.record(releaseOf({ queryHash: queryHashOf('q2'), epsilon: 0.5 })),
    ).toMatchObject({ budget: { cost: 0.5, researcher: { spent: 1 } } });
    await second.close();
    expect((await lines()).map((l) => l.cost)).toEqual([0.5, 0.5]);
  });

  it('refuses to open on an unreadable line that is not the last', async () => {
    const good = JSON.stringify({
      at: now.toISOString(),
      project: 'p',
      researcher: 'r',
      queryHash: 'q',
      dataVersion: 'v',
      noise: NOISE,
      cost: 0.5,
      released: {},
    });
    await writeFile(releaseLedgerPath(dir), `${good}\nnot json\n${good}\n`);
    await expect(openFileReleaseLedger(dir, limits)).rejects.toThrow(/line 2/);
    await writeFile(releaseLedgerPath(dir), `${good.replace('"cost":0.5', '"cost":-1')}\n`);
    await expect(openFileReleaseLedger(dir, limits)).rejects.toThrow(/line 1/);
    await writeFile(releaseLedgerPath(dir), `${good.replace('"project":"p",', '')}\n`);
    await expect(openFileReleaseLedger(dir, limits)).rejects.toThrow(/line 1/);
  });

  it('cell-key (no limits): one line per release, each with cost 0', async () => {
    const ledger = await openFileReleaseLedger(dir, budgetLimits(cellKeyPolicy()));
    const noise = noiseIdOf(cellKeyPolicy());
    await ledger.record(releaseOf({ noise, epsilon: 0 }));
    await ledger.record(releaseOf({ noise, epsilon: 0 }));
    await ledger.close();
    expect((await lines()).map((l) => [l.noise, l.cost])).toEqual([
      [noise, 0],
      [noise, 0],
    ]);
  });

  it('creates its state directory', async () => {
    const nested = join(dir, 'state', 'node');
    const ledger = await openFileReleaseLedger(nested, limits);
    expect(await ledger.record(releaseOf())).toMatchObject({ kind: 'recorded' });
    await ledger.close();
    expect(await readFile(releaseLedgerPath(nested), 'utf8')).toContain('"cost":0.5');
  });
});

describe('exportReleases', () => {
  it('streams the stored lines, filtered by since and project, with the released parts as they left', async () => {
    const policy = policyOf();
    const trueCount = 987_654;
    const parts = protect(
      lone(cell(trueCount)),
      policy,
      releaseContext(policy, { queryHash: queryHashOf('export 1') }),
    );
    // This release's noise is not zero, so the true count appears nowhere in what left.
    expect(countOf(parts.total)).not.toBe(trueCount);
    expect(JSON.stringify(parts)).not.toContain(String(trueCount));
    const released = { total: parts.total, strata: parts.strata, measures: parts.measures };

    const ledger = await openFileReleaseLedger(dir, budgetLimits(policy));
    await ledger.record(releaseOf({ project: 'p1', released, at: now }));
    await ledger.record(releaseOf({ project: 'p2', released, at: later(DAY) }));
    await ledger.record(
      releaseOf({ project: 'p1', released, at: later(2 * DAY), dataVersion: 'v2' }),
    );
    await ledger.close();
    await appendFile(releaseLedgerPath(dir), '{"torn'); // a crash's cut-off last line

    const collect = async (filter?: Parameters<typeof exportReleases>[1]) => {
      const out: Record<string, unknown>[] = [];
      for await (const line of exportReleases(dir, filter))
        out.push(JSON.parse(line) as Record<string, unknown>);
      return out;
    };
    const all = await collect();
    expect(all.map((l) => [l.project, l.at])).toEqual([
      ['p1', now.toISOString()],
      ['p2', later(DAY).toISOString()],
      ['p1', later(2 * DAY).toISOString()],
    ]);
    expect((await collect({ project: 'p1' })).map((l) => l.dataVersion)).toEqual(['v1', 'v2']);
    expect((await collect({ since: later(DAY) })).map((l) => l.project)).toEqual(['p2', 'p1']);
    expect(await collect({ since: later(DAY), project: 'p1' })).toHaveLength(1);
    for (const line of all) {
      expect(Object.keys(line).sort()).toEqual(
        [
          'at',
          'cost',
          'dataVersion',
          'noise',
          'project',
          'queryHash',
          'released',
          'researcher',
        ].sort(),
      );
      expect(line.released).toEqual(JSON.parse(JSON.stringify(released)));
    }
    let text = '';
    for await (const line of exportReleases(dir)) text += line;
    expect(text).not.toContain(String(trueCount));
  });
});
