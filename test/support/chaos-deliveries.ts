import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Db } from '@parley/db';
import { compareHistoryIds } from '@parley/domain';
import { jobIds, type Queues } from '@parley/queue';
import { buildClickUpWebhookPayload, postSignedWebhook, type PubSubPusher } from '@parley/sandbox';
import type { Rng } from './chaos-run';

export type DeliveryQueue = 'gmail-notifications' | 'campaign-tasks';

/** One distinct webhook delivery (a Pub/Sub message or a ClickUp event) and the job it must become. */
export interface PlannedDelivery {
  /** Unique per distinct delivery; a duplicate carries the same key and the same bytes. */
  key: string;
  source: 'gmail' | 'clickup';
  body: string;
  queue: DeliveryQueue;
  /** The job (and WebhookDelivery row) id the API must create, or null for an event it acknowledges and ignores. */
  jobId: string | null;
  /** The field of the job's data that identifies this delivery, and its value. */
  identity: { field: 'pubsubMessageId' | 'historyItemId'; value: string };
  /** Gmail only: the announced historyId (decimal string) and the mailbox it is of. */
  historyId?: string;
  mailbox?: string;
}

export interface DeliveryPlan {
  distinct: PlannedDelivery[];
  /** Every delivery in sending order: the distinct ones plus the duplicates, shuffled. */
  sequence: PlannedDelivery[];
  duplicates: number;
}

export interface PlanOptions {
  /** Deliveries in all, duplicates included. */
  total: number;
  /** Share of `total` that repeats an earlier-planned delivery (its exact bytes). */
  duplicateShare: number;
  mailbox: string;
  webhookId: string;
  /** ClickUp task ids the events name. */
  taskIds: readonly string[];
  /** Share of ClickUp events that are not campaign triggers (acknowledged, no job). @defaultValue 0.05 */
  ignoredShare?: number;
  /** Share of ClickUp trigger events sent without history items (the body's hash names the job). @defaultValue 0.1 */
  noHistoryShare?: number;
}

const digits = (rng: Rng, n: number) => `${rng.int(1, 9)}${Array.from({ length: n - 1 }, () => rng.int(0, 9)).join('')}`;

/**
 * Half Pub/Sub pushes of Gmail notifications (unique message ids, random historyIds), half
 * ClickUp task events (unique history item ids; a few without history items, a few events the
 * ingress ignores); then `duplicateShare` of the total re-sends of planned deliveries, and the
 * whole sequence shuffled so duplicates can arrive before their original and history ids
 * arrive out of order.
 */
export function planDeliveries(rng: Rng, pusher: PubSubPusher, options: PlanOptions): DeliveryPlan {
  const duplicates = Math.round(options.total * options.duplicateShare);
  const distinctCount = options.total - duplicates;
  const ignoredShare = options.ignoredShare ?? 0.05;
  const noHistoryShare = options.noHistoryShare ?? 0.1;
  const distinct: PlannedDelivery[] = [];
  const usedIds = new Set<string>();
  const unique = (make: () => string) => {
    for (;;) {
      const id = make();
      if (!usedIds.has(id)) {
        usedIds.add(id);
        return id;
      }
    }
  };

  for (let i = 0; i < distinctCount; i += 1) {
    if (rng.chance(0.5)) {
      const messageId = unique(() => digits(rng, 16));
      const historyId = digits(rng, rng.int(4, 12));
      const envelope = pusher.envelope({ emailAddress: options.mailbox, historyId, messageId });
      distinct.push({
        key: `gmail:${messageId}`,
        source: 'gmail',
        body: JSON.stringify(envelope),
        queue: 'gmail-notifications',
        jobId: jobIds.mailboxSync(messageId),
        identity: { field: 'pubsubMessageId', value: messageId },
        historyId,
        mailbox: options.mailbox,
      });
      continue;
    }
    const ignored = rng.chance(ignoredShare);
    const event = ignored ? rng.pick(['taskDeleted', 'taskCommentPosted', 'taskMoved']) : rng.pick(['taskCreated', 'taskStatusUpdated', 'taskUpdated']);
    const historyItemId = unique(() => digits(rng, 19));
    const withoutHistory = !ignored && rng.chance(noHistoryShare);
    // Without history items the body is all that tells two events apart: such events name a
    // task of their own (two identical bodies are one event, redelivered).
    const taskId = withoutHistory ? `task-${historyItemId}` : rng.pick(options.taskIds);
    const payload = buildClickUpWebhookPayload({ event, taskId, webhookId: options.webhookId, historyItemId }, { before: 'to do', after: 'ready' });
    if (withoutHistory) delete payload.history_items;
    const body = JSON.stringify(payload);
    // Without history items the ingress names the job after the SHA-256 of the raw body.
    const itemId = withoutHistory ? createHash('sha256').update(body).digest('hex') : historyItemId;
    distinct.push({
      key: `clickup:${historyItemId}`,
      source: 'clickup',
      body,
      queue: 'campaign-tasks',
      jobId: ignored ? null : jobIds.campaignIngest({ webhookId: options.webhookId, taskId, historyItemId: itemId }),
      identity: { field: 'historyItemId', value: itemId },
    });
  }
  const ids = distinct.flatMap((d) => (d.jobId ? [d.jobId] : []));
  if (new Set(ids).size !== ids.length) throw new Error('the plan names one job for two distinct deliveries');
  const repeats = Array.from({ length: duplicates }, () => rng.pick(distinct));
  return { distinct, sequence: rng.shuffle([...distinct, ...repeats]), duplicates };
}

/** Statuses the senders treat as an acknowledgement (Pub/Sub: 102/200/201/202/204; ClickUp: 2xx). */
export function acknowledged(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Sends one delivery once, signed as its sender signs it (a fresh OIDC token per Pub/Sub
 * delivery, hex HMAC-SHA256 of the raw body for ClickUp). Returns the status, 0 for no answer.
 */
export function createDeliverySender(options: { apiUrl: string; pusher: PubSubPusher; clickupSecret: string }): (d: PlannedDelivery) => Promise<number> {
  const clickupUrl = `${options.apiUrl}/webhooks/clickup`;
  return async (d) => {
    if (d.source === 'clickup') return (await postSignedWebhook(clickupUrl, d.body, options.clickupSecret, { timeoutMs: 10_000 }))[0] ?? 0;
    try {
      return (await options.pusher.pushRaw(d.body, { authorization: options.pusher.authorization() })).status;
    } catch {
      return 0;
    }
  };
}

export interface JobAudit {
  expectedJobs: number;
  /** Deliveries whose WebhookDelivery row is missing. */
  missingRows: string[];
  /** Deliveries whose job Redis does not have (and whose work is not known done, below). */
  missingJobs: string[];
  /**
   * Gmail notifications without a job whose history the mailbox's cursor has passed: the API
   * left them to the sync that was running when they arrived (gmail-webhook.route.ts), and
   * that sync read their history.
   */
  coveredBySync: string[];
  /** Jobs whose data does not name the delivery. */
  wrongData: string[];
  /** Webhook jobs in the two ingress queues, all states, beyond the expected ones. */
  extraJobs: number;
  rows: number;
  jobsByQueue: Record<DeliveryQueue, number>;
}

/**
 * Checks every planned delivery against SQLite and Redis: its WebhookDelivery row, its job
 * (read straight from the job's hash, any state) naming it, and no other job in either queue.
 */
export async function auditJobs(db: Db, queues: Queues, redisUrl: string, deliveries: readonly PlannedDelivery[]): Promise<JobAudit> {
  const expected = deliveries.filter((d): d is PlannedDelivery & { jobId: string } => d.jobId !== null);
  const rowIds = new Set((await db.webhookDelivery.findMany({ select: { id: true } })).map((r) => r.id));
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  try {
    await redis.connect();
    const pipeline = redis.pipeline();
    for (const d of expected) pipeline.hget(queues[d.queue].toKey(d.jobId), 'data');
    const answers = (await pipeline.exec()) ?? [];
    const missingJobs: string[] = [];
    const coveredBySync: string[] = [];
    const wrongData: string[] = [];
    const cursors = new Map((await db.mailboxSync.findMany({ select: { mailbox: true, historyCursor: true } })).map((m) => [m.mailbox.toLowerCase(), m.historyCursor]));
    const synced = (d: PlannedDelivery) => {
      const cursor = d.source === 'gmail' && d.mailbox ? cursors.get(d.mailbox.toLowerCase()) : undefined;
      return cursor !== undefined && d.historyId !== undefined && compareHistoryIds(cursor, d.historyId) >= 0;
    };
    expected.forEach((d, i) => {
      const [error, raw] = answers[i] ?? [new Error('no answer'), null];
      if (error || typeof raw !== 'string') {
        if (synced(d)) coveredBySync.push(d.jobId);
        else missingJobs.push(d.jobId);
        return;
      }
      const data = JSON.parse(raw) as Record<string, unknown>;
      if (data[d.identity.field] !== d.identity.value) wrongData.push(d.jobId);
    });
    // Jobs the ingress made (ids `pubsub.*`, `clickup.*`), in any state; a worker's own jobs in
    // these queues (the periodic mailbox sync) are not deliveries.
    const jobsByQueue = { 'gmail-notifications': 0, 'campaign-tasks': 0 } as Record<DeliveryQueue, number>;
    for (const q of Object.keys(jobsByQueue) as DeliveryQueue[]) {
      const jobs = await queues[q].getJobs(['completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'waiting-children'], 0, -1);
      jobsByQueue[q] = jobs.filter((j) => /^(pubsub|clickup)\./.test(j.id ?? '')).length;
    }
    const total = jobsByQueue['gmail-notifications'] + jobsByQueue['campaign-tasks'];
    return {
      expectedJobs: expected.length,
      missingRows: expected.filter((d) => !rowIds.has(d.jobId)).map((d) => d.jobId),
      missingJobs,
      coveredBySync,
      wrongData,
      extraJobs: total - (expected.length - missingJobs.length - coveredBySync.length),
      rows: rowIds.size,
      jobsByQueue,
    };
  } finally {
    redis.disconnect();
  }
}
