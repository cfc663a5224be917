// Work the gateway starts and does not wait for (query runs, node health
// polls, store heartbeats) runs here. A rejected promise nobody awaits would
// end the Node process; under the supervisor the failure is logged and
// counted instead, and shutdown can wait for what is still running.
import type { Logger } from 'pino';

/** What library code needs to start background work: nothing more, so it cannot stop others' tasks. */
export interface BackgroundRunner {
  /**
   * Starts `work` now (synchronously, up to its first await) and returns at
   * once. A failure, thrown or rejected, is logged and counted under `task`.
   */
  run(task: string, work: () => Promise<unknown>): void;
}

export interface Supervisor extends BackgroundRunner {
  /**
   * Runs `work` every `intervalMs`, and once straight away when `immediately`.
   * A tick is skipped while the previous run is still going, so a slow
   * dependency does not pile up calls to itself.
   */
  every(
    task: string,
    intervalMs: number,
    work: () => Promise<unknown>,
    options?: { readonly immediately?: boolean },
  ): void;
  /** Resolves once every task started so far, and any they started, has settled. */
  idle(): Promise<void>;
  /** Stops the periodic tasks, then waits for running ones. */
  close(): Promise<void>;
}

export interface SupervisorOptions {
  readonly logger: Logger;
  /** Counts failures; prom-client's Counter fits. */
  readonly failures?: { inc(labels: { task: string }): void };
}

/**
 * @example const supervisor = createSupervisor({ logger, failures: metrics.backgroundFailures });
 *   supervisor.run('query', () => execute(job));
 *   supervisor.every('store-heartbeat', 10_000, () => store.heartbeat(new Date()));
 */
export function createSupervisor(options: SupervisorOptions): Supervisor {
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();

  function failed(task: string, err: unknown): void {
    // Reporting must not become the next unhandled rejection.
    try {
      options.logger.error({ task, err }, 'background task failed');
      options.failures?.inc({ task });
    } catch {
      // Nothing left to tell.
    }
  }

  function start(task: string, work: () => Promise<unknown>): Promise<void> {
    let settled: Promise<void>;
    try {
      settled = work().then(
        () => undefined,
        (err: unknown) => failed(task, err),
      );
    } catch (err) {
      // Thrown before the work's first await.
      failed(task, err);
      return Promise.resolve();
    }
    inFlight.add(settled);
    void settled.finally(() => inFlight.delete(settled));
    return settled;
  }

  async function idle(): Promise<void> {
    while (inFlight.size > 0) await Promise.all(inFlight);
  }

  return {
    run(task, work) {
      void start(task, work);
    },

    every(task, intervalMs, work, { immediately = false } = {}) {
      let last: Promise<void> | undefined;
      const tick = (): void => {
        if (last !== undefined) return;
        last = start(task, work).finally(() => (last = undefined));
      };
      if (immediately) tick();
      // Unref'd: a periodic check never keeps a stopping process alive.
      timers.add(setInterval(tick, intervalMs).unref());
    },

    idle,

    async close() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      await idle();
    },
  };
}
