// The gateway's Prometheus metrics. Names are what deploy/grafana and
// deploy/prometheus/rules.yml read; a test keeps them in step.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type CircuitState = 'closed' | 'half-open' | 'open';
export const CIRCUIT_VALUE: Readonly<Record<CircuitState, number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
};

/** What the last health poll saw of a node; undefined until the first poll. */
export interface NodeReading {
  readonly id: string;
  readonly ready: boolean | undefined;
  readonly dataAgeSeconds: number | undefined;
}

export function createGatewayMetrics(readings: {
  circuits: () => { node: string; state: CircuitState }[];
  nodes: () => readonly NodeReading[];
}) {
  const registry = new Registry();
  // prom-client's own names already start with `process_` or `nodejs_`: the
  // namespace alone goes in front (tessera_gateway_process_cpu_seconds_total).
  collectDefaultMetrics({ register: registry, prefix: 'tessera_gateway_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'tessera_gateway_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    fanoutDuration: new Histogram({
      name: 'tessera_gateway_fanout_duration_seconds',
      help: 'Time from fan-out to each node outcome',
      labelNames: ['node'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    nodeOutcomes: new Counter({
      name: 'tessera_gateway_node_outcomes_total',
      help: 'Node call outcomes (ok, timeout, unavailable, refused, error, cancelled)',
      labelNames: ['node', 'outcome'] as const,
      registers: [registry],
    }),
    submissionRefusals: new Counter({
      name: 'tessera_gateway_refusals_total',
      help: 'Queries refused at submission, by kind (rate-limit, authorisation, invalid, capacity) and reason',
      labelNames: ['kind', 'reason'] as const,
      registers: [registry],
    }),
    cacheHits: new Counter({
      name: 'tessera_gateway_cache_hits_total',
      help: 'Queries answered from the result cache',
      registers: [registry],
    }),
    queriesInFlight: new Gauge({
      name: 'tessera_gateway_queries_in_flight',
      help: 'Queries this replica runs now (admitted and not yet finished)',
      registers: [registry],
    }),
    nodeCallsInFlight: new Gauge({
      name: 'tessera_gateway_node_calls_in_flight',
      help: 'Calls in flight to each node; at its maxConcurrentQueries the node is answered busy',
      labelNames: ['node'] as const,
      registers: [registry],
    }),
    nodeRetries: new Counter({
      name: 'tessera_gateway_node_retries_total',
      help: 'Node calls retried after a failure where the node cannot have evaluated',
      labelNames: ['node'] as const,
      registers: [registry],
    }),
    backgroundFailures: new Counter({
      name: 'tessera_gateway_background_failures_total',
      help: 'Background tasks (query runs, node health polls, store heartbeats and purges, signing-key re-reads) that failed, by task',
      labelNames: ['task'] as const,
      registers: [registry],
    }),
    storePurgedRows: new Counter({
      name: 'tessera_gateway_store_purged_rows_total',
      help: 'Rows the store purge deleted, by kind (cache, rate-limits, jobs, instances, signing-keys)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    circuitState: new Gauge({
      name: 'tessera_gateway_node_circuit_state',
      help: 'Circuit breaker per node: 0 closed, 1 half-open, 2 open',
      labelNames: ['node'] as const,
      registers: [registry],
      collect() {
        for (const { node, state } of readings.circuits()) this.set({ node }, CIRCUIT_VALUE[state]);
      },
    }),
    // The gateway's view of each node, from its /readyz polls: what a central
    // Prometheus alerts on when it cannot scrape a region's node itself.
    nodeReady: new Gauge({
      name: 'tessera_gateway_node_ready',
      help: 'Whether the last health poll found the node ready (1) or not ready or unreachable (0); absent before the first poll',
      labelNames: ['node'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { id, ready } of readings.nodes()) {
          if (ready !== undefined) this.set({ node: id }, ready ? 1 : 0);
        }
      },
    }),
    nodeDataAge: new Gauge({
      name: 'tessera_gateway_node_data_age_seconds',
      help: 'Age of the data the node serves, as its last health poll reported it',
      labelNames: ['node'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { id, ready, dataAgeSeconds } of readings.nodes()) {
          if (ready === true && dataAgeSeconds !== undefined)
            this.set({ node: id }, dataAgeSeconds);
        }
      },
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
