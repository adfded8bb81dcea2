import type { Job } from 'bullmq';
import type { Db } from '@parley/db';
import { emailDomain, redact, redactString } from '@parley/logging';
import { jobIds, QUEUE_NAMES, replayJobId, type QueueName, type Queues } from '@parley/queue';
import { auditTrail, escalationAlertId } from '@parley/takeover';
import { withTimeout } from '../http-error';
import { jobRef } from './problem.types';

export type TimelineEventType = 'transition' | 'inbound' | 'outbound' | 'audit' | 'dead_letter';

/** One line of the timeline: what happened, never what was written (no bodies, no addresses). */
export interface TimelineEvent {
  at: Date;
  type: TimelineEventType;
  summary: string;
  /** Redacted JSON details (transitions, audit entries). */
  details?: unknown;
  deadLetterId?: string;
  replayable?: boolean;
}

export interface TimelineJob {
  queue: QueueName;
  jobId: string;
  name: string;
  state: string;
  attemptsMade: number;
  addedAt: Date;
  processedAt?: Date;
  finishedAt?: Date;
  failedReason?: string;
}

export interface Timeline {
  negotiation: {
    id: string;
    influencerName: string;
    emailDomain: string;
    platform: string;
    campaignName: string;
    currency: string;
    state: string;
    round: number;
    currentOfferMinor: number | null;
    lastAskMinor: number | null;
    /** The currency the last ask was made in (an ask in another currency than the campaign's is escalated, not converted). */
    lastAskCurrency: string;
    agreedRateMinor: number | null;
    followUps: number;
    gmailThreadId: string | null;
    claimedBy: string | null;
    escalationReason: string | null;
    lastOutboundAt: Date | null;
    lastInboundAt: Date | null;
    createdAt: Date;
  };
  events: TimelineEvent[];
  jobs: TimelineJob[];
  /** Set when Redis could not be read: the jobs list is then empty, not "no jobs". */
  jobsUnavailable?: boolean;
}

/**
 * The currency of the negotiation's last ask. Asked rates are stored in the minor units of the
 * currency they were named in; one named in another currency than the campaign's escalates
 * with the reason "reply names EUR, …", so that reason (on the step that read the ask) or an
 * `askedCurrency` in the step's details says which; otherwise it is the campaign's.
 */
export function askCurrency(n: { currency: string; escalationReason: string | null }, transitions: { details: unknown }[]): string {
  const asked = [...transitions].reverse().find((t) => typeof (t.details as { askedMinor?: unknown } | null)?.askedMinor === 'number');
  const details = (asked?.details ?? {}) as { askedCurrency?: unknown; decision?: unknown };
  if (typeof details.askedCurrency === 'string' && /^[A-Z]{3}$/.test(details.askedCurrency)) return details.askedCurrency;
  const named = /^reply names ([A-Z]{3}),/.exec(n.escalationReason ?? '');
  if (asked && details.decision === 'escalate' && named?.[1]) return named[1];
  return n.currency;
}

export class TimelineNotFound extends Error {
  override name = 'TimelineNotFound';
}

/** The ids the engine gives this negotiation's jobs (all deterministic), plus replays. */
function candidateJobIds(input: {
  id: string;
  followUps: number;
  inbound: { gmailMessageId: string }[];
  outbox: { id: string }[];
  escalations: { id: string }[];
  deadLetters: { id: string; queue: string; jobId: string; replayJobId: string | null }[];
}): [QueueName, string][] {
  const out: [QueueName, string][] = [['negotiation-steps', jobIds.negotiationStep(input.id)]];
  for (const m of input.inbound) {
    out.push(['negotiation-steps', jobIds.negotiationStep(input.id, m.gmailMessageId)], ['alerts', jobIds.alert(`fwd-${m.gmailMessageId}`)]);
  }
  for (let n = 1; n <= input.followUps + 1; n += 1) out.push(['negotiation-steps', jobIds.followUp(input.id, n)]);
  for (const o of input.outbox) out.push(['outbound-email', jobIds.sendEmail(o.id)]);
  for (const t of input.escalations) out.push(['alerts', jobIds.alert(escalationAlertId(t.id))]);
  for (const d of input.deadLetters) {
    const queue = QUEUE_NAMES.find((q) => q === d.queue);
    if (!queue) continue;
    out.push([queue, d.jobId], [queue, d.replayJobId ?? replayJobId(d)], ['alerts', jobIds.alert(`dl-${d.id}`)]);
  }
  const seen = new Set<string>();
  return out.filter(([q, id]) => !seen.has(`${q}/${id}`) && seen.add(`${q}/${id}`));
}

function toTimelineJob(queue: QueueName, job: Job, state: string): TimelineJob {
  const entry: TimelineJob = { queue, jobId: job.id ?? '', name: job.name, state, attemptsMade: job.attemptsMade, addedAt: new Date(job.timestamp) };
  if (job.processedOn) entry.processedAt = new Date(job.processedOn);
  if (job.finishedOn) entry.finishedAt = new Date(job.finishedOn);
  if (job.failedReason) entry.failedReason = redactString(job.failedReason).slice(0, 300);
  return entry;
}

const UNFINISHED = ['waiting', 'prioritized', 'delayed', 'active', 'failed'] as const;
const UNFINISHED_SCAN = 500;
const DEAD_LETTER_SCAN = 1000;

/**
 * The jobs of a negotiation: the ids the engine derives, looked up one by one (completed ones
 * included), plus any unfinished job whose payload names it (added by hand in bull-board, or
 * under an id the engine would not derive), so every job the stuck page lists shows up here.
 */
async function readJobs(queues: Queues, candidates: [QueueName, string][], owns: (queue: QueueName, data: unknown) => boolean): Promise<TimelineJob[]> {
  const found = new Map<string, TimelineJob>();
  await Promise.all(
    candidates.map(async ([queue, id]) => {
      const job = await queues[queue].getJob(id);
      if (job) found.set(`${queue}/${id}`, toTimelineJob(queue, job, await job.getState()));
    }),
  );
  await Promise.all(
    (['negotiation-steps', 'outbound-email', 'alerts'] as const).map(async (queue) => {
      for (const state of UNFINISHED) {
        const jobs = await queues[queue].getJobs([state], 0, UNFINISHED_SCAN - 1, true);
        for (const job of jobs) {
          const key = `${queue}/${job.id ?? ''}`;
          if (!found.has(key) && owns(queue, job.data)) found.set(key, toTimelineJob(queue, job, state === 'prioritized' ? 'waiting' : state));
        }
      }
    }),
  );
  return [...found.values()].sort((a, b) => a.addedAt.getTime() - b.addedAt.getTime());
}

/** A negotiation's history by id (or Gmail thread id), merged in time order, and its jobs in Redis. */
export async function negotiationTimeline(deps: { db: Db; queues: Queues }, ref: string): Promise<Timeline> {
  // Looked up by id or thread id only: an address must not travel in a URL (it would reach logs).
  if (ref.includes('@')) throw new TimelineNotFound('not found');
  const trail = await auditTrail(deps.db, ref).catch(() => {
    throw new TimelineNotFound('not found');
  });
  const n = trail.negotiation;
  const [campaign, inbound, outbox] = await Promise.all([
    deps.db.campaign.findUnique({ where: { id: n.campaignId }, select: { name: true } }),
    deps.db.inboundMessage.findMany({ where: { negotiationId: n.id }, orderBy: { receivedAt: 'asc' }, select: { gmailMessageId: true, fromDomain: true, subject: true, receivedAt: true, processedAt: true } }),
    deps.db.outboxEmail.findMany({ where: { negotiationId: n.id }, orderBy: { createdAt: 'asc' }, select: { id: true, kind: true, toAddress: true, subject: true, status: true, createdAt: true, sentAt: true } }),
  ]);
  // Dead letters carry the payload, not the negotiation (and SQLite cannot filter inside JSON):
  // every row under the job ids the engine derives for it, plus the newest rows of the queues
  // that name negotiations, then the payload decides.
  const [derived, recent] = await Promise.all([
    deps.db.deadLetter.findMany({
      where: { OR: [{ jobId: { startsWith: `step.${n.id}.` } }, { jobId: { startsWith: `send.${n.id}.` } }, { jobId: { in: outbox.map((o) => jobIds.sendEmail(o.id)) } }] },
    }),
    deps.db.deadLetter.findMany({ where: { queue: { in: ['negotiation-steps', 'outbound-email', 'alerts'] } }, orderBy: { failedAt: 'desc' }, take: DEAD_LETTER_SCAN }),
  ]);
  const candidates = [...new Map([...derived, ...recent].map((d) => [d.id, d])).values()];
  const outboxIds = new Set(outbox.map((o) => o.id));
  const owns = (queue: string, data: unknown) => {
    const r = jobRef(queue, data);
    return r !== undefined && ('negotiationId' in r ? r.negotiationId === n.id : outboxIds.has(r.outboxId));
  };
  const deadLetters = candidates.filter((d) => owns(d.queue, d.payload));

  const events: TimelineEvent[] = [
    ...trail.transitions.map((t) => ({ at: t.at, type: 'transition' as const, summary: `${t.fromState} → ${t.event} → ${t.toState}`, details: t.details === null ? undefined : redact(t.details) })),
    ...inbound.map((m) => ({
      at: m.receivedAt,
      type: 'inbound' as const,
      summary: `reply from ${m.fromDomain ?? 'unknown domain'}: "${redactString(m.subject ?? '(no subject)')}" (${m.processedAt ? 'answered/handled' : 'not yet answered'})`,
    })),
    ...outbox.map((o) => ({
      at: o.sentAt ?? o.createdAt,
      type: 'outbound' as const,
      summary: `${o.kind} email to ${emailDomain(o.toAddress)}: "${redactString(o.subject)}" (${o.status})`,
    })),
    ...trail.audits.map((a) => ({ at: a.at, type: 'audit' as const, summary: `${a.actor}: ${a.action}`, details: a.details === null ? undefined : redact(a.details) })),
    ...deadLetters.map((d) => ({
      at: d.failedAt,
      type: 'dead_letter' as const,
      summary: `${d.queue} job ${d.jobId} failed for good after ${d.attempts} attempt(s): ${d.errorClass}: ${redactString(d.errorMessage).slice(0, 200)}${d.replayedAt ? ` (replayed as ${d.replayJobId ?? '?'})` : ''}${d.discardedAt ? ` (discarded by ${d.resolvedBy ?? '?'})` : ''}`,
      deadLetterId: d.id,
      replayable: d.replayedAt === null && d.discardedAt === null,
    })),
  ];
  events.sort((a, b) => a.at.getTime() - b.at.getTime());

  const escalations = trail.transitions.filter((t) => t.toState === 'escalated');
  let jobs: TimelineJob[] = [];
  let jobsUnavailable = false;
  try {
    jobs = await withTimeout(readJobs(deps.queues, candidateJobIds({ id: n.id, followUps: n.followUps, inbound, outbox, escalations, deadLetters }), owns), 3000, 'reading jobs');
  } catch {
    jobsUnavailable = true;
  }

  return {
    negotiation: {
      id: n.id,
      influencerName: n.influencerName,
      emailDomain: emailDomain(n.influencerEmail),
      platform: n.platform,
      campaignName: campaign?.name ?? n.campaignId,
      currency: n.currency,
      state: n.state,
      round: n.round,
      currentOfferMinor: n.currentOfferMinor,
      lastAskMinor: n.lastAskMinor,
      lastAskCurrency: askCurrency(n, trail.transitions),
      agreedRateMinor: n.agreedRateMinor,
      followUps: n.followUps,
      gmailThreadId: n.gmailThreadId,
      claimedBy: n.claimedBy,
      escalationReason: n.escalationReason ? redactString(n.escalationReason) : null,
      lastOutboundAt: n.lastOutboundAt,
      lastInboundAt: n.lastInboundAt,
      createdAt: n.createdAt,
    },
    events,
    jobs,
    ...(jobsUnavailable ? { jobsUnavailable } : {}),
  };
}
