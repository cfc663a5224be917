// Prometheus metrics for the fan-out, registered on a registry the caller
// owns (never the global one). Node ids come from configuration, so the
// `node` label has a bounded set of values.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CircuitState } from './breaker.ts';
import type { FanoutMetrics } from './fanout.ts';

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * FanoutMetrics hooks backed by prom-client.
 * @example createFanout({ ...options, metrics: createFanoutMetrics(registry) })
 */
export function createFanoutMetrics(registry: Registry): FanoutMetrics {
  const registers = [registry];
  const calls = new Counter({
    name: 'tessera_node_calls_total',
    help: 'Node calls by final outcome',
    labelNames: ['node', 'status'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'tessera_node_call_duration_seconds',
    help: 'Duration of node calls, retries included',
    labelNames: ['node', 'status'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const attempts = new Counter({
    name: 'tessera_node_attempts_total',
    help: 'HTTP attempts sent to nodes',
    labelNames: ['node'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'tessera_node_retries_total',
    help: 'Attempts that were retries',
    labelNames: ['node'] as const,
    registers,
  });
  const circuit = new Gauge({
    name: 'tessera_node_circuit_state',
    help: 'Circuit breaker state per node: 0 closed, 1 half-open, 2 open',
    labelNames: ['node'] as const,
    registers,
  });
  const rejected = new Counter({
    name: 'tessera_fanout_rejected_total',
    help: 'Queries refused because the fan-out was at capacity',
    registers,
  });
  const inFlight = new Gauge({
    name: 'tessera_fanout_queries_in_flight',
    help: 'Queries being fanned out now',
    registers,
  });
  return {
    attempt: (node) => attempts.inc({ node }),
    retry: (node) => retries.inc({ node }),
    outcome: (o) => {
      calls.inc({ node: o.node, status: o.status });
      if (o.elapsedMs !== undefined) {
        duration.observe({ node: o.node, status: o.status }, o.elapsedMs / 1000);
      }
    },
    circuit: (node, state) => circuit.set({ node }, CIRCUIT_VALUE[state]),
    rejected: () => rejected.inc(),
    queriesInFlight: (count) => inFlight.set(count),
  };
}
