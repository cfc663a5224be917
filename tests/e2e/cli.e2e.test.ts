// The researcher's command line against a real federation: `tessera login`
// signs in through the IdP's device flow (the browser's part done as a
// researcher would, with the link the CLI prints), then `tessera query` runs
// the query-language example 1 from its file and prints the merged table;
// with a node stopped it exits 3. Every command runs as its own process, as
// `npx tessera` would, with its own configuration directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_QUERIES } from '@tessera/schemas';
import { completeDeviceSignIn } from '@tessera/gateway/testing';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import { submit, waitForJob } from '../support/gateway-client.ts';
import { REPO_ROOT, SYNTHEA_10, exampleQueryFile } from '../support/paths.ts';
import { patientsAged } from './queries.ts';

const TESSERA_BIN = join(REPO_ROOT, 'gateway/bin/tessera.js');
const EXAMPLE_1 = EXAMPLE_QUERIES[0]!;
const NODES = ['lombardia', 'galicia', 'synthea'];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function collect(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the tessera CLI against a running federation', () => {
  let fed: Federation;
  let home: string;
  let env: NodeJS.ProcessEnv;

  const start = (args: readonly string[]): ChildProcess =>
    spawn(process.execPath, [TESSERA_BIN, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const tessera = (...args: string[]): Promise<Run> => collect(start(args));

  beforeAll(async () => {
    fed = await startFederation({
      regions: [
        { id: 'lombardia', generate: { patients: 300, seed: 1101, region: 'lombardia' } },
        { id: 'galicia', generate: { patients: 300, seed: 2202, region: 'galicia' } },
        { id: 'synthea', sources: [SYNTHEA_10] },
      ],
      // Deadlines a busy machine cannot miss: a node here is absent only when stopped.
      gatewayOverrides: { fanout: { perNodeDeadlineMs: 60_000, queryDeadlineMs: 90_000 } },
    });
    home = await mkdtemp(join(tmpdir(), 'tessera-cli-'));
    env = { ...process.env, TESSERA_GATEWAY: fed.gatewayUrl, TESSERA_CONFIG_DIR: home };
    delete env.TESSERA_TOKEN;
    // A first query warms the nodes (gateway keys fetched, stores opened), so
    // a node's cold start on a busy machine is not taken for its absence.
    const caller = { gatewayUrl: fed.gatewayUrl, token: await fed.tokenFor() };
    const warm = await submit(caller, patientsAged(0, 120), { wait: 30 });
    const warmed = warm.body.result ? warm.body : await waitForJob(caller, warm.body.id);
    expect(warmed.result?.complete, JSON.stringify(warmed)).toBe(true);
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(async () => {
    await fed?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('logs in with the device flow and keeps the token readable by its owner only', async () => {
    const child = start(['login']);
    const done = collect(child);
    // The researcher's part: the link the CLI prints, opened and signed in to.
    const link = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child.stderr?.on('data', (c: Buffer) => {
        seen += c.toString('utf8');
        const match = /open (http\S+)/.exec(seen);
        if (match) resolve(match[1]!);
      });
      child.once('close', () => reject(new Error(`login ended first: ${seen}`)));
    });
    const researcher = fed.researcherSub();
    await completeDeviceSignIn(link, researcher, researcher);
    const login = await done;
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`as ${researcher} (projects: diabetes-eu)`);

    const file = join(home, 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(file, 'utf8')) as {
      gateways: Record<string, { grant: string }>;
    };
    expect(saved.gateways[fed.gatewayUrl]?.grant).toBe('device');
  });

  it('runs example 1 from its file and prints the merged table, exit 0', async () => {
    const run = await tessera('query', exampleQueryFile(EXAMPLE_1.id), '--wait');
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const [header, rule, total] = run.stdout.split('\n');
    expect(header).toMatch(/^ageBand\s+merged\s+guaranteed\s+galicia\s+lombardia\s+synthea$/);
    expect(rule).toMatch(/^-+(\s+-+)+$/);
    expect(total).toMatch(/^total\s+\S/);
    for (const band of ['40-64', '65-79']) expect(run.stdout).toContain(band);
    expect(run.stdout).not.toContain('incomplete');
  });

  it('lists the query in the history, and status and get agree with it', async () => {
    const history = await tessera('history', '--json');
    expect(history.code, history.stderr).toBe(0);
    const [latest] = JSON.parse(history.stdout) as { id: string; status: string }[];
    expect(latest?.status).toBe('done');
    const status = await tessera('status', latest!.id);
    expect(status.code, status.stderr).toBe(0);
    for (const node of NODES) expect(status.stdout).toMatch(new RegExp(`${node}\\s+ok`));
    const csv = await tessera('get', latest!.id, '--format', 'csv');
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.split('\n')[0]).toMatch(/^source,ageBand,count,low,high/);
  });

  it("finds codes by their name, accents and case ignored, with each node's band", async () => {
    const run = await tessera('catalogue', '--q', 'DIABÈTES mellitus type 2');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^http:\/\/hl7\.org\/fhir\/sid\/icd-10\|E11\S*\s+Type 2 diabetes/m);
    expect(run.stdout).toMatch(/^ {2}(lombardia|galicia)\s+about [\d,]+ patients$/m);
    // A code as researchers write it (with its dot) prints that code's bands only.
    const code = await tessera('catalogue', '--code', 'http://hl7.org/fhir/sid/icd-10|E11.9');
    expect(code.code, code.stderr).toBe(0);
    const [named, ...bands] = code.stdout.trim().split('\n');
    expect(named).toBe(
      'http://hl7.org/fhir/sid/icd-10|E119  Type 2 diabetes mellitus without complications  (condition)',
    );
    expect(bands.length).toBeGreaterThan(0);
    for (const band of bands)
      expect(band).toMatch(/^ {2}(lombardia|galicia|synthea)\s+about [\d,]+ patients$/);
    const none = await tessera('catalogue', '--q', 'zzqx');
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('No code or name in the catalogue matches "zzqx".\n');
  });

  it('with a node stopped, prints what the others answered and exits 3', async () => {
    await fed.stopNode('galicia');
    // Example 1 at a reference date of its own: the same question on the same
    // data would be answered from the gateway's cache, galicia's part included.
    const query = join(home, 'example-1-as-of.json');
    await writeFile(query, JSON.stringify({ ...EXAMPLE_1.query, asOf: '2025-01-01' }));
    const run = await tessera('query', query, '--wait');
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toMatch(/^ageBand\s+merged\s+guaranteed\s+lombardia\s+synthea$/m);
    expect(run.stdout).toMatch(/incomplete: galicia (unavailable|timeout|error)/);
  });

  it('refuses an invalid query with the problem in one line, exit 2', async () => {
    const bad = join(home, 'bad.json');
    await writeFile(bad, JSON.stringify({ version: 1, cohort: { nothing: {} } }));
    const run = await tessera('query', bad, '--wait');
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^tessera: 400 ERR_QUERY_INVALID at \/cohort/);
  });

  it('says in one line, never a stack trace, what is wrong with the command', async () => {
    const format = await tessera('query', exampleQueryFile(EXAMPLE_1.id), '--format', 'xml');
    expect(format.code).toBe(2);
    expect(format.stderr).toBe(
      'tessera: unknown --format "xml": use one of table, csv, json, measure-report\n',
    );
    const missing = await tessera('query', join(home, 'no-such-query.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `tessera: cannot read ${join(home, 'no-such-query.json')}: no such file\n`,
    );
    const unreachable = await tessera('nodes', '--gateway', 'http://127.0.0.1:9');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^tessera: cannot reach the gateway at http:\/\/127\.0\.0\.1:9 \(\w+\)\n$/,
    );
  });

  it('logs out: the token is forgotten and the gateway asks for a sign-in again', async () => {
    const logout = await tessera('logout');
    expect(logout.code).toBe(0);
    const nodes = await tessera('nodes');
    expect(nodes.code).toBe(2);
    expect(nodes.stderr).toMatch(/^tessera: 401 ERR_UNAUTHENTICATED: .*tessera login/);
  });
});
