import { z } from 'zod';
import type { QueueName } from '@parley/queue';

/** Why a row is on the stuck page. Stable words: they are in the JSON variant too. */
export const PROBLEM_KINDS = [
  'job_waiting',
  'job_delayed',
  'job_active',
  'job_stalled',
  'job_failed',
  'dead_letter',
  'reply_overdue',
  'escalated_unclaimed',
  'follow_up_overdue',
  'email_not_sent',
  'not_opened',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export const PROBLEM_LABELS: Record<ProblemKind, string> = {
  job_waiting: 'job waiting',
  job_delayed: 'job retrying',
  job_active: 'job running long',
  job_stalled: 'job stalled',
  job_failed: 'job failed',
  dead_letter: 'dead letter',
  reply_overdue: 'awaiting our reply',
  escalated_unclaimed: 'escalated, unclaimed',
  follow_up_overdue: 'follow-up overdue',
  email_not_sent: 'email not sent',
  not_opened: 'not opened',
};

export interface Problem {
  kind: ProblemKind;
  /** Operator-facing text: ids, counts, error classes; never an address or an email body. */
  reason: string;
  /** What the age counts from. */
  since: Date;
  ageMs: number;
  negotiationId?: string;
  queue?: QueueName;
  jobId?: string;
  /** Set on dead letters: the row can be replayed. */
  deadLetterId?: string;
}

/** What the pages show about the negotiation a problem belongs to. */
export interface NegotiationLabel {
  id: string;
  influencerName: string;
  campaignName: string;
  state: string;
}

// Payloads are typed `unknown` until checked: a job may come from an older deploy or a bad producer.
const negotiationRef = z.object({ negotiationId: z.string().min(1) });
const outboxRef = z.object({ outboxId: z.string().min(1) });

export type JobRef = { negotiationId: string } | { outboxId: string } | undefined;

/** Which negotiation a job (or a dead letter's payload) is about, as far as its queue says. */
export function jobRef(queue: string, data: unknown): JobRef {
  if (queue === 'negotiation-steps' || queue === 'alerts') {
    const parsed = negotiationRef.safeParse(data);
    return parsed.success ? { negotiationId: parsed.data.negotiationId } : undefined;
  }
  if (queue === 'outbound-email') {
    const parsed = outboxRef.safeParse(data);
    return parsed.success ? { outboxId: parsed.data.outboxId } : undefined;
  }
  return undefined;
}
