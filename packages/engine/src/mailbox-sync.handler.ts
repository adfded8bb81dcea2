import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withTx } from '@parley/db';
import { HistoryExpiredError, type GmailClient, type ParsedMessage } from '@parley/google';
import { emailDomain } from '@parley/logging';
import { enqueue, jobIds, TransientError, type Handler, type JobContext } from '@parley/queue';
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
 */
export function createMailboxSyncHandler(deps: SyncDeps): Handler<'gmail-notifications'> {
  return async (data, ctx) => {
    if (data.mailbox.toLowerCase() !== deps.mailbox.toLowerCase()) return { outcome: 'ignored: other mailbox' };
    let passes = 0;
    for (;;) {
      const lock = await acquire(deps);
      if (!lock) return { outcome: 'covered by the running sync', passes };
      try {
        passes += await syncUntilCaughtUp(deps, ctx);
      } finally {
        await lock.release();
      }
      const state = await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } });
      if (big(state?.historyCursor) >= big(state?.highestNotifiedHistoryId)) return { outcome: 'synced', passes };
    }
  };
}

async function acquire(deps: SyncDeps): Promise<{ release: () => Promise<void> } | null> {
  const key = `${deps.prefix}:parley:lock:mailbox:${deps.mailbox.toLowerCase()}`;
  const token = randomUUID();
  const ttl = deps.lockTtlMs ?? 60_000;
  if ((await deps.redis.set(key, token, 'PX', ttl, 'NX')) !== 'OK') return null;
  const renew = setInterval(() => void deps.redis.pexpire(key, ttl).catch(() => undefined), Math.floor(ttl / 3));
  renew.unref();
  return {
    release: async () => {
      clearInterval(renew);
      // Delete only our own lock (it may have expired and been taken by another process).
      await deps.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, token);
    },
  };
}

async function syncUntilCaughtUp(deps: SyncDeps, ctx: JobContext): Promise<number> {
  let passes = 0;
  for (;;) {
    const state = await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } });
    const highest = state?.highestNotifiedHistoryId ?? null;
    if (state?.historyCursor && big(state.historyCursor) >= big(highest)) return passes;
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

/** Fetches the added messages that belong to a tracked negotiation thread and are not ours or already recorded. */
async function fetchTracked(deps: SyncDeps, added: { id: string; threadId: string; labelIds: string[] }[]): Promise<ParsedMessage[]> {
  const candidates = added.filter((m) => !m.labelIds.includes('SENT') && !m.labelIds.includes('DRAFT'));
  if (candidates.length === 0) return [];
  const threads = new Set(
    (await deps.db.negotiation.findMany({ where: { gmailThreadId: { in: [...new Set(candidates.map((m) => m.threadId))] } }, select: { gmailThreadId: true } })).map((n) => n.gmailThreadId),
  );
  const known = new Set(
    (await deps.db.inboundMessage.findMany({ where: { gmailMessageId: { in: candidates.map((m) => m.id) } }, select: { gmailMessageId: true } })).map((m) => m.gmailMessageId),
  );
  const out: ParsedMessage[] = [];
  for (const m of candidates) {
    if (!threads.has(m.threadId) || known.has(m.id)) continue;
    const message = await deps.gmail.getMessage(m.id);
    if (!isOurs(message, deps.mailbox)) out.push(message);
  }
  return out;
}

function isOurs(message: ParsedMessage, mailbox: string): boolean {
  return message.labelIds.includes('SENT') || message.from.toLowerCase().includes(mailbox.toLowerCase());
}

/** Records new inbound messages and advances the cursor in one transaction, then enqueues their steps. */
async function record(deps: SyncDeps, messages: ParsedMessage[], cursor: string | null): Promise<void> {
  const negotiations = await deps.db.negotiation.findMany({ where: { gmailThreadId: { in: messages.map((m) => m.threadId) } }, select: { id: true, gmailThreadId: true } });
  const byThread = new Map(negotiations.map((n) => [n.gmailThreadId, n.id]));
  const created: { negotiationId: string; gmailMessageId: string }[] = [];
  await withTx(deps.db, async (tx) => {
    for (const m of messages) {
      const negotiationId = byThread.get(m.threadId);
      if (!negotiationId) continue;
      const exists = await tx.inboundMessage.findUnique({ where: { gmailMessageId: m.id }, select: { id: true } });
      if (exists) continue;
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
  await enqueueUnanswered(deps);
  if (created.length > 0) deps.log.info('inbound messages recorded', { count: created.length });
}

/**
 * Every unanswered inbound message gets a step job (the id collapses repeats), including
 * ones recorded by a sync that crashed before it could enqueue.
 */
export async function enqueueUnanswered(deps: EngineCore): Promise<void> {
  const pending = await deps.db.inboundMessage.findMany({ where: { processedAt: null }, select: { negotiationId: true, gmailMessageId: true } });
  for (const p of pending) {
    await enqueue(deps.queues, 'negotiation-steps', { negotiationId: p.negotiationId, kind: 'reply', gmailMessageId: p.gmailMessageId }, { jobId: jobIds.negotiationStep(p.negotiationId, p.gmailMessageId) });
  }
}

/** Reads every tracked thread in full (cursor missing or too old) and restarts the cursor. */
async function fullResync(deps: SyncDeps, ctx: JobContext, highest: string | null, why: string): Promise<void> {
  ctx.log.warn('full mailbox resync', { reason: why });
  await ctx.note(`full resync: ${why}`);
  const tracked = await deps.db.negotiation.findMany({ where: { gmailThreadId: { not: null }, state: { notIn: ['agreed', 'declined'] } }, select: { gmailThreadId: true } });
  const messages: ParsedMessage[] = [];
  for (const t of tracked) {
    if (!t.gmailThreadId) continue;
    for (const m of await deps.gmail.getThread(t.gmailThreadId)) if (!isOurs(m, deps.mailbox)) messages.push(m);
  }
  const known = new Set((await deps.db.inboundMessage.findMany({ where: { gmailMessageId: { in: messages.map((m) => m.id) } }, select: { gmailMessageId: true } })).map((m) => m.gmailMessageId));
  // Without a newer id to start from, the highest notified one is safe: anything at or before it
  // is in the threads just read, and anything after it will be listed (and deduplicated) next time.
  const cursor = highest ?? (await deps.db.mailboxSync.findUnique({ where: { mailbox: deps.mailbox } }))?.historyCursor ?? null;
  if (!cursor) throw new TransientError('no history id known yet for the mailbox (waiting for a notification or watch)');
  await record(deps, messages.filter((m) => !known.has(m.id)), cursor);
}
