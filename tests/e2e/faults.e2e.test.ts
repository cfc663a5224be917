// Faults with real processes (threats 25, 26 and 31): node processes that die
// or hang while a query is out, and a gateway restarted under a running query.
// Deadlines are kept short in the gateway configuration; the assertions on
// time only check that deadlines are honoured, with generous margins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeOutcome } from '@tessera/schemas';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import {
  type Caller,
  type JobView,
  get,
  readEvents,
  submit,
  waitForJob,
} from '../support/gateway-client.ts';
import { eventually, sleep } from '../support/processes.ts';
import { patientsAged } from './queries.ts';

const PER_NODE_DEADLINE_MS = 2500;
const QUERY_DEADLINE_MS = 5000;
/** Slack for process scheduling on a busy machine; never a performance claim. */
const MARGIN_MS = 5000;

function outcomeOf(job: JobView, node: string): NodeOutcome {
  const outcome = job.result?.nodes.find((n) => n.node === node);
  if (outcome === undefined) throw new Error(`no outcome for ${node} in job ${job.id}`);
  return outcome;
}

describe('fan-out faults with real processes', () => {
  let fed: Federation;
  let caller: Caller;

  beforeAll(async () => {
    fed = await startFederation({
      regions: [
        { id: 'lombardia', generate: { patients: 300, seed: 1101, region: 'lombardia' } },
        { id: 'galicia', generate: { patients: 300, seed: 2202, region: 'galicia' } },
        { id: 'stall', standIn: 'hang' },
        { id: 'crash', standIn: 'die' },
      ],
      // Long deadlines first, so the query of threat 31 is still out at the restart.
      gatewayOverrides: { fanout: { perNodeDeadlineMs: 120_000, queryDeadlineMs: 120_000 } },
    });
    caller = { gatewayUrl: fed.gatewayUrl, token: await fed.tokenFor() };
    // A first query warms the real nodes (gateway keys fetched, store opened), so
    // the short deadlines below measure faults, not a cold start.
    const warm = await submit(caller, patientsAged(0, 120, ['lombardia', 'galicia']), { wait: 30 });
    expect(warm.body.result?.complete, warm.text).toBe(true);
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(() => fed?.close());

  it('threat 31: a gateway restarted under a running query fails the job with ERR_GATEWAY_RESTARTED', async () => {
    const stall = fed.node('stall').service;
    const asked = stall.stdoutLines().length;
    const res = await submit(caller, patientsAged(23, 63, ['lombardia', 'stall']));
    expect(res.status, res.text).toBe(202);
    // The query is out: the hanging node holds its request.
    await eventually('the hanging node to hold the request', () =>
      stall.stdoutLines().length > asked ? true : undefined,
    );
    const running = await get<JobView>(caller, `/v1/queries/${res.body.id}`);
    expect(running.body.status).toBe('running');

    // The restart also brings in the short deadlines the other fault tests use.
    await fed.restartGateway({
      fanout: { perNodeDeadlineMs: PER_NODE_DEADLINE_MS, queryDeadlineMs: QUERY_DEADLINE_MS },
    });

    const after = await get<JobView>(caller, `/v1/queries/${res.body.id}`);
    expect(after.status).toBe(200);
    expect(after.body.status).toBe('failed');
    expect(after.body.error).toBe('ERR_GATEWAY_RESTARTED');
    const list = await get<{ queries: JobView[] }>(caller, '/v1/queries');
    expect(list.body.queries.find((q) => q.id === res.body.id)?.status).toBe('failed');
    const stream = await readEvents(caller, res.body.id);
    const last = stream.events.at(-1);
    expect(last?.event === 'result' && last.data.error).toBe('ERR_GATEWAY_RESTARTED');
  });

  it('threat 25: a node process that dies once the query reaches it is listed as unavailable', async () => {
    const started = Date.now();
    const res = await submit(caller, patientsAged(20, 60, ['lombardia', 'crash']), { wait: 20 });
    const elapsed = Date.now() - started;
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe('done');
    expect(res.body.result?.complete).toBe(false);
    expect(outcomeOf(res.body, 'crash').status).toBe('unavailable');
    expect(outcomeOf(res.body, 'lombardia').status).toBe('ok');
    expect(res.body.result?.total.range[1]).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(QUERY_DEADLINE_MS + MARGIN_MS);
    // The request did reach it: the process reported it, then died.
    await fed.node('crash').service.exited;
    expect(fed.node('crash').service.stdoutLines()).toContain('evaluate 1');
    expect(fed.node('crash').process.signalCode).toBe('SIGKILL');
  });

  it('threat 25: a real node adapter SIGKILLed mid-query leaves a complete:false answer in time', async () => {
    const galicia = fed.node('galicia');
    // Frozen, the node holds the request without answering, so the kill is
    // certain to land while the query is out.
    galicia.process.kill('SIGSTOP');
    const started = Date.now();
    const res = await submit(caller, patientsAged(21, 61, ['lombardia', 'galicia']));
    expect(res.status, res.text).toBe(202);
    await eventually('the job to run', async () => {
      const job = await get<JobView>(caller, `/v1/queries/${res.body.id}`);
      return job.body.status === 'running' ? job : undefined;
    });
    await sleep(300);
    await fed.killNode('galicia');
    expect(galicia.process.signalCode).toBe('SIGKILL');

    const done = await waitForJob(caller, res.body.id);
    const elapsed = Date.now() - started;
    expect(done.status).toBe('done');
    expect(done.result?.complete).toBe(false);
    expect(outcomeOf(done, 'galicia').status).toBe('unavailable');
    expect(outcomeOf(done, 'lombardia').status).toBe('ok');
    expect(elapsed).toBeLessThan(QUERY_DEADLINE_MS + MARGIN_MS);
  });

  it('threat 26: a node that never answers times out at its deadline; the query keeps its own', async () => {
    const before = fed.node('stall').service.stdoutLines().length;
    const started = Date.now();
    const res = await submit(caller, patientsAged(22, 62, ['lombardia', 'stall']), { wait: 20 });
    const elapsed = Date.now() - started;
    expect(res.status, res.text).toBe(200);
    expect(res.body.result?.complete).toBe(false);
    const stall = outcomeOf(res.body, 'stall');
    expect(stall.status).toBe('timeout');
    expect(outcomeOf(res.body, 'lombardia').status).toBe('ok');
    // The per-node deadline fired: not before it was due, and within the query's.
    expect(stall.elapsedMs).toBeGreaterThanOrEqual(PER_NODE_DEADLINE_MS - 50);
    expect(stall.elapsedMs).toBeLessThan(QUERY_DEADLINE_MS + MARGIN_MS);
    expect(elapsed).toBeLessThan(QUERY_DEADLINE_MS + MARGIN_MS);
    expect(fed.node('stall').service.stdoutLines().length).toBeGreaterThan(before);
  });
});
