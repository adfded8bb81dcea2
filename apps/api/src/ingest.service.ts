import { createGroupCommit, type BatchWriter, type Db, type GroupCommit, type Tx } from '@parley/db';
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

/** What one webhook writes: its deliveries and, for a Gmail notification, the mailbox's newest history id. */
export interface IngestWrite {
  deliveries: Delivery<QueueName>[];
  highestNotified?: { mailbox: string; historyId: string };
}

/**
 * Writes the webhooks of one group commit in one transaction, before their jobs reach Redis:
 * Redis with AOF everysec may lose the last second of acknowledged jobs, and the delivery
 * sweeper re-enqueues any recorded delivery whose job is missing (same job id). One read of
 * the known ids and one insert of the new rows for the whole batch, then each mailbox's
 * highest notified history id raised once to the batch's maximum. Answers, per webhook, how
 * many of its deliveries had been recorded before (redeliveries; a delivery repeated within
 * the batch counts as one too). The transaction holds the write lock (withTx), so the read
 * then the insert cannot race another writer.
 */
export const writeIngestBatch: BatchWriter<IngestWrite, number> = async (tx, writes) => {
  // Validated before any write: a bad payload fails here, not half way through the rows.
  const rows = writes.map((w) => w.deliveries.map((d) => ({ id: d.jobId, queue: d.queue, jobName: JOBS[d.queue].name, payload: JOBS[d.queue].schema.parse(d.data) as object })));
  const ids = [...new Set(rows.flat().map((r) => r.id))];
  const known = new Set((await tx.webhookDelivery.findMany({ where: { id: { in: ids } }, select: { id: true } })).map((r) => r.id));
  const fresh: (typeof rows)[number] = [];
  const seen = rows.map((forWebhook) => {
    let count = 0;
    for (const row of forWebhook) {
      if (known.has(row.id)) {
        count += 1;
        continue;
      }
      known.add(row.id);
      fresh.push(row);
    }
    return count;
  });
  if (fresh.length > 0) await tx.webhookDelivery.createMany({ data: fresh });

  const highest = new Map<string, string>();
  for (const { highestNotified: h } of writes) if (h) highest.set(h.mailbox, maxHistoryId(highest.get(h.mailbox) ?? null, h.historyId));
  for (const [mailbox, historyId] of highest) await raiseHighestNotified(tx, mailbox, historyId);
  return seen;
};

/** The ingress's group commit: one per API process, shared by the webhook routes. */
export type IngestWrites = GroupCommit<IngestWrite, number>;

export function createIngestWrites(db: Db): IngestWrites {
  return createGroupCommit(db, writeIngestBatch);
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
