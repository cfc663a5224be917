// The node's Prometheus metrics; one registry per app so tests and several
// nodes in one process never share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly evaluations: Counter<'outcome'>;
  readonly suppressedCells: Counter;
  readonly budgetRefusals: Counter;
  readonly dataAgeSeconds: Gauge;
  readonly storeBytes: Gauge;
}

export function createNodeMetrics(
  nodeId: string,
  readings: { dataAgeSeconds: () => number; storeBytes: () => number },
): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'tessera_node_process_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'tessera_node_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    evaluations: new Counter({
      name: 'tessera_node_evaluations_total',
      help: 'Evaluations by outcome (released, refused, error)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    suppressedCells: new Counter({
      name: 'tessera_node_suppressed_cells_total',
      help: 'Cells suppressed by disclosure control',
      registers: [registry],
    }),
    budgetRefusals: new Counter({
      name: 'tessera_node_budget_refusals_total',
      help: 'Queries refused because the privacy budget was exhausted',
      registers: [registry],
    }),
    dataAgeSeconds: new Gauge({
      name: 'tessera_node_data_age_seconds',
      help: 'Seconds since the served data version was loaded',
      registers: [registry],
      collect() {
        this.set(readings.dataAgeSeconds());
      },
    }),
    storeBytes: new Gauge({
      name: 'tessera_node_store_bytes',
      help: 'Size of the analytic store on disk',
      registers: [registry],
      collect() {
        this.set(readings.storeBytes());
      },
    }),
  };
}
