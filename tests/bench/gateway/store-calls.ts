// Counts the gateway's calls into its state store and the wall-clock time
// each took (queueing for the database included), for the profiled steps. It
// wraps the store inside the gateway's process (gateway-host.ts).
import type { Store } from '@tessera/gateway';
import type { CallStats } from './protocol.ts';

export interface CountingStore {
  readonly store: Store;
  /** Calls since the last reset, by method. */
  snapshot(): ReadonlyMap<string, CallStats>;
  reset(): void;
}

/**
 * The same store, with every method call counted and timed.
 * @example const counted = countingStore(store); createGatewayService(config, { store: counted.store });
 */
export function countingStore(inner: Store): CountingStore {
  let stats = new Map<string, CallStats>();
  const record = (method: string, started: number): void => {
    const entry = stats.get(method) ?? { calls: 0, ms: 0 };
    entry.calls += 1;
    entry.ms += performance.now() - started;
    stats.set(method, entry);
  };
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        const started = performance.now();
        const result = method.apply(target, args);
        if (result instanceof Promise) {
          return result.finally(() => record(property, started));
        }
        record(property, started);
        return result;
      };
    },
  });
  return {
    store,
    snapshot: () => new Map(stats),
    reset: () => {
      stats = new Map();
    },
  };
}
