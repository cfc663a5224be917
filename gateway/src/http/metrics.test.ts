// The gateway's metric names follow Prometheus conventions (one namespace, no
// doubled prefix, `_total` counters), and its gauges read what the fan-out and
// the health polls know now: a circuit the fan-out opened, a node the polls
// cannot reach.
import type { CohortQuery } from '@tessera/schemas';
import { describe, expect, it } from 'vitest';
import { createFanout } from '../fanout/fanout.ts';
import { createNodeClient } from '../nodes/node-client.ts';
import { type NodeStatus } from '../nodes/registry.ts';
import { createGatewayMetrics } from './metrics.ts';

const NO_NODES = { circuits: () => [], nodes: () => [] };

/** The value of one sample in an exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function status(id: string, fields: Partial<NodeStatus>): NodeStatus {
  return {
    id,
    url: `http://${id}.invalid`,
    ready: undefined,
    latencyMs: undefined,
    dataVersion: undefined,
    dataAgeSeconds: undefined,
    checkedAt: undefined,
    ...fields,
  };
}

describe('gateway metric names', () => {
  it('are all in the tessera_gateway_ namespace, the process ones without a doubled prefix', async () => {
    const { registry } = createGatewayMetrics(NO_NODES);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.filter((n) => !n.startsWith('tessera_gateway_'))).toEqual([]);
    expect(names.filter((n) => /process_process|_process_nodejs/.test(n))).toEqual([]);
    expect(names).toContain('tessera_gateway_process_cpu_seconds_total');
    expect(names).toContain('tessera_gateway_nodejs_eventloop_lag_p99_seconds');
  });

  it('end counters in _total and durations in seconds', async () => {
    const { registry } = createGatewayMetrics(NO_NODES);
    const metrics = await registry.getMetricsAsJSON();
    // prom-client's typings say a number; at run time the type is its name.
    const counters = metrics.filter((m) => String(m.type) === 'counter').map((m) => m.name);
    expect(counters).toContain('tessera_gateway_node_outcomes_total');
    expect(counters.filter((n) => !n.endsWith('_total'))).toEqual([]);
    const durations = metrics.map((m) => m.name).filter((n) => n.includes('duration'));
    expect(durations.length).toBeGreaterThan(0);
    expect(durations.filter((n) => !n.endsWith('_seconds'))).toEqual([]);
  });
});

describe('the gateway view of each node', () => {
  it('exports readiness and data age from the health polls, nothing before the first poll', async () => {
    const polled = [
      status('lombardia', { ready: true, dataAgeSeconds: 3600 }),
      status('galicia', { ready: false }),
      status('sachsen', {}),
    ];
    const { registry } = createGatewayMetrics({ circuits: () => [], nodes: () => polled });
    const text = await registry.metrics();
    expect(sample(text, 'tessera_gateway_node_ready{node="lombardia"}')).toBe(1);
    expect(sample(text, 'tessera_gateway_node_ready{node="galicia"}')).toBe(0);
    expect(sample(text, 'tessera_gateway_node_ready{node="sachsen"}')).toBeUndefined();
    expect(sample(text, 'tessera_gateway_node_data_age_seconds{node="lombardia"}')).toBe(3600);
    expect(sample(text, 'tessera_gateway_node_data_age_seconds{node="galicia"}')).toBeUndefined();
  });

  it('shows 2 for a circuit the fan-out opened on a node that cannot be reached', async () => {
    // Port 9 (discard) on loopback: nothing listens, every call is refused at once.
    const client = createNodeClient({
      connectTimeoutMs: 1_000,
      nodes: [{ id: 'galicia', url: 'http://127.0.0.1:9', connections: 1 }],
    });
    const fanout = createFanout({
      client,
      perNodeDeadlineMs: 1_000,
      queryDeadlineMs: 2_000,
      maxConcurrentPerNode: { galicia: 4 },
      maxAttempts: 1,
      retryBudget: { ratio: 0.1, reserve: 10 },
      backoff: { baseMs: 1, maxMs: 1 },
      breaker: { failureThreshold: 2, openMs: 60_000 },
      maxResponseBytes: 65_536,
      signRequest: () => Promise.resolve('header.payload.signature'),
    });
    try {
      const { registry } = createGatewayMetrics({
        circuits: () => fanout.nodeStates().map((s) => ({ node: s.id, state: s.circuit })),
        nodes: () => [],
      });
      const series = 'tessera_gateway_node_circuit_state{node="galicia"}';
      expect(sample(await registry.metrics(), series)).toBe(0);
      const query = { version: 1, cohort: { patient: { deceased: false } } } as CohortQuery;
      for (const requestId of ['q1', 'q2']) {
        const [outcome] = await fanout.run({
          body: { query, requestId },
          nodes: ['galicia'],
          requestId,
          caller: { sub: 'researcher-1', project: 'diabetes' },
        });
        expect(outcome?.status).toBe('unavailable');
      }
      expect(sample(await registry.metrics(), series)).toBe(2);
    } finally {
      await fanout.close();
      await client.close();
    }
  });
});
