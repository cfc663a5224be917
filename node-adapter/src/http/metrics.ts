// The node's Prometheus metrics; one registry per app so tests and several
// nodes in one process never share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly evaluations: Counter<'outcome'>;
  readonly suppressedCells: Counter;
  readonly budgetRefusals: Counter;
  readonly releases: Counter<'project' | 'charged'>;
  readonly epsilonCharged: Counter<'project'>;
  readonly budgetSpent: Gauge<'project'>;
  readonly budgetLimit: Gauge<'account'>;
  readonly dataAgeSeconds: Gauge;
  readonly storeBytes: Gauge;
}

export function createNodeMetrics(
  nodeId: string,
  readings: { dataAgeSeconds: () => number; storeBytes: () => number },
): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  // prom-client's own names already start with `process_` or `nodejs_`: the
  // namespace alone goes in front (tessera_node_process_cpu_seconds_total).
  collectDefaultMetrics({ register: registry, prefix: 'tessera_node_' });
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
    releases: new Counter({
      name: 'tessera_node_releases_total',
      help: 'Answers released, by project and whether they were charged to the privacy budget (a repeat is free)',
      labelNames: ['project', 'charged'],
      registers: [registry],
    }),
    epsilonCharged: new Counter({
      name: 'tessera_node_budget_charged_epsilon_total',
      help: 'Privacy budget (epsilon) charged, by project',
      labelNames: ['project'],
      registers: [registry],
    }),
    budgetSpent: new Gauge({
      name: 'tessera_node_budget_spent_epsilon',
      help: 'Epsilon the project has spent in the rolling period, as of its latest release',
      labelNames: ['project'],
      registers: [registry],
    }),
    budgetLimit: new Gauge({
      name: 'tessera_node_budget_limit_epsilon',
      help: 'Epsilon a project (all its researchers) and one researcher may spend per period',
      labelNames: ['account'],
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
