// `tessera-gateway keys list | rotate` against real stores of both kinds: a
// PGlite data directory (the gateway stopped, and refused while it runs)
// and PostgreSQL (beside a running replica).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../auth/node-token.ts';
import { createPgliteStore } from '../store/pglite-store.ts';
import type { Store } from '../store/store.ts';
import { describeOnPostgres } from '../../test/support/postgres-suite.ts';
import { freshPgliteDir } from '../../test/support/test-databases.ts';
import { runKeys } from './keys-command.ts';
import type { CommandIo } from './store-command.ts';

const DEFAULT_DELAY_MS = 900_000;

function capture(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { out: (l) => out.push(l), err: (l) => err.push(l), env };
  return { io, out, err };
}

let configDir: string;
beforeAll(async () => {
  configDir = await mkdtemp(join(tmpdir(), 'tessera-keys-'));
});
afterAll(async () => {
  await rm(configDir, { recursive: true, force: true });
});

/** A gateway configuration file whose store is `store`. */
async function configFile(store: Record<string, string>): Promise<string> {
  const path = join(configDir, `gateway-${Math.random().toString(36).slice(2)}.json`);
  const config = {
    publicUrl: 'http://127.0.0.1:8080',
    oidc: { issuer: 'http://127.0.0.1:9/', audience: 'tessera' },
    nodes: [{ id: 'alpha', url: 'http://127.0.0.1:9/' }],
    projects: { diabetes: { nodes: ['alpha'] } },
    store,
  };
  await writeFile(path, JSON.stringify(config));
  return path;
}

const newKey = async () => {
  const { kid, privateJwk } = await generateSigningKey();
  return { kid, privateJwk };
};

/** The rows of `keys list` as [kid, role]. */
function rolesIn(lines: readonly string[]): string[][] {
  return lines.slice(lines.indexOf('') + 3).map((line) => line.split(/\s+/).slice(0, 2));
}

describe('keys: arguments', () => {
  it('prints help, and answers 2 to anything it cannot run', async () => {
    const help = capture();
    expect(await runKeys(['--help'], help.io)).toBe(0);
    expect(help.out.join('\n')).toMatch(/keys <list \| rotate> --config <file>/);

    for (const argv of [
      [],
      ['frobnicate', '--config', 'x'],
      ['rotate', 'extra', '--config', 'x'],
      ['list', '--bogus'],
      ['rotate'],
    ]) {
      const run = capture();
      expect(await runKeys(argv, run.io), argv.join(' ')).toBe(2);
      expect(run.err[0]).toMatch(/^keys: /);
    }
  });

  it('names a configuration it cannot read, and a directory without a database', async () => {
    const missing = capture();
    expect(await runKeys(['list', '--config', join(configDir, 'nope.json')], missing.io)).toBe(1);
    expect(missing.err).toEqual([expect.stringMatching(/^keys: cannot read .*nope\.json: /)]);

    const invalid = capture();
    const bad = await configFile({ dataDir: join(configDir, 'db'), purgeIntervalSec: 'soon' });
    expect(await runKeys(['list', '--config', bad], invalid.io)).toBe(1);
    expect(invalid.err[0]).toMatch(/configuration \/store\/purgeIntervalSec: /);

    const empty = capture();
    const dataDir = join(configDir, 'empty');
    expect(await runKeys(['rotate', '--config', await configFile({ dataDir })], empty.io)).toBe(1);
    expect(empty.err).toEqual([`keys: no gateway database in ${dataDir}`]);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('keys --config with store.dataDir (PGlite)', () => {
  let dir: Awaited<ReturnType<typeof freshPgliteDir>>;
  let config: string;
  beforeEach(async () => {
    dir = await freshPgliteDir();
    const store = await createPgliteStore({ dataDir: dir.dataDir });
    await store.getOrCreateSigningKey(newKey);
    await store.close();
    config = await configFile({ dataDir: dir.dataDir });
  }, 120_000);
  afterEach(async () => {
    await dir.remove();
  });

  it('lists the key, rotates to a new one that signs after the delay, and lists both', async () => {
    const listed = capture();
    expect(await runKeys(['list', '--config', config], listed.io)).toBe(0);
    expect(listed.out[0]).toMatch(
      /^kid\s+role\s+created\s+retired\s+signs from\s+published until$/,
    );
    const [first] = listed.out.slice(2).map((line) => line.split(/\s+/));
    expect(first?.[1]).toBe('signing');

    const before = Date.now();
    const rotated = capture();
    expect(await runKeys(['rotate', '--config', config], rotated.io)).toBe(0);
    const match = /^rotated: (\S+) is published now and signs node tokens from (\S+)$/.exec(
      rotated.out[0]!,
    );
    expect(match, rotated.out[0]).not.toBeNull();
    const signsFrom = Date.parse(match![2]!);
    expect(signsFrom).toBeGreaterThanOrEqual(before + DEFAULT_DELAY_MS);
    expect(signsFrom).toBeLessThanOrEqual(Date.now() + DEFAULT_DELAY_MS);
    expect(rolesIn(rotated.out)).toEqual([
      [match![1], 'next'],
      [first![0], 'signing'],
    ]);

    const store = await createPgliteStore({ dataDir: dir.dataDir, migrate: false });
    const keys = await store.listSigningKeys().finally(() => store.close());
    expect(keys.map((k) => [k.kid, k.retiredAt === null])).toEqual([
      [match![1], true],
      [first![0], false],
    ]);
  });

  it('refuses while a gateway holds the data directory, and says to stop it', async () => {
    const running: Store = await createPgliteStore({ dataDir: dir.dataDir });
    try {
      const run = capture();
      expect(await runKeys(['rotate', '--config', config], run.io)).toBe(1);
      expect(run.err).toEqual([
        `keys: cannot open the store: the data directory ${dir.dataDir} is in use by process ${process.pid} (a running gateway); stop the gateway, run this again, then start the gateway (with PostgreSQL, keys rotate runs beside running gateways)`,
      ]);
      expect(await running.listSigningKeys()).toHaveLength(1);
    } finally {
      await running.close();
    }
  });
});

describeOnPostgres('keys --config with store.databaseUrl (PostgreSQL)', (database) => {
  it('rotates beside a running replica, which reads the new key from the store', async () => {
    const db = database();
    const replica = await db.open();
    const first = await replica.getOrCreateSigningKey(newKey);

    const rotated = capture();
    const byUrl = await configFile({ databaseUrl: db.databaseUrl! });
    expect(await runKeys(['rotate', '--config', byUrl], rotated.io)).toBe(0);
    const kid = /^rotated: (\S+) is published/.exec(rotated.out[0]!)?.[1];
    const keys = await replica.listSigningKeys();
    expect(keys.map((k) => k.kid)).toEqual([kid, first.kid]);
    expect(keys[1]?.retiredAt).not.toBeNull();

    // DATABASE_URL overrides the file, as for serve.
    const listed = capture({ DATABASE_URL: db.databaseUrl! });
    const byEnv = await configFile({ dataDir: join(configDir, 'unused') });
    expect(await runKeys(['list', '--config', byEnv], listed.io)).toBe(0);
    expect(listed.out.slice(2).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([
      [kid, 'next'],
      [first.kid, 'signing'],
    ]);
  });

  it('reports a database without the gateway schema and leaves it untouched', async () => {
    const db = database();
    const run = capture();
    const config = await configFile({ databaseUrl: db.databaseUrl! });
    expect(await runKeys(['rotate', '--config', config], run.io)).toBe(1);
    expect(run.err[0]).toMatch(/^keys: cannot rotate the keys: relation .* does not exist/);
    const tables = await db.sql(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema()`,
    );
    expect(tables[0]?.n).toBe(0);
  });
});
