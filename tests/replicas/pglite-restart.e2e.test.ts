// One gateway on PGlite killed under load and started again on the same
// data directory: the lock file the dead process left is taken over, and
// since that lock proves no other gateway runs, the jobs the dead one was
// running are failed at start-up, before the new one answers, not after
// the heartbeat staleness a shared database needs. No accepted job is lost
// and the audit log verifies.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import { type Caller, submit } from '../support/gateway-client.ts';
import { GATEWAY_BIN, runCli } from '../support/processes.ts';
import { patientsAged } from '../e2e/queries.ts';
import { auditedResults, killReplicaUnderLoad, readJob } from './load.ts';

describe('a gateway on PGlite killed under load and restarted', () => {
  let fed: Federation;
  let token: string;

  beforeAll(async () => {
    fed = await startFederation({
      regions: [
        { id: 'lombardia', generate: { patients: 300, seed: 1101, region: 'lombardia' } },
        { id: 'galicia', generate: { patients: 300, seed: 2202, region: 'galicia' } },
      ],
      gatewayOverrides: {
        // Staleness is left at its default (30 s): the restart must not wait for it.
        fanout: { perNodeDeadlineMs: 60_000, queryDeadlineMs: 60_000 },
        projects: { 'diabetes-eu': { queriesPerMinute: 100_000, queriesPerDay: 100_000 } },
      },
    });
    token = await fed.tokenFor('diabetes-eu');
    const warm = await submit({ gatewayUrl: fed.gatewayUrl, token }, patientsAged(0, 120), {
      wait: 30,
    });
    expect(warm.status, warm.text).toBe(200);
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(() => fed?.close());

  it('fails the interrupted jobs at start-up, keeps every other, and its audit log verifies', async () => {
    const dataDir = fed.gatewayDataDir!;
    const lockFile = join(dataDir, 'tessera.lock');
    const run = await killReplicaUnderLoad(fed, { token, victim: 0, holdingNode: 'galicia' });
    expect(run.accepted.length).toBeGreaterThan(0);
    // The dead process's lock is still there, naming it.
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(run.killedPid));

    await fed.startGateway();
    const restarted = fed.gateway.child.pid;
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(restarted));

    // Read once, straight after start-up: nothing is left to end later.
    const caller: Caller = { gatewayUrl: fed.gatewayUrl, token };
    for (const id of run.interrupted) {
      expect(await readJob(caller, id)).toMatchObject({
        status: 'failed',
        error: 'ERR_GATEWAY_RESTARTED',
      });
    }
    const ended = await Promise.all(run.accepted.map((job) => readJob(caller, job.id)));
    for (const [i, end] of ended.entries()) {
      const job = run.accepted[i]!;
      expect(['done', 'failed'], job.id).toContain(end.status);
      if (end.status === 'failed') expect(end.error, job.id).toBe('ERR_GATEWAY_RESTARTED');
      if (job.result !== undefined) expect(end.result, job.id).toEqual(job.result);
    }

    // The audit tools open the data directory, so the gateway stops first.
    await fed.stopGateway();
    const verify = await runCli([GATEWAY_BIN, 'audit', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^ok: \d+ audit entries verified/);

    const audited = await auditedResults({ dataDir });
    const answered = run.accepted.filter((job) => job.result !== undefined).map((job) => job.id);
    expect(answered.length).toBeGreaterThan(0);
    const done = ended.filter((job) => job.status === 'done').map((job) => job.id);
    expect([...answered, ...done].filter((id) => !audited.has(id))).toEqual([]);
  });
});
