// Fan-out: one query to many nodes, each node's fate as data.
export {
  createFanout,
  type Fanout,
  type FanoutCaller,
  type FanoutMetrics,
  type FanoutOptions,
  type FanoutQuery,
  type NodeState,
} from './fanout.ts';
export { createCircuitBreaker, type CircuitBreaker, type CircuitState } from './breaker.ts';
export { createRetryBudget, type RetryBudget } from './retry-budget.ts';
