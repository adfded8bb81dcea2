import type { Db } from '@parley/db';
import { FOLLOW_UP_STATES } from '@parley/domain';
import { redactString } from '@parley/logging';
import { QUEUE_NAMES, type QueueName } from '@parley/queue';
import { formatAge } from './html';
import { jobRef, type JobRef, type Problem } from './problem.types';
import type { StuckThresholds } from './thresholds';

/** Rows read per kind: a page that lists more than this has a bigger problem than the page. */
export const ROW_LIMIT = 500;

export type RecordProblem = Problem & { ref?: JobRef };

export interface RecordDeps {
  db: Db;
  now: () => Date;
  thresholds: StuckThresholds;
}

const asQueue = (name: string): QueueName | undefined => QUEUE_NAMES.find((q) => q === name);

function aged(kind: Problem['kind'], since: Date, now: Date, reason: string, extra: Partial<RecordProblem> = {}): RecordProblem {
  return { kind, reason, since, ageMs: now.getTime() - since.getTime(), ...extra };
}

/** Dead letters not yet replayed: each one can be replayed from the page. */
async function deadLetters(deps: RecordDeps): Promise<RecordProblem[]> {
  const now = deps.now();
  const rows = await deps.db.deadLetter.findMany({ where: { replayedAt: null, discardedAt: null }, orderBy: { failedAt: 'asc' }, take: ROW_LIMIT });
  return rows.map((row) => {
    const ref = jobRef(row.queue, row.payload);
    const queue = asQueue(row.queue);
    return aged('dead_letter', row.failedAt, now, `${row.queue} job ${row.jobId} (${row.jobName}) failed for good after ${row.attempts} attempt(s): ${row.errorClass}: ${redactString(row.errorMessage).slice(0, 200)}`, {
      deadLetterId: row.id,
      jobId: row.jobId,
      ...(queue ? { queue } : {}),
      ...(ref ? { ref } : {}),
    });
  });
}

/** Influencer replies we have not answered within the threshold, one row per negotiation. */
async function repliesOverdue(deps: RecordDeps): Promise<RecordProblem[]> {
  const now = deps.now();
  const cutoff = new Date(now.getTime() - deps.thresholds.replyOverdueMs);
  const rows = await deps.db.inboundMessage.groupBy({
    by: ['negotiationId'],
    where: { processedAt: null, receivedAt: { lt: cutoff } },
    _min: { receivedAt: true },
    _count: { _all: true },
    orderBy: { _min: { receivedAt: 'asc' } },
    take: ROW_LIMIT,
  });
  return rows.map((row) => {
    const since = row._min.receivedAt ?? cutoff;
    const n = row._count._all;
    return aged('reply_overdue', since, now, `${n} ${n === 1 ? 'reply' : 'replies'} from the influencer unanswered for ${formatAge(now.getTime() - since.getTime())} (threshold ${formatAge(deps.thresholds.replyOverdueMs)})`, {
      negotiationId: row.negotiationId,
    });
  });
}

/** Escalated and nobody has claimed it (a claim moves it to human_managed). */
async function escalatedUnclaimed(deps: RecordDeps): Promise<RecordProblem[]> {
  const now = deps.now();
  const rows = await deps.db.negotiation.findMany({
    where: { state: 'escalated' },
    select: { id: true, escalationReason: true, updatedAt: true, transitions: { where: { toState: 'escalated' }, orderBy: { at: 'desc' }, take: 1, select: { at: true } } },
    orderBy: { updatedAt: 'asc' },
    take: ROW_LIMIT,
  });
  return rows.map((row) => {
    const since = row.transitions[0]?.at ?? row.updatedAt;
    const why = row.escalationReason ? redactString(row.escalationReason).slice(0, 200) : 'no reason recorded';
    return aged('escalated_unclaimed', since, now, `escalated to a human and not claimed: ${why}`, { negotiationId: row.id });
  });
}

/** Waiting on the influencer past FOLLOW_UP_AFTER: the follow-up sweep should have acted. */
async function followUpsOverdue(deps: RecordDeps): Promise<RecordProblem[]> {
  const now = deps.now();
  const cutoff = new Date(now.getTime() - deps.thresholds.followUpAfterMs);
  const rows = await deps.db.negotiation.findMany({
    where: { state: { in: [...FOLLOW_UP_STATES] }, lastOutboundAt: { lt: cutoff }, inbound: { none: { processedAt: null } } },
    select: { id: true, lastOutboundAt: true, followUps: true },
    orderBy: { lastOutboundAt: 'asc' },
    take: ROW_LIMIT,
  });
  return rows.map((row) => {
    const since = row.lastOutboundAt ?? cutoff;
    return aged(
      'follow_up_overdue',
      since,
      now,
      `no reply from the influencer for ${formatAge(now.getTime() - since.getTime())} since our last email (follow-up window ${formatAge(deps.thresholds.followUpAfterMs)}; follow-ups sent: ${row.followUps})`,
      { negotiationId: row.id },
    );
  });
}

/** Outbox rows still pending: the send job is missing (Redis lost it) or keeps failing. */
async function emailsNotSent(deps: RecordDeps): Promise<RecordProblem[]> {
  const now = deps.now();
  const rows = await deps.db.outboxEmail.findMany({
    where: { status: 'pending', createdAt: { lt: new Date(now.getTime() - deps.thresholds.outboxPendingMs) } },
    select: { id: true, negotiationId: true, kind: true, createdAt: true },
    orderBy: { createdAt: 'asc' },
    take: ROW_LIMIT,
  });
  return rows.map((row) =>
    aged('email_not_sent', row.createdAt, now, `${row.kind} email ${row.id} written ${formatAge(now.getTime() - row.createdAt.getTime())} ago and still not sent (threshold ${formatAge(deps.thresholds.outboxPendingMs)})`, {
      negotiationId: row.negotiationId,
    }),
  );
}

/** Still `new`: the opening step never committed (its job is missing, failing or waiting). */
async function notOpened(deps: RecordDeps): Promise<RecordProblem[]> {
  const now = deps.now();
  const rows = await deps.db.negotiation.findMany({
    where: { state: 'new', createdAt: { lt: new Date(now.getTime() - deps.thresholds.notOpenedMs) } },
    select: { id: true, createdAt: true },
    orderBy: { createdAt: 'asc' },
    take: ROW_LIMIT,
  });
  return rows.map((row) =>
    aged('not_opened', row.createdAt, now, `created ${formatAge(now.getTime() - row.createdAt.getTime())} ago and no opening offer yet (threshold ${formatAge(deps.thresholds.notOpenedMs)})`, {
      negotiationId: row.id,
    }),
  );
}

export async function findRecordProblems(deps: RecordDeps): Promise<RecordProblem[]> {
  const all = await Promise.all([deadLetters(deps), repliesOverdue(deps), escalatedUnclaimed(deps), followUpsOverdue(deps), emailsNotSent(deps), notOpened(deps)]);
  return all.flat();
}
