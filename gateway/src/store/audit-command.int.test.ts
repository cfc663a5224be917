// `tessera-gateway audit verify` against real stores of both kinds (threat 36).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAudit, type AuditCommandIo } from '../cli/audit-command.ts';
import { createPgliteStore } from './pglite-store.ts';
import type { Store } from './store.ts';
import { describeOnPostgres } from '../../test/support/postgres-suite.ts';
import { freshPgliteDir } from '../../test/support/test-databases.ts';

function capture(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: AuditCommandIo = { out: (l) => out.push(l), err: (l) => err.push(l), env };
  return { io, out, err };
}

async function appendAudit(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) {
    await store.appendAudit({
      at: new Date(Date.UTC(2026, 2, 2, 10, 0, i)).toISOString(),
      actor: 'r-anna',
      project: 'diabetes-2026',
      queryHash: `sha256:${String(i).padStart(64, '0')}`,
      action: 'query.result',
      outcome: 'released',
      detail: { count: { low: 10 * i, high: 10 * i + 9 } },
    });
  }
}

describe('audit verify: arguments', () => {
  it('prints help, and answers 2 to anything it cannot run', async () => {
    const help = capture();
    expect(await runAudit(['--help'], help.io)).toBe(0);
    expect(help.out.join('\n')).toMatch(
      /audit verify \[--data-dir <dir> \| --database-url <url>\]/,
    );

    for (const argv of [
      [],
      ['frobnicate'],
      ['verify', 'extra'],
      ['verify', '--bogus'],
      ['verify', '--data-dir', 'a', '--database-url', 'postgres://x'],
      ['verify'],
    ]) {
      const run = capture();
      expect(await runAudit(argv, run.io), argv.join(' ')).toBe(2);
      expect(run.err[0]).toMatch(/^audit: /);
    }
  });

  it('refuses a directory that holds no gateway database, without creating one', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'tessera-audit-'));
    try {
      const run = capture();
      expect(await runAudit(['verify', '--data-dir', join(parent, 'db')], run.io)).toBe(1);
      expect(run.err).toEqual([`audit: no gateway database in ${join(parent, 'db')}`]);
      expect(existsSync(join(parent, 'db'))).toBe(false);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

describe('audit verify --data-dir (PGlite)', () => {
  let dir: Awaited<ReturnType<typeof freshPgliteDir>>;
  beforeEach(async () => {
    dir = await freshPgliteDir();
  }, 120_000);
  afterEach(async () => {
    await dir.remove();
  });

  it('prints ok and the count, then the index and reason once tampered with', async () => {
    const store = await createPgliteStore({ dataDir: dir.dataDir });
    await appendAudit(store, 5);
    await store.close();

    const sound = capture();
    expect(await runAudit(['verify', '--data-dir', dir.dataDir], sound.io)).toBe(0);
    expect(sound.out).toEqual(['ok: 5 audit entries verified']);

    const db = await PGlite.create(dir.dataDir);
    await db.query(`UPDATE audit_log SET outcome = 'suppressed' WHERE idx = 2`);
    await db.close();

    const broken = capture();
    expect(await runAudit(['verify', '--data-dir', dir.dataDir], broken.io)).toBe(1);
    expect(broken.err).toEqual([
      'audit: broken at entry 2: edited (its content does not match its hash)',
    ]);
  });

  it('will not open a directory a running gateway holds', async () => {
    const store = await createPgliteStore({ dataDir: dir.dataDir });
    try {
      const run = capture();
      expect(await runAudit(['verify', '--data-dir', dir.dataDir], run.io)).toBe(1);
      expect(run.err[0]).toMatch(/cannot open the store: .*in use by process/);
    } finally {
      await store.close();
    }
  });
});

describeOnPostgres('audit verify --database-url (PostgreSQL)', (database) => {
  it('verifies by URL or DATABASE_URL and names a deleted entry', async () => {
    const db = database();
    const url = db.databaseUrl!;
    await appendAudit(await db.open(), 4);

    const byFlag = capture();
    expect(await runAudit(['verify', '--database-url', url], byFlag.io)).toBe(0);
    expect(byFlag.out).toEqual(['ok: 4 audit entries verified']);

    await db.sql('DELETE FROM audit_log WHERE idx = 1');
    const byEnv = capture({ DATABASE_URL: url });
    expect(await runAudit(['verify'], byEnv.io)).toBe(1);
    expect(byEnv.err).toEqual(['audit: broken at entry 1: deleted (an entry is missing here)']);
  });

  it('reports a database without the gateway schema and leaves it untouched', async () => {
    const db = database();
    const run = capture();
    expect(await runAudit(['verify', '--database-url', db.databaseUrl!], run.io)).toBe(1);
    expect(run.err[0]).toMatch(/^audit: cannot read the audit log: relation .* does not exist/);
    const tables = await db.sql(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema()`,
    );
    expect(tables[0]?.n).toBe(0);
  });
});
