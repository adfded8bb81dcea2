import type { Tx } from '@parley/db';
import { maxHistoryId } from '@parley/domain';
import { enqueue, JOBS, type JobInput, type Queues, type QueueName } from '@parley/queue';
import { unavailable, withTimeout } from './http-error';

/** How long a webhook waits for Redis before answering 503 (senders time out at 7-10 s). */
export const ENQUEUE_TIMEOUT_MS = 1500;

export interface Delivery<Q extends QueueName> {
  queue: Q;
  jobId: string;
  data: JobInput<Q>;
}

/**
 * Records deliveries in SQLite inside the caller's transaction, before the job reaches
 * Redis: Redis with AOF everysec may lose the last second of acknowledged jobs, and the
 * delivery sweeper re-enqueues any recorded delivery whose job is missing (same job id).
 * Returns how many of them had been recorded before (redeliveries).
 */
export async function recordDeliveries<Q extends QueueName>(tx: Tx, deliveries: Delivery<Q>[]): Promise<number> {
  let seen = 0;
  for (const d of deliveries) {
    const payload = JOBS[d.queue].schema.parse(d.data) as object;
    const existing = await tx.webhookDelivery.findUnique({ where: { id: d.jobId }, select: { id: true } });
    if (existing) seen += 1;
    await tx.webhookDelivery.upsert({
      where: { id: d.jobId },
      create: { id: d.jobId, queue: d.queue, jobName: JOBS[d.queue].name, payload },
      update: {},
    });
  }
  return seen;
}

/**
 * Enqueues under deterministic ids (a redelivery collapses onto the existing job), bounded
 * in time: the producer connection has no offline queue, so a Redis outage fails fast and
 * the sender is told to redeliver.
 */
export async function enqueueDeliveries<Q extends QueueName>(queues: Queues, deliveries: Delivery<Q>[]): Promise<void> {
  try {
    await withTimeout(
      Promise.all(deliveries.map((d) => enqueue(queues, d.queue, d.data, { jobId: d.jobId }))),
      ENQUEUE_TIMEOUT_MS,
      'enqueue',
    );
  } catch {
    throw unavailable('queue unavailable, retry later');
  }
}


/** Raises MailboxSync.highestNotifiedHistoryId to max(old, new), creating the row on first sight. */
export async function raiseHighestNotified(tx: Tx, mailbox: string, historyId: string): Promise<void> {
  const row = await tx.mailboxSync.findUnique({ where: { mailbox }, select: { highestNotifiedHistoryId: true } });
  if (!row) {
    await tx.mailboxSync.create({ data: { mailbox, highestNotifiedHistoryId: historyId } });
    return;
  }
  const next = maxHistoryId(row.highestNotifiedHistoryId, historyId);
  if (next !== row.highestNotifiedHistoryId) await tx.mailboxSync.update({ where: { mailbox }, data: { highestNotifiedHistoryId: next } });
}
