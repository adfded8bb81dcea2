import { createGroupCommit, placeholder, sqlOf, valuesList, type BatchWriter, type Db, type GroupCommit, type Sql } from '@parley/db';
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

/** Rows per INSERT: five parameters each, well inside SQLite's and PostgreSQL's limits. */
export const INGEST_INSERT_ROWS = 500;

interface DeliveryRow {
  id: string;
  queue: string;
  jobName: string;
  payload: unknown;
}

/**
 * Inserts the rows whose id is not recorded yet and answers the ids it inserted: one
 * `INSERT ... ON CONFLICT DO NOTHING RETURNING` per INGEST_INSERT_ROWS rows instead of a read
 * of the known ids and a createMany, which cost most of the ingress's time in Prisma's query
 * machinery. The columns are the model's (prisma/schema.prisma); the JSON payload and the
 * date are bound as Prisma binds them, so Prisma reads the rows back as its own (tested on
 * both engines, the delivery sweep's range query included).
 */
async function insertNewDeliveries(tx: Sql, rows: DeliveryRow[], receivedAt: Date): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let start = 0; start < rows.length; start += INGEST_INSERT_ROWS) {
    const chunk = rows.slice(start, start + INGEST_INSERT_ROWS);
    const values = valuesList(tx.engine, chunk.length, ['', '', '', '::jsonb', '']);
    const params = chunk.flatMap((r) => [r.id, r.queue, r.jobName, JSON.stringify(r.payload), receivedAt]);
    const returned = await tx.query<{ id: unknown }>(
      `INSERT INTO "WebhookDelivery" ("id", "queue", "jobName", "payload", "receivedAt") VALUES ${values} ON CONFLICT ("id") DO NOTHING RETURNING "id"`,
      ...params,
    );
    for (const row of returned) inserted.add(String(row.id));
  }
  return inserted;
}

/**
 * Writes the webhooks of one group commit in one transaction, before their jobs reach Redis:
 * Redis with AOF everysec may lose the last second of acknowledged jobs, and the delivery
 * sweeper re-enqueues any recorded delivery whose job is missing (same job id). One insert of
 * the batch's rows that skips the ids recorded before, then each mailbox's highest notified
 * history id raised once to the batch's maximum. Answers, per webhook, how many of its
 * deliveries had been recorded before (redeliveries; a delivery repeated within the batch
 * counts as one too). The transaction holds the write lock (SqlDb.transaction), and the insert
 * skips recorded ids by itself, so no other writer can make a row count twice.
 *
 * Raw SQL throughout (sqlOf): the API's hot path never loads Prisma's query compiler.
 */
export function ingestBatchWriter(now: () => Date = () => new Date()): BatchWriter<IngestWrite, number, Sql> {
  return async (tx, writes) => {
    // Validated before any write: a bad payload fails here, not half way through the rows.
    const rows = writes.map((w) => w.deliveries.map((d): DeliveryRow => ({ id: d.jobId, queue: d.queue, jobName: JOBS[d.queue].name, payload: JOBS[d.queue].schema.parse(d.data) })));
    const firstOfEach = new Map<string, DeliveryRow>();
    for (const row of rows.flat()) if (!firstOfEach.has(row.id)) firstOfEach.set(row.id, row);
    const at = now();
    const inserted = firstOfEach.size > 0 ? await insertNewDeliveries(tx, [...firstOfEach.values()], at) : new Set<string>();
    const counted = new Set<string>();
    const seen = rows.map((forWebhook) => {
      let count = 0;
      for (const row of forWebhook) {
        // Recorded before this batch, or by an earlier webhook of it.
        if (!inserted.has(row.id) || counted.has(row.id)) count += 1;
        else counted.add(row.id);
      }
      return count;
    });

    const highest = new Map<string, string>();
    for (const { highestNotified: h } of writes) if (h) highest.set(h.mailbox, maxHistoryId(highest.get(h.mailbox) ?? null, h.historyId));
    for (const [mailbox, historyId] of highest) await raiseHighestNotified(tx, mailbox, historyId, at);
    return seen;
  };
}

/** The ingress's group commit: one per API process, shared by the webhook routes. */
export type IngestWrites = GroupCommit<IngestWrite, number>;

export function createIngestWrites(db: Db): IngestWrites {
  const sql = sqlOf(db);
  return createGroupCommit((fn) => sql.transaction(fn), ingestBatchWriter());
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

/**
 * Raises MailboxSync.highestNotifiedHistoryId to max(old, new), creating the row on first sight;
 * `updatedAt` set as Prisma's @updatedAt would set it.
 */
export async function raiseHighestNotified(tx: Sql, mailbox: string, historyId: string, now: Date): Promise<void> {
  const $ = (n: number) => placeholder(tx.engine, n);
  const [row] = await tx.query<{ highestNotifiedHistoryId: unknown }>(`SELECT "highestNotifiedHistoryId" FROM "MailboxSync" WHERE "mailbox" = ${$(1)}`, mailbox);
  if (!row) {
    await tx.execute(`INSERT INTO "MailboxSync" ("mailbox", "highestNotifiedHistoryId", "updatedAt") VALUES ${valuesList(tx.engine, 1, ['', '', ''])}`, mailbox, historyId, now);
    return;
  }
  const current = typeof row.highestNotifiedHistoryId === 'string' ? row.highestNotifiedHistoryId : null;
  const next = maxHistoryId(current, historyId);
  if (next !== current) await tx.execute(`UPDATE "MailboxSync" SET "highestNotifiedHistoryId" = ${$(1)}, "updatedAt" = ${$(2)} WHERE "mailbox" = ${$(3)}`, next, now, mailbox);
}
