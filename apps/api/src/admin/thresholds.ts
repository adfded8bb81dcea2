import type { QueueName } from '@parley/queue';

const MIN = 60_000;

/**
 * How long a job may sit in a state before the dashboard lists it. `null`: never listed for
 * that state. Waiting and delayed ages count from when the job was added (a job that keeps
 * retrying ages too); active age counts from the start of the current attempt.
 */
export interface QueueThresholds {
  waitingMs: number | null;
  delayedMs: number | null;
  activeMs: number | null;
}

/**
 * Defaults, chosen from what each queue normally does:
 * - gmail-notifications: a sync is a few Gmail calls; notifications arrive once a second at most.
 * - campaign-tasks: one ClickUp call and one Sheets read; ClickUp 429s can delay it.
 * - negotiation-steps: a 429 pauses the whole queue (30 s by default, up to 20 times in a row),
 *   and 529 backoff runs 17-35 minutes before the outage escalation takes over; two LLM calls
 *   with a re-ask, 60 s timeout each, bound an attempt.
 * - outbound-email: one Gmail lookup and one send.
 * - alerts: Slack honours Retry-After; nothing else waits.
 * - maintenance: its scheduled jobs wait, delayed, until their next run by design, so only a
 *   job that no worker takes is listed.
 */
export const DEFAULT_QUEUE_THRESHOLDS: Readonly<Record<QueueName, QueueThresholds>> = {
  'gmail-notifications': { waitingMs: 2 * MIN, delayedMs: 15 * MIN, activeMs: 5 * MIN },
  'campaign-tasks': { waitingMs: 5 * MIN, delayedMs: 30 * MIN, activeMs: 10 * MIN },
  'negotiation-steps': { waitingMs: 15 * MIN, delayedMs: 45 * MIN, activeMs: 5 * MIN },
  'outbound-email': { waitingMs: 5 * MIN, delayedMs: 30 * MIN, activeMs: 5 * MIN },
  alerts: { waitingMs: 10 * MIN, delayedMs: 30 * MIN, activeMs: 5 * MIN },
  maintenance: { waitingMs: 10 * MIN, delayedMs: null, activeMs: 15 * MIN },
};

export interface StuckThresholds {
  queues: Record<QueueName, QueueThresholds>;
  /** An inbound reply unanswered this long ("awaiting our reply"). */
  replyOverdueMs: number;
  /** FOLLOW_UP_AFTER: silence from the influencer past this is listed. */
  followUpAfterMs: number;
  /** An outbox row still `pending` this long: its send job is missing or failing. */
  outboxPendingMs: number;
  /** A negotiation still `new` this long: its opening step is missing or failing. */
  notOpenedMs: number;
}

export const DEFAULT_REPLY_OVERDUE_MS = 30 * MIN;
export const DEFAULT_OUTBOX_PENDING_MS = 15 * MIN;
export const DEFAULT_NOT_OPENED_MS = 60 * MIN;

export type ThresholdOverrides = Partial<Omit<StuckThresholds, 'queues' | 'followUpAfterMs'>> & {
  followUpAfterMs: number;
  queues?: Partial<Record<QueueName, Partial<QueueThresholds>>>;
};

export function stuckThresholds(overrides: ThresholdOverrides): StuckThresholds {
  const queues = Object.fromEntries(
    Object.entries(DEFAULT_QUEUE_THRESHOLDS).map(([name, t]) => [name, { ...t, ...overrides.queues?.[name as QueueName] }]),
  ) as Record<QueueName, QueueThresholds>;
  return {
    queues,
    replyOverdueMs: overrides.replyOverdueMs ?? DEFAULT_REPLY_OVERDUE_MS,
    followUpAfterMs: overrides.followUpAfterMs,
    outboxPendingMs: overrides.outboxPendingMs ?? DEFAULT_OUTBOX_PENDING_MS,
    notOpenedMs: overrides.notOpenedMs ?? DEFAULT_NOT_OPENED_MS,
  };
}
