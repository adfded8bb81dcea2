import { randomUUID } from 'node:crypto';
import { placeholder, sqlOf, type Db } from '@parley/db';

/**
 * For PostgreSQL's write scopes (docs/scaling.md): whether a transaction waits for another is
 * read from pg_locks (one of the product's advisory write locks asked for and not granted), not
 * from the clock.
 */

const WAIT_LIMIT_MS = 20_000;

/**
 * Resolves once some session of `db`'s database waits for one of the write locks (the database's
 * key, or a scope's); stop() ends the watch. Fails after 20 s of watching, so a contender that
 * neither commits nor waits shows as an error instead of a hang.
 */
export function watchForLockWaiter(db: Db): { waiting: Promise<'waiting'>; stop: () => void } {
  let stopped = false;
  const waiting = (async () => {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (!stopped) {
      // A bigint key is (classid, objid) = its high and low halves, objsubid 1; a two-int key is
      // (classid, objid) = the two ints, objsubid 2 (PostgreSQL's pg_locks documentation).
      const rows = await sqlOf(db).query<{ n: unknown }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND ((objsubid = 1 AND classid = 0 AND objid = 727021001) OR (objsubid = 2 AND classid = 727021002))`,
      );
      if (Number(rows[0]?.n) > 0) return 'waiting' as const;
      if (Date.now() > deadline) throw new Error(`no transaction committed or waited for a write lock within ${WAIT_LIMIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return new Promise<'waiting'>(() => undefined);
  })();
  return { waiting, stop: () => (stopped = true) };
}

/**
 * Opens a write transaction on `holder` (scope `held`, or unscoped) and keeps it open while
 * `contender` runs: 'committed' when the contender finishes while it is open, 'waiting' when
 * some transaction is seen waiting for a write lock. The held one is then let go, whatever
 * happened (so a failure leaves nothing open), and both are settled before this returns or
 * throws; `order` records 'held' when it was let go, and whatever the contender pushes.
 */
export async function whileHeld(holder: Db, held: string | undefined, contender: (order: string[]) => Promise<unknown>): Promise<{ outcome: 'committed' | 'waiting'; order: string[] }> {
  const order: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const first = sqlOf(holder).transaction(async (tx) => {
    const $ = (n: number) => placeholder(tx.engine, n);
    await tx.execute(`INSERT INTO "AuditEntry" ("id", "actor", "action", "at") VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)})`, randomUUID(), 'system', 'held', new Date());
    entered();
    await released;
  }, { scope: held });
  await Promise.race([inside, first]);
  const watch = watchForLockWaiter(holder);
  const second = contender(order);
  let outcome: 'committed' | 'waiting' = 'waiting';
  let failure: { error: unknown } | undefined;
  try {
    outcome = await Promise.race([second.then(() => 'committed' as const), watch.waiting]);
  } catch (error) {
    failure = { error };
  }
  watch.stop();
  order.push('held');
  release();
  const settled = await Promise.allSettled([first, second]);
  if (failure) throw failure.error;
  for (const result of settled) if (result.status === 'rejected') throw result.reason;
  return { outcome, order };
}
