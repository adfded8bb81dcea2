import { isHistoryId } from '@parley/domain';
import { z } from 'zod';

/**
 * Queue and job names are stored data (they are Redis keys and job fields): renaming one
 * needs a migration plan. Payload schemas only grow, and new fields are optional, so jobs
 * queued by an older deploy still parse after a newer one starts.
 */
export const QUEUES = {
  gmailNotifications: 'gmail-notifications',
  campaignTasks: 'campaign-tasks',
  negotiationSteps: 'negotiation-steps',
  outboundEmail: 'outbound-email',
  alerts: 'alerts',
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const QUEUE_NAMES = Object.values(QUEUES) as QueueName[];

/**
 * A Gmail history id at a boundary (Pub/Sub push, Gmail API answers, job payloads): a decimal
 * string of up to 20 digits, or a small JSON number; always a string after parsing.
 */
export const historyIdSchema = z
  .union([z.string().refine(isHistoryId, 'a Gmail history id is a decimal string of up to 20 digits'), z.number().int().nonnegative()])
  .transform((v) => String(v));
const historyId = historyIdSchema;

export const mailboxSyncSchema = z.object({
  mailbox: z.string().min(3),
  /** The historyId Pub/Sub announced (a decimal string; Gmail's ids are 64-bit). */
  historyId,
  pubsubMessageId: z.string().min(1),
  publishTime: z.string().optional(),
  /** Added later (optional, so older jobs parse): one history pass even with nothing notified. */
  force: z.boolean().optional(),
});

export const campaignIngestSchema = z.object({
  webhookId: z.string().min(1),
  taskId: z.string().min(1),
  event: z.string().min(1),
  historyItemId: z.string().min(1),
});

export const negotiationStepSchema = z.object({
  negotiationId: z.string().min(1),
  kind: z.enum(['open', 'reply', 'follow_up']),
  /** The inbound Gmail message that caused this step (kind = reply). */
  gmailMessageId: z.string().min(1).optional(),
});

export const sendEmailSchema = z.object({
  outboxId: z.string().min(1),
});

export const alertSchema = z.object({
  alertId: z.string().min(1),
  // Grows only. `digest` (added with Slack delivery): the alerts of one storm-control window
  // beyond SLACK_ALERTS_PER_MINUTE, posted as one message after that window.
  kind: z.enum(['dead_letter', 'escalation', 'campaign_problem', 'takeover_reply', 'info', 'digest']),
  title: z.string().min(1),
  text: z.string(),
  negotiationId: z.string().optional(),
  deadLetterId: z.string().optional(),
  campaignId: z.string().optional(),
  /** Added with Slack delivery (optional, so older jobs parse): the storm-control window a digest covers. */
  window: z.number().int().nonnegative().optional(),
  /** Added with Slack delivery: that window's length in ms (so a digest job is read as it was written). */
  windowMs: z.number().int().positive().optional(),
});

export const maintenanceSchema = z.object({
  // Grows only: a task name added later is never removed while jobs may carry it.
  task: z.enum(['gmail-watch-renewal', 'stuck-sweep', 'follow-ups', 'delivery-sweep', 'mailbox-sync']),
});

/** One job name per queue; the handler map below is keyed by queue. */
export const JOBS = {
  'gmail-notifications': { name: 'mailbox-sync', schema: mailboxSyncSchema },
  'campaign-tasks': { name: 'campaign-ingest', schema: campaignIngestSchema },
  'negotiation-steps': { name: 'negotiation-step', schema: negotiationStepSchema },
  'outbound-email': { name: 'send-email', schema: sendEmailSchema },
  alerts: { name: 'alert', schema: alertSchema },
  maintenance: { name: 'maintenance', schema: maintenanceSchema },
} as const satisfies Record<QueueName, { name: string; schema: z.ZodType }>;

/** What a producer passes in (before transforms). */
export type JobInput<Q extends QueueName> = z.input<(typeof JOBS)[Q]['schema']>;
/** What a consumer receives after parsing. */
export type JobData<Q extends QueueName> = z.output<(typeof JOBS)[Q]['schema']>;

/**
 * Deterministic job ids: a redelivered webhook or a repeated enqueue collapses onto the
 * existing job. BullMQ forbids ':' in custom ids, so parts are joined with '.'.
 */
export const jobIds = {
  mailboxSync: (pubsubMessageId: string) => `pubsub.${safe(pubsubMessageId)}`,
  campaignIngest: (d: { webhookId: string; taskId: string; historyItemId: string }) =>
    `clickup.${safe(d.webhookId)}.${safe(d.taskId)}.${safe(d.historyItemId)}`,
  negotiationStep: (negotiationId: string, gmailMessageId?: string) => `step.${safe(negotiationId)}.${safe(gmailMessageId ?? 'open')}`,
  followUp: (negotiationId: string, n: number) => `step.${safe(negotiationId)}.followup-${n}`,
  sendEmail: (outboxId: string) => `send.${safe(outboxId)}`,
  alert: (alertId: string) => `alert.${safe(alertId)}`,
} as const;

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9_@.+=-]/g, '_');
}

/** Parses a job payload on the consumer side; a malformed payload is a permanent error. */
export function parseJob<Q extends QueueName>(queue: Q, data: unknown): JobData<Q> {
  return JOBS[queue].schema.parse(data) as JobData<Q>;
}
