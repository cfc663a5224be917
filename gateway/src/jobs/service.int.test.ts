// The query service over a real store (PGlite in memory) that breaks: a
// background query run whose last write fails must be logged and counted by
// the supervisor, never left as an unhandled rejection that ends the process,
// and the service must go on answering other queries.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeOutcome } from '@tessera/schemas';
import type { Researcher } from '../auth/researcher.ts';
import { gatewayProblem } from '../errors.ts';
import { createGatewayMetrics, type GatewayMetrics } from '../http/metrics.ts';
import { createSupervisor, type Supervisor } from './supervisor.ts';
import { mergeResults } from '../merge/merge.ts';
import { nodeResultOf } from '../../test/support/test-node-server.ts';
import { createPgliteStore } from '../store/pglite-store.ts';
import type { Store } from '../store/store.ts';
import { type FanoutRun, type ProjectRules, createQueryService } from './service.ts';

const RESEARCHER: Researcher = { sub: 'r-anna', projects: ['diabetes'], scopes: ['tessera:query'] };

const RULES: ProjectRules = {
  nodes: ['alpha'],
  measures: ['count', 'histogram', 'summary'],
  maxStrata: 200,
  queriesPerMinute: 100,
  queriesPerDay: 1000,
  repeatsPerWindow: 100,
  repeatWindowSec: 3600,
};

function answer(run: FanoutRun): NodeOutcome[] {
  const result = nodeResultOf('alpha', run.queryHash);
  return [{ node: 'alpha', status: 'ok', elapsedMs: 3, attempts: 1, result }];
}

const aged = (min: number) => ({ version: 1, cohort: { patient: { age: { min, max: 90 } } } });

let store: Store;
let supervisor: Supervisor;
let metrics: GatewayMetrics;
let logLines: Record<string, unknown>[];

beforeEach(async () => {
  store = await createPgliteStore();
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  metrics = createGatewayMetrics({ circuits: () => [] });
  supervisor = createSupervisor({
    logger: pino({ level: 'info' }, sink),
    failures: metrics.backgroundFailures,
  });
}, 120_000);

afterEach(async () => {
  await supervisor.close();
  await store.close();
});

describe('a background query run whose store fails', () => {
  it('is logged and counted, and the service goes on answering', async () => {
    // The store cannot record a failure: the run's last write rejects.
    const broken: Store = {
      ...store,
      failJob: () => Promise.reject(new Error('store unavailable')),
    };
    // The first query's fan-out fails (sending it to the failing failJob),
    // every later one answers.
    let calls = 0;
    const queries = createQueryService({
      store: broken,
      projects: { diabetes: RULES },
      runFanout: (run) => {
        calls += 1;
        return calls === 1
          ? Promise.reject(gatewayProblem('ERR_OVERLOADED'))
          : Promise.resolve(answer(run));
      },
      merge: mergeResults,
      minNodes: 1,
      resultTtlSec: 0,
      dataVersionOf: () => undefined,
      noteDataVersion: () => undefined,
      background: supervisor,
    });
    const submit = (min: number) =>
      queries.submit({
        researcher: RESEARCHER,
        body: aged(min),
        mediaType: 'query',
        project: 'diabetes',
        requestId: `req-${min}`,
      });

    const lost = await submit(20);
    await supervisor.idle();

    const failures = () =>
      metrics.registry.getSingleMetricAsString('tessera_gateway_background_failures_total');
    expect(await failures()).toContain('tessera_gateway_background_failures_total{task="query"} 1');
    expect(logLines).toContainEqual(
      expect.objectContaining({
        level: 50,
        task: 'query',
        msg: 'background task failed',
        err: expect.objectContaining({ message: 'store unavailable' }) as unknown,
      }),
    );
    // The job could not be marked failed; it stays as the store last saw it.
    expect((await store.getJob(lost.id))?.status).toBe('running');

    const next = await submit(30);
    await supervisor.idle();
    const done = await queries.get(next.id, RESEARCHER);
    expect(done.status).toBe('done');
    expect(done.status === 'done' && done.result.total).toMatchObject({ count: 42 });
    expect(await failures()).toContain('tessera_gateway_background_failures_total{task="query"} 1');
  });
});
