import type { Redis } from 'ioredis';
import { withTx } from '@parley/db';
import { HistoryExpiredError, type GmailClient, type ParsedMessage } from '@parley/google';
import { emailDomain } from '@parley/logging';
import { enqueue, jobIds, PermanentError, TransientError, type Handler, type JobContext } from '@parley/queue';
import type { EngineCore } from './engine-deps';

export interface SyncDeps extends EngineCore {
  gmail: GmailClient;
  mailbox: string;
  redis: Redis;
  prefix: string;
  lockTtlMs?: number;
}

const big = (v: string | null | undefined) => (v ? BigInt(v) : 0n);

/**
 * The `gmail-notifications` handler. Syncs of one mailbox never overlap (a Redis lock); a
 * notification that arrives during a sync is not lost: the API raised the mailbox's highest
 * notified history id before enqueuing, and the lock holder re-reads it after releasing, so
 * either this job or the running sync covers it.
 *
 * The lock is held in the name of the job, not of the process: when the process running a
 * sync dies, the jobs that found the lock taken have already completed ("covered"), and the
 * one job that will run again is the dead sync itself (BullMQ restarts a stalled job under
 * the same id). It takes its own lock back instead of counting itself as covered, so what the
 * others left to it is synced at once rather than when the lock expires and some later
 * notification happens to come.
 */
export function createMailboxSyncHandler(deps: SyncDeps): Handler<'gmail-notifications'> {
  return async (data, ctx) => {
    if (data.mailbox.toLowerCase() !== deps.mailbox.toLowerCase()) return { outcome: 'ignored: other mailbox' };
    let passes = 0;
    for (;;) {
      const lock = await acquire(deps, ctx.jobId);
      if (!lock) return { outcome: 'covered by the running sync', passes };
      try {
        passes += await syncUntilCaughtUp(deps, ctx, data.force === true && passes === 0);
      } finally {
        await lock.release();
      }
      const state = await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } });
      if (big(state?.historyCursor) >= big(state?.highestNotifiedHistoryId)) return { outcome: 'synced', passes };
    }
  };
}

// Takes the lock when it is free or already ours (a rerun of the same job); 0 when another job holds it.
const ACQUIRE = "if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 2 end return 0";
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

async function acquire(deps: SyncDeps, owner: string): Promise<{ release: () => Promise<void> } | null> {
  const key = `${deps.prefix}:parley:lock:mailbox:${deps.mailbox.toLowerCase()}`;
  const token = `job:${owner}`;
  const ttl = deps.lockTtlMs ?? 60_000;
  const got = Number(await deps.redis.eval(ACQUIRE, 1, key, token, String(ttl)));
  if (got === 0) return null;
  if (got === 2) deps.log.warn('mailbox lock taken back from an earlier run of this job', { jobId: owner });
  const renew = setInterval(() => void deps.redis.eval(RENEW, 1, key, token, String(ttl)).catch(() => undefined), Math.floor(ttl / 3));
  renew.unref();
  return {
    release: async () => {
      clearInterval(renew);
      // Delete only our own lock (it may have expired and been taken by another process).
      await deps.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, token);
    },
  };
}

/** `force`: one history pass even when no notification is outstanding (the periodic sync). */
async function syncUntilCaughtUp(deps: SyncDeps, ctx: JobContext, force = false): Promise<number> {
  let passes = 0;
  for (;;) {
    const state = await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } });
    const highest = state?.highestNotifiedHistoryId ?? null;
    if (state?.historyCursor && big(state.historyCursor) >= big(highest) && !(force && passes === 0)) return passes;
    passes += 1;
    if (!state?.historyCursor) {
      await fullResync(deps, ctx, highest, 'no cursor yet');
      continue;
    }
    try {
      const history = await deps.gmail.listHistory(state.historyCursor);
      const messages = await fetchTracked(deps, history.added);
      const next = big(history.historyId) > big(highest) ? history.historyId : (highest ?? history.historyId);
      await record(deps, messages, next);
    } catch (error) {
      if (!(error instanceof HistoryExpiredError)) throw error;
      await fullResync(deps, ctx, highest, 'history cursor too old (404)');
    }
    if (passes > 50) throw new TransientError('mailbox sync did not converge after 50 passes');
  }
}

/** An inbound message and the negotiation it belongs to. */
interface Found {
  message: ParsedMessage;
  negotiationId: string;
}

/**
 * Emails Gmail may have accepted without our bookkeeping knowing it: the sender died between
 * Gmail's answer and marking the row sent, so the negotiation has no thread yet. A reply in
 * such a thread is still ours: it names our Message-ID in In-Reply-To or References.
 */
async function unrecordedSends(deps: SyncDeps): Promise<{ negotiationId: string; messageIdHdr: string }[]> {
  return deps.db.outboxEmail.findMany({ where: { status: 'pending', negotiation: { gmailThreadId: null } }, select: { negotiationId: true, messageIdHdr: true } });
}

const bareId = (v: string) => v.trim().replace(/^<|>$/g, '').toLowerCase();

function answeredSend(message: ParsedMessage, sends: { negotiationId: string; messageIdHdr: string }[]): string | undefined {
  const refs = new Set([message.inReplyTo ?? '', ...(message.references ?? '').split(/\s+/)].filter(Boolean).map(bareId));
  return sends.find((s) => refs.has(bareId(s.messageIdHdr)))?.negotiationId;
}

/** Fetches the added messages that belong to a negotiation and are not ours or already recorded. */
async function fetchTracked(deps: SyncDeps, added: { id: string; threadId: string; labelIds: string[] }[]): Promise<Found[]> {
  const candidates = added.filter((m) => !m.labelIds.includes('SENT') && !m.labelIds.includes('DRAFT'));
  if (candidates.length === 0) return [];
  const byThread = new Map(
    (await deps.db.negotiation.findMany({ where: { gmailThreadId: { in: [...new Set(candidates.map((m) => m.threadId))] } }, select: { id: true, gmailThreadId: true } })).map((n) => [n.gmailThreadId, n.id]),
  );
  const known = new Set(
    (await deps.db.inboundMessage.findMany({ where: { gmailMessageId: { in: candidates.map((m) => m.id) } }, select: { gmailMessageId: true } })).map((m) => m.gmailMessageId),
  );
  const sends = candidates.some((m) => !byThread.has(m.threadId)) ? await unrecordedSends(deps) : [];
  const out: Found[] = [];
  for (const m of candidates) {
    const tracked = byThread.get(m.threadId);
    if (known.has(m.id) || (!tracked && sends.length === 0)) continue;
    const message = await gone(deps, () => deps.gmail.getMessage(m.id), 'message');
    if (!message || isOurs(message, deps.mailbox)) continue;
    const negotiationId = tracked ?? answeredSend(message, sends);
    if (negotiationId) out.push({ message, negotiationId });
  }
  return out;
}

/**
 * A message or thread deleted between Gmail listing it and us fetching it answers 404. That
 * is not a failure of the sync (Google's sync guide expects it): skip it, or one deleted
 * email would stop inbound processing for the whole mailbox.
 */
async function gone<T>(deps: SyncDeps, fetch: () => Promise<T>, what: string): Promise<T | null> {
  try {
    return await fetch();
  } catch (error) {
    if (error instanceof PermanentError && error.reason === 'not_found') {
      deps.log.warn(`gmail ${what} gone before it could be read; skipped`, { error: error.message });
      return null;
    }
    throw error;
  }
}

function isOurs(message: ParsedMessage, mailbox: string): boolean {
  return message.labelIds.includes('SENT') || message.from.toLowerCase().includes(mailbox.toLowerCase());
}

/** Records new inbound messages and advances the cursor in one transaction, then enqueues their steps. */
async function record(deps: SyncDeps, found: Found[], cursor: string | null): Promise<void> {
  const created: { negotiationId: string; gmailMessageId: string }[] = [];
  await withTx(deps.db, async (tx) => {
    for (const { message: m, negotiationId } of found) {
      const exists = await tx.inboundMessage.findUnique({ where: { gmailMessageId: m.id }, select: { id: true } });
      if (exists) continue;
      // A reply in the thread of an unrecorded send makes that thread the negotiation's, so our
      // answer (and the recovered send's bookkeeping) stay in it.
      await tx.negotiation.updateMany({ where: { id: negotiationId, gmailThreadId: null }, data: { gmailThreadId: m.threadId } });
      await tx.inboundMessage.create({
        data: { gmailMessageId: m.id, negotiationId, gmailThreadId: m.threadId, messageIdHdr: m.messageIdHdr, fromDomain: emailDomain(m.from), subject: m.subject, text: m.text, receivedAt: m.internalDate },
      });
      created.push({ negotiationId, gmailMessageId: m.id });
    }
    await tx.mailboxSync.upsert({
      where: { mailbox: deps.mailbox },
      create: { mailbox: deps.mailbox, historyCursor: cursor, lastSyncAt: deps.now() },
      update: { historyCursor: cursor ?? undefined, lastSyncAt: deps.now() },
    });
  });
  // Only what this pass recorded: a sync that crashed between its commit and here is healed by
  // the stuck sweep (healLostJobs), which scans for unanswered messages without a job.
  for (const c of created) {
    await enqueue(deps.queues, 'negotiation-steps', { negotiationId: c.negotiationId, kind: 'reply', gmailMessageId: c.gmailMessageId }, { jobId: jobIds.negotiationStep(c.negotiationId, c.gmailMessageId) });
  }
  if (created.length > 0) deps.log.info('inbound messages recorded', { count: created.length });
}


/**
 * A resync reads the threads of open negotiations and of settled ones changed within this
 * window: a reply to an agreed or declined deal still has to reach a human, but reading every
 * thread ever opened would grow without bound. A cursor goes stale after days, not months.
 */
const RESYNC_SETTLED_WITHIN_MS = 30 * 86_400_000;

/** Reads every tracked thread in full (cursor missing or too old) and restarts the cursor. */
async function fullResync(deps: SyncDeps, ctx: JobContext, highest: string | null, why: string): Promise<void> {
  ctx.log.warn('full mailbox resync', { reason: why });
  await ctx.note(`full resync: ${why}`);
  const recent = new Date(deps.now().getTime() - RESYNC_SETTLED_WITHIN_MS);
  const tracked = await deps.db.negotiation.findMany({
    where: { gmailThreadId: { not: null }, OR: [{ state: { notIn: ['agreed', 'declined'] } }, { updatedAt: { gte: recent } }] },
    select: { id: true, gmailThreadId: true },
  });
  const threads = new Map(tracked.flatMap((t) => (t.gmailThreadId ? [[t.gmailThreadId, t.id] as const] : [])));
  for (const send of await unrecordedSends(deps)) {
    const sent = await deps.gmail.findByMessageIdHeader(send.messageIdHdr);
    if (sent && !threads.has(sent.threadId)) threads.set(sent.threadId, send.negotiationId);
  }
  const found: Found[] = [];
  for (const [threadId, negotiationId] of threads) {
    for (const m of (await gone(deps, () => deps.gmail.getThread(threadId), 'thread')) ?? []) if (!isOurs(m, deps.mailbox)) found.push({ message: m, negotiationId });
  }
  const known = new Set((await deps.db.inboundMessage.findMany({ where: { gmailMessageId: { in: found.map((f) => f.message.id) } }, select: { gmailMessageId: true } })).map((m) => m.gmailMessageId));
  // Without a newer id to start from, the highest notified one is safe: anything at or before it
  // is in the threads just read, and anything after it will be listed (and deduplicated) next time.
  const cursor = highest ?? (await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } }))?.historyCursor ?? null;
  if (!cursor) throw new TransientError('no history id known yet for the mailbox (waiting for a notification or watch)');
  await record(deps, found.filter((f) => !known.has(f.message.id)), cursor);
}
