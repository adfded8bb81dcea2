import { withTx } from '@parley/db';
import { FOLLOW_UP_STATES } from '@parley/domain';
import type { GmailClient } from '@parley/google';
import { llmFailingSince } from '@parley/llm';
import { enqueue, jobIds } from '@parley/queue';
import { escalateNegotiation, type EngineCore } from '@parley/takeover';

const DAY_MS = 86_400_000;

/**
 * Registers (or renews) the Gmail watch when none is persisted or it expires within 24 h.
 * Driven by the persisted expiration, not process uptime, so restarts neither skip nor
 * repeat a renewal. A first watch also seeds the history cursor.
 */
export async function ensureGmailWatch(deps: EngineCore & { gmail: GmailClient; mailbox: string; topic: string }): Promise<'renewed' | 'current'> {
  const state = await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } });
  if (state?.watchExpiration && state.watchExpiration.getTime() - deps.now().getTime() > DAY_MS) return 'current';
  const watch = await deps.gmail.watch(deps.topic);
  await withTx(deps.db, (tx) =>
    tx.mailboxSync.upsert({
      where: { mailbox: deps.mailbox },
      create: { mailbox: deps.mailbox, watchExpiration: watch.expiration, historyCursor: watch.historyId },
      update: { watchExpiration: watch.expiration, ...(state?.historyCursor ? {} : { historyCursor: watch.historyId }) },
    }),
  );
  deps.log.info('gmail watch registered', { expiration: watch.expiration.toISOString() });
  return 'renewed';
}

/** Enqueues a follow-up step for every negotiation silent past FOLLOW_UP_AFTER. */
export async function sweepFollowUps(deps: EngineCore & { followUpAfterMs: number }): Promise<number> {
  const cutoff = new Date(deps.now().getTime() - deps.followUpAfterMs);
  const due = await deps.db.negotiation.findMany({
    // The clock starts when our last email was *sent*: a nudge still waiting in the outbox
    // (Gmail slow, the send queue backed up) is not a reason for another one.
    where: {
      state: { in: [...FOLLOW_UP_STATES] },
      lastOutboundAt: { lt: cutoff },
      inbound: { none: { processedAt: null } },
      outbox: { none: { status: 'pending' } },
    },
    select: { id: true, followUps: true },
  });
  for (const n of due) {
    await enqueue(deps.queues, 'negotiation-steps', { negotiationId: n.id, kind: 'follow_up' }, { jobId: jobIds.followUp(n.id, n.followUps + 1) });
  }
  return due.length;
}

/**
 * When the LLM has been failing for longer than the outage window, negotiations waiting on
 * it (not yet opened, or with an unanswered reply) go to a human instead of going silent,
 * including those whose step already became a dead letter.
 */
export async function escalateDuringLlmOutage(deps: EngineCore & { llmOutageEscalateAfterMs: number }): Promise<number> {
  const since = await llmFailingSince(deps.db, { now: deps.now() });
  if (!since || deps.now().getTime() - since.getTime() < deps.llmOutageEscalateAfterMs) return 0;
  // Only work that has itself waited the whole window: a campaign started or a reply received
  // a minute ago gets its own chance at the LLM first.
  const cutoff = new Date(deps.now().getTime() - deps.llmOutageEscalateAfterMs);
  const waiting = await deps.db.negotiation.findMany({
    where: {
      OR: [
        { state: 'new', createdAt: { lte: cutoff } },
        { state: { notIn: ['agreed', 'declined', 'escalated', 'human_managed'] }, inbound: { some: { processedAt: null, createdAt: { lte: cutoff } } } },
      ],
    },
    select: { id: true },
  });
  const seconds = Math.round((deps.now().getTime() - since.getTime()) / 1000);
  let n = 0;
  for (const w of waiting) {
    try {
      if (await escalateNegotiation(deps, { negotiationId: w.id, reason: `llm_unavailable: the LLM has failed for ${seconds}s`, markInboundProcessed: true })) n += 1;
    } catch (error) {
      // One negotiation that cannot be escalated now (a concurrent step) must not hold back the rest.
      deps.log.warn('could not escalate during LLM outage', { negotiationId: w.id, error: (error as Error).message });
    }
  }
  return n;
}

/** Younger records may still get their job from the normal flow (a commit enqueues just after). */
const LOST_JOB_GRACE_MS = 5_000;

/**
 * Enqueues again, under their deterministic ids, the jobs that SQLite says should exist: the
 * opening step of a negotiation still `new`, the send of a pending outbox row, the step for an
 * unanswered inbound message. Redis with AOF `everysec` can lose the last second of jobs when
 * the machine (not just the process) dies; the ingress's own deliveries are covered by the
 * delivery sweep, these are the ones workers enqueue. A job that still exists in any state
 * (waiting, active, delayed, completed, failed) makes the add a no-op, and a job that became a
 * dead letter is left to a human's replay.
 */
export async function healLostJobs(deps: EngineCore): Promise<number> {
  const before = new Date(deps.now().getTime() - LOST_JOB_GRACE_MS);
  const [fresh, pending, unanswered] = await Promise.all([
    deps.db.negotiation.findMany({ where: { state: 'new', createdAt: { lt: before } }, select: { id: true } }),
    deps.db.outboxEmail.findMany({ where: { status: 'pending', createdAt: { lt: before } }, select: { id: true } }),
    deps.db.inboundMessage.findMany({ where: { processedAt: null, createdAt: { lt: before } }, select: { negotiationId: true, gmailMessageId: true } }),
  ]);
  const wanted = [
    ...fresh.map((n) => ({ queue: 'negotiation-steps' as const, jobId: jobIds.negotiationStep(n.id), data: { negotiationId: n.id, kind: 'open' as const } })),
    ...pending.map((o) => ({ queue: 'outbound-email' as const, jobId: jobIds.sendEmail(o.id), data: { outboxId: o.id } })),
    ...unanswered.map((m) => ({ queue: 'negotiation-steps' as const, jobId: jobIds.negotiationStep(m.negotiationId, m.gmailMessageId), data: { negotiationId: m.negotiationId, kind: 'reply' as const, gmailMessageId: m.gmailMessageId } })),
  ];
  if (wanted.length === 0) return 0;
  const dead = new Set((await deps.db.deadLetter.findMany({ where: { jobId: { in: wanted.map((w) => w.jobId) } }, select: { jobId: true } })).map((d) => d.jobId));
  let restored = 0;
  for (const w of wanted) {
    if (dead.has(w.jobId) || (await deps.queues[w.queue].getJob(w.jobId))) continue;
    await enqueue(deps.queues, w.queue, w.data, { jobId: w.jobId });
    restored += 1;
    deps.log.warn('lost job enqueued again', { queue: w.queue, jobId: w.jobId });
  }
  return restored;
}

/**
 * The periodic mailbox sync. Gmail notifications can be delayed or dropped (and a reply filed
 * outside INBOX notifies nothing), so every maintenance interval one forced history pass runs
 * from the stored cursor. One job per interval bucket, so several workers enqueue it once.
 */
export async function enqueuePeriodicSync(deps: EngineCore & { mailbox: string; intervalMs: number }): Promise<boolean> {
  const state = await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } });
  // Before the first watch or notification there is no cursor to sync from.
  if (!state?.historyCursor) return false;
  const bucket = Math.floor(deps.now().getTime() / deps.intervalMs);
  await enqueue(
    deps.queues,
    'gmail-notifications',
    { mailbox: deps.mailbox, historyId: state.historyCursor, pubsubMessageId: `periodic-${bucket}`, force: true },
    { jobId: `periodic.${bucket}` },
  );
  return true;
}
