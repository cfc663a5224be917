// Group commit. Every query writes several small things (rate-limit hits,
// the job, node outcomes, audit entries, the cached result); one statement
// and one transaction each would make the store, not the nodes, the limit
// on how many queries a gateway can carry. Writes that arrive while a batch
// is being written wait and go together in the next one: one transaction,
// one statement per kind of write. Alone, a write costs what it did; under
// load, a query pays a share of a few statements.
import type { SqlDriver, SqlRunner } from './sql.ts';

/** One kind of write, able to write many items with a few statements. */
export interface BatchKind<T, R> {
  /** Writes every item inside `tx`; the results in item order. */
  run(tx: SqlRunner, items: readonly T[]): Promise<R[]>;
  /** Called once the transaction that ran it has committed, before any later batch runs. */
  committed?(results: readonly R[]): void;
  /**
   * True when `run` is one statement, atomic on its own: a batch of nothing
   * else runs it without a transaction around it, one round trip.
   */
  readonly standalone?: boolean;
}

interface Pending {
  readonly kind: BatchKind<unknown, unknown>;
  readonly item: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

export interface GroupCommit {
  /**
   * Queues one write and resolves once the transaction holding it has
   * committed. Writes queued in the same tick share a batch; a batch runs
   * its kinds one after the other, so a write must not depend on another
   * write of the same batch (await the first before queueing the second).
   */
  write<T, R>(kind: BatchKind<T, R>, item: T): Promise<R>;
  /** Resolves when everything queued so far has been written or has failed. */
  drain(): Promise<void>;
}

/** Most items per batch; keeps each statement's bound parameters well under PostgreSQL's 65,535. */
const MAX_BATCH = 500;

export function createGroupCommit(driver: SqlDriver, maxBatch = MAX_BATCH): GroupCommit {
  let queue: Pending[] = [];
  let flushing: Promise<void> | undefined;

  async function runBatch(batch: readonly Pending[]): Promise<void> {
    const byKind = new Map<BatchKind<unknown, unknown>, Pending[]>();
    for (const pending of batch) {
      const group = byKind.get(pending.kind);
      if (group) group.push(pending);
      else byKind.set(pending.kind, [pending]);
    }
    let results: Map<Pending, unknown>;
    try {
      const runAll = async (tx: SqlRunner): Promise<Map<Pending, unknown>> => {
        const out = new Map<Pending, unknown>();
        for (const [kind, group] of byKind) {
          const written = await kind.run(
            tx,
            group.map((p) => p.item),
          );
          group.forEach((p, i) => out.set(p, written[i]));
        }
        return out;
      };
      const [only, ...others] = byKind.keys();
      results =
        only?.standalone === true && others.length === 0
          ? await runAll(driver)
          : await driver.transaction(runAll);
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One bad write must not fail the writes that shared its batch: each
      // is tried again on its own, and only the bad one fails.
      for (const pending of batch) await runBatch([pending]);
      return;
    }
    for (const [kind, group] of byKind) kind.committed?.(group.map((p) => results.get(p)));
    for (const pending of batch) pending.resolve(results.get(pending));
  }

  async function flush(): Promise<void> {
    // Let the rest of this tick queue its writes too.
    await Promise.resolve();
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      await runBatch(batch);
    }
    flushing = undefined;
  }

  return {
    write<T, R>(kind: BatchKind<T, R>, item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({
          kind: kind,
          item,
          resolve: resolve as (value: unknown) => void,
          reject,
        });
        flushing ??= flush();
      });
    },
    async drain() {
      while (flushing) await flushing;
    },
  };
}

/** `($1, $2), ($3, $4), ...` for `rows` rows of `width` parameters, with optional casts per column. */
export function valuesList(rows: number, casts: readonly string[]): string {
  const width = casts.length;
  const tuples: string[] = [];
  for (let r = 0; r < rows; r += 1) {
    const cells = casts.map((cast, c) => `$${r * width + c + 1}${cast}`);
    tuples.push(`(${cells.join(', ')})`);
  }
  return tuples.join(', ');
}

/** The last item for each key, in the order the keys first appeared; upserts may not touch a row twice. */
export function lastByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) byKey.set(key(item), item);
  return [...byKey.values()];
}
