import { findMailboxSync, sqlOf, withTx, type Db } from '@parley/db';
import { compareHistoryIds } from '@parley/domain';
import type { Logger } from '@parley/logging';
import { JOBS, QUEUE_NAMES, type JobData, type Queues } from '@parley/queue';

/**
 * Redis runs with AOF `appendfsync everysec`, so a Redis crash can drop the last second of
 * jobs the API already acknowledged. The API writes every accepted webhook to SQLite
 * (WebhookDelivery, id = the job's deterministic id) before it answers; this sweep puts back
 * any recent delivery whose job Redis no longer has, under the same id. A Gmail notification
 * that arrived while a sync of its mailbox was running has no job by design (the running sync
 * covers it, apps/api/src/gmail-webhook.route.ts): it is put back only while the mailbox's
 * cursor has not passed its history id.
 */
export const DELIVERY_SWEEP = {
  /** Deliveries older than this are not checked: completed jobs stay in Redis a week, so a
   * missing job this recent can only mean Redis lost it. */
  lookbackMs: 60 * 60 * 1000,
  /** The API writes the row a moment before it enqueues; younger rows are left alone so an
   * in-flight delivery is not reported as lost (re-adding it would be harmless anyway). */
  minAgeMs: 5_000,
  /** Rows are kept a little longer than completed jobs (7 days) and then pruned. */
  retentionMs: 8 * 24 * 60 * 60 * 1000,
  /** How often the maintenance scheduler runs the sweep. */
  everyMs: 60_000,
  pageSize: 500,
} as const;

export const DELIVERY_SWEEP_SCHEDULER_ID = 'delivery-sweep';

export interface DeliverySweepDeps {
  db: Db;
  queues: Queues;
  log: Logger;
  now: () => Date;
}

export interface DeliverySweepResult {
  checked: number;
  requeued: string[];
  /** Notifications without a job whose history the mailbox's sync has already passed. */
  synced: number;
  skipped: number;
  pruned: number;
}

export async function sweepDeliveries(deps: DeliverySweepDeps, settings: Partial<typeof DELIVERY_SWEEP> = {}): Promise<DeliverySweepResult> {
  const s = { ...DELIVERY_SWEEP, ...settings };
  const now = deps.now().getTime();
  const where = { receivedAt: { gte: new Date(now - s.lookbackMs), lte: new Date(now - s.minAgeMs) } };
  const result: DeliverySweepResult = { checked: 0, requeued: [], synced: 0, skipped: 0, pruned: 0 };

  // Each mailbox's cursor, read once per sweep.
  const cursors = new Map<string, Promise<string | null>>();
  const notificationSynced = async (data: JobData<'gmail-notifications'>): Promise<boolean> => {
    const key = data.mailbox.toLowerCase();
    let cursorOf = cursors.get(key);
    if (!cursorOf) {
      cursorOf = findMailboxSync(sqlOf(deps.db), data.mailbox).then((row) => row?.historyCursor ?? null);
      cursors.set(key, cursorOf);
    }
    const synced = await cursorOf;
    return synced !== null && compareHistoryIds(synced, data.historyId) >= 0;
  };

  let cursor: string | undefined;
  for (;;) {
    const rows = await deps.db.webhookDelivery.findMany({
      where,
      orderBy: { id: 'asc' },
      take: s.pageSize,
      ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
    });
    if (rows.length === 0) break;
    cursor = rows[rows.length - 1]?.id;
    result.checked += rows.length;
    await Promise.all(
      rows.map(async (row) => {
        const queue = QUEUE_NAMES.find((q) => q === row.queue);
        const parsed = queue ? JOBS[queue].schema.safeParse(row.payload) : undefined;
        if (!queue || !parsed?.success) {
          result.skipped += 1;
          deps.log.warn('delivery sweep: row cannot be enqueued', { deliveryId: row.id, queue: row.queue, reason: queue ? 'payload does not match the schema' : 'unknown queue' });
          return;
        }
        if ((await deps.queues[queue].getJob(row.id)) !== undefined) return;
        // A notification the API left to the sync that was running has no job by design; it
        // is done once the mailbox's cursor has passed its history id (so is a lost one's).
        if (queue === 'gmail-notifications' && (await notificationSynced(parsed.data as JobData<'gmail-notifications'>))) {
          result.synced += 1;
          return;
        }
        // Same id as the API used: if the job reappears meanwhile, BullMQ keeps one of them.
        await deps.queues[queue].add(row.jobName, parsed.data, { jobId: row.id });
        result.requeued.push(row.id);
        deps.log.warn('delivery sweep: job missing from Redis, enqueued again', { queue, jobId: row.id, receivedAt: row.receivedAt.toISOString() });
      }),
    );
    if (rows.length < s.pageSize) break;
  }

  const pruned = await withTx(deps.db, (tx) => tx.webhookDelivery.deleteMany({ where: { receivedAt: { lt: new Date(now - s.retentionMs) } } }));
  result.pruned = pruned.count;
  deps.log.info('delivery sweep done', { checked: result.checked, requeued: result.requeued.length, synced: result.synced, skipped: result.skipped, pruned: result.pruned });
  return result;
}

/** Registers the sweep with BullMQ's scheduler; every worker does it at start (an upsert). */
export async function scheduleDeliverySweep(queues: Queues, everyMs: number = DELIVERY_SWEEP.everyMs): Promise<void> {
  await queues.maintenance.upsertJobScheduler(DELIVERY_SWEEP_SCHEDULER_ID, { every: everyMs }, { name: JOBS.maintenance.name, data: { task: 'delivery-sweep' } });
}
