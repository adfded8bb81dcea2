import type { Tx } from './client';

/** At most this many items share one transaction (bounds its length and its lock time). */
export const GROUP_COMMIT_MAX_BATCH = 64;

interface Pending<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes a batch of items inside one transaction, answering one result per item in order. It
 * must touch the database only through `tx`, and may see an item twice: when a batch fails,
 * each of its items is written again in a transaction of its own.
 */
export type BatchWriter<I, R, X = Tx> = (tx: X, items: I[]) => Promise<R[]>;

/**
 * Runs a function in a write transaction that holds the write lock, retrying a busy database:
 * `(fn) => withTx(db, fn)` for Prisma, `(fn) => sqlOf(db).transaction(fn)` for raw SQL.
 */
export type Transact<X> = <T>(fn: (tx: X) => Promise<T>) => Promise<T>;

export interface GroupCommit<I, R> {
  /** Writes `item` with the others submitted meanwhile; settles once that transaction has committed (or failed). */
  run(item: I): Promise<R>;
  /**
   * Since the start: transactions committed, the items they held, batches retried item by item;
   * now: items waiting for the next transaction and items in the one being written.
   */
  stats(): { transactions: number; items: number; isolatedRetries: number; waiting: number; writing: number };
}

/**
 * Group commit: items submitted in the same turn of the event loop, or while a write
 * transaction runs, go into the next transaction together (up to `maxBatch`), written by one
 * call of `write`. On SQLite write transactions are serialised anyway (one writer), and most of
 * a small transaction's cost is fixed (the transaction's round trips, the commit),
 * so 50 concurrent webhooks cost a few transactions instead of 50. A caller's promise still
 * settles only after its own commit: nothing is acknowledged before it is durable. When a batch
 * fails, its items are written again one per transaction, so one bad item fails only its caller.
 */
export function createGroupCommit<I, R, X>(transact: Transact<X>, write: BatchWriter<I, R, X>, maxBatch = GROUP_COMMIT_MAX_BATCH): GroupCommit<I, R> {
  const queue: Pending<I, R>[] = [];
  let running = false;
  let transactions = 0;
  let items = 0;
  let isolatedRetries = 0;
  let writing = 0;

  const commit = async (batch: Pending<I, R>[]): Promise<R[]> => {
    const results = await transact(async (tx) => {
      const out = await write(tx, batch.map((p) => p.item));
      // Inside the transaction, so a writer that lost count writes nothing.
      if (out.length !== batch.length) throw new Error(`group commit: the writer answered ${out.length} results for ${batch.length} items`);
      return out;
    });
    transactions += 1;
    items += batch.length;
    return results;
  };

  const flush = async (): Promise<void> => {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        writing = batch.length;
        try {
          const results = await commit(batch);
          batch.forEach((p, i) => p.resolve(results[i] as R));
          continue;
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
        }
        // The whole batch rolled back: each item again on its own, so the one that failed
        // fails alone, with its own error.
        isolatedRetries += 1;
        for (const p of batch) {
          try {
            p.resolve((await commit([p]))[0] as R);
          } catch (error) {
            p.reject(error);
          }
        }
      }
    } finally {
      writing = 0;
      running = false;
    }
  };

  return {
    run(item: I): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (running) return;
        running = true;
        // Started after the current I/O phase: requests read in the same turn of the event loop
        // join the first transaction. (With SQLite's synchronous driver a transaction may never
        // yield to I/O, so "whatever arrives while one runs" alone would group little.)
        setImmediate(() => void flush());
      });
    },
    stats: () => ({ transactions, items, isolatedRetries, waiting: queue.length, writing }),
  };
}
