// The store's periodic purge, as the gateway schedules it (store-purge under
// the supervisor): what it deleted is logged and counted by kind. Every
// replica runs it; two purges at once delete each row once between them.
import type { Logger } from 'pino';
import type { PurgeCounts, PurgeOptions, Store } from '../store/index.ts';

/** The `kind` label of tessera_gateway_store_purged_rows_total for each count. */
export const PURGED_KIND: Readonly<Record<keyof PurgeCounts, string>> = {
  cache: 'cache',
  rateLimits: 'rate-limits',
  jobs: 'jobs',
  instances: 'instances',
  signingKeys: 'signing-keys',
};

export interface StorePurgeOptions {
  readonly store: Pick<Store, 'purgeExpired'>;
  readonly options: PurgeOptions;
  readonly logger: Logger;
  /** Counts deleted rows; prom-client's Counter fits. */
  readonly purgedRows: { inc(labels: { kind: string }, value: number): void };
  readonly now?: () => Date;
}

/**
 * One purge run: deletes, then reports at info when it deleted anything
 * (at debug when not, which is most runs).
 * @example supervisor.every('store-purge', 300_000, createStorePurge({ store, options, logger, purgedRows }));
 */
export function createStorePurge(deps: StorePurgeOptions): () => Promise<PurgeCounts> {
  const { store, options, logger, purgedRows, now = () => new Date() } = deps;
  return async () => {
    const purged = await store.purgeExpired(now(), options);
    let total = 0;
    for (const kind of Object.keys(PURGED_KIND) as (keyof PurgeCounts)[]) {
      if (purged[kind] === 0) continue;
      purgedRows.inc({ kind: PURGED_KIND[kind] }, purged[kind]);
      total += purged[kind];
    }
    if (total > 0) logger.info({ purged }, 'store purged');
    else logger.debug({ purged }, 'store purged, nothing to delete');
    return purged;
  };
}
