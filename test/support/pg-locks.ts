import { randomUUID } from 'node:crypto';
import { sqlOf, type Db } from '@parley/db';

/**
 * For PostgreSQL's write scopes (docs/scaling.md): whether a transaction waits for another is
 * read from pg_locks (an advisory lock asked for and not granted), not from the clock.
 */

/** Resolves once some session of `db`'s database waits for an advisory lock; stop() ends the watch. */
export function watchForLockWaiter(db: Db): { waiting: Promise<'waiting'>; stop: () => void } {
  let stopped = false;
  const waiting = (async () => {
    const deadline = Date.now() + 20_000;
    while (!stopped && Date.now() < deadline) {
      const rows = await sqlOf(db).query<{ n: unknown }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      if (Number(rows[0]?.n) > 0) return 'waiting' as const;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return new Promise<'waiting'>(() => undefined);
  })();
  return { waiting, stop: () => (stopped = true) };
}

/**
 * Opens a write transaction on `holder` (scope `held`, or unscoped) and keeps it open while
 * `contender` runs: 'committed' when the contender finishes while it is open, 'waiting' when
 * some transaction is seen waiting for a lock. The held one is then let go (before the caller
 * asserts anything, so a failure leaves nothing open) and both are awaited; `order` records
 * 'held' when it was let go, and whatever the contender pushes.
 */
export async function whileHeld(holder: Db, held: string | undefined, contender: (order: string[]) => Promise<unknown>): Promise<{ outcome: 'committed' | 'waiting'; order: string[] }> {
  const order: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const first = sqlOf(holder).transaction(async (tx) => {
    const $ = (n: number) => (tx.engine === 'postgres' ? `$${n}` : '?');
    await tx.execute(`INSERT INTO "AuditEntry" ("id", "actor", "action", "at") VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)})`, randomUUID(), 'system', 'held', new Date());
    entered();
    await released;
  }, { scope: held });
  await inside;
  const watch = watchForLockWaiter(holder);
  const second = contender(order);
  const outcome = await Promise.race([second.then(() => 'committed' as const), watch.waiting]);
  watch.stop();
  order.push('held');
  release();
  await Promise.all([first, second]);
  return { outcome, order };
}
