// The node's metric names follow Prometheus conventions: one namespace, no
// doubled prefix on prom-client's process metrics, `_total` counters.
import { expect, test } from 'vitest';
import { createNodeMetrics } from './metrics.ts';

test('every node metric is in the tessera_node_ namespace, without a doubled prefix', async () => {
  const { registry } = createNodeMetrics('lombardia', {
    dataAgeSeconds: () => 0,
    storeBytes: () => 0,
  });
  const metrics = await registry.getMetricsAsJSON();
  const names = metrics.map((m) => m.name);
  expect(names.filter((n) => !n.startsWith('tessera_node_'))).toEqual([]);
  expect(names.filter((n) => /process_process|_process_nodejs/.test(n))).toEqual([]);
  expect(names).toContain('tessera_node_process_cpu_seconds_total');
  expect(names).toContain('tessera_node_nodejs_eventloop_lag_p99_seconds');
  // prom-client's typings say a number; at run time the type is its name.
  const counters = metrics.filter((m) => String(m.type) === 'counter').map((m) => m.name);
  expect(counters).toContain('tessera_node_evaluations_total');
  expect(counters.filter((n) => !n.endsWith('_total'))).toEqual([]);
});
