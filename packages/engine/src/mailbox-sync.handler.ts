import { randomUUID } from 'node:crypto';
import { findMailboxSync, insertAuditEntry, insertInboundMessage, mailboxScope, negotiationsOfThreads, pendingSendsWithoutThread, placeholder, recordedInboundIds, recordMailboxCursor, sqlOf } from '@parley/db';
import { compareHistoryIds } from '@parley/domain';
import { HistoryExpiredError, referencedIds, type GmailClient, type ParsedMessage } from '@parley/google';
import { emailDomain } from '@parley/logging';
import { enqueue, jobIds, mailboxLockKey, PermanentError, TransientError, type Handler, type JobContext, type RedisConnection } from '@parley/queue';
import { escalateNegotiation, type EngineCore } from '@parley/takeover';

export interface SyncDeps extends EngineCore {
  gmail: GmailClient;
  mailbox: string;
  redis: RedisConnection;
  prefix: string;
  lockTtlMs?: number;
  /** Messages a sync pass reads from Gmail at once (MESSAGE_FETCH_CONCURRENCY). */
  fetchConcurrency?: number;
}


/**
 * The `gmail-notifications` handler. Syncs of one mailbox never overlap (a Redis lock); a
 * notification that arrives during a sync is not lost: the API raised the mailbox's highest
 * notified history id before enqueuing, and the lock holder re-reads it after releasing, so
 * either this job or the running sync covers it. (The API enqueues no job at all for a
 * notification that finds the lock held once its history id is committed: see
 * `mailboxSyncRunning` in @parley/queue.)
 *
 * The lock is held in the name of the job, not of the process: when the process running a
 * sync dies, the jobs that found the lock taken have already completed ("covered"), and the
 * one job that will run again is the dead sync itself (BullMQ restarts a stalled job under
 * the same id). It takes its own lock back instead of counting itself as covered, so what the
 * others left to it is synced at once rather than when the lock expires and some later
 * notification happens to come.
 *
 * A run that loses its job (its BullMQ lock lapsed: the host was cut off or frozen, and the job
 * runs again elsewhere) gives the mailbox lock up as soon as it learns so, and stops before it
 * records anything: while it kept the lock, every notification and periodic sync would count
 * itself covered by a sync that no longer answers for them. Each run holds the lock under a
 * token of its own, so such a run can neither renew nor release the lock its job's new run
 * took back.
 */
export function createMailboxSyncHandler(deps: SyncDeps): Handler<'gmail-notifications'> {
  return async (data, ctx) => {
    if (data.mailbox.toLowerCase() !== deps.mailbox.toLowerCase()) return { outcome: 'ignored: other mailbox' };
    let passes = 0;
    for (;;) {
      stillOwned(ctx);
      const lock = await acquire(deps, ctx);
      if (!lock) return { outcome: 'covered by the running sync', passes };
      try {
        passes += await syncUntilCaughtUp(deps, ctx, data.force === true && passes === 0);
      } finally {
        await lock.release();
      }
      const state = await findMailboxSync(sqlOf(deps.db), deps.mailbox);
      if (compareHistoryIds(state?.historyCursor, state?.highestNotifiedHistoryId) >= 0) return { outcome: 'synced', passes };
    }
  };
}

// Takes the lock when it is free (1) or held by an earlier run of the same job (2, taken over
// under this run's token); 0 when another job holds it. ARGV[3] is the job's part of a token:
// `job:<id>`, then `:<run>` (a bare `job:<id>` is how a lock was written before runs had tokens).
const ACQUIRE = [
  "if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end",
  "local held = redis.call('get', KEYS[1])",
  "if held and (held == ARGV[3] or string.sub(held, 1, string.len(ARGV[3]) + 1) == ARGV[3] .. ':') then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end",
  'return 0',
].join(' ');
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** Throws once this process no longer owns the job (processJob then logs it as abandoned). */
function stillOwned(ctx: JobContext): void {
  if (ctx.signal?.aborted) throw new Error(`mailbox sync stopped: this process no longer owns the job (${String(ctx.signal.reason ?? 'aborted')})`);
}

async function acquire(deps: SyncDeps, ctx: JobContext): Promise<{ release: () => Promise<void> } | null> {
  const key = mailboxLockKey(deps.prefix, deps.mailbox);
  const job = `job:${ctx.jobId}`;
  const token = `${job}:${randomUUID()}`;
  const ttl = deps.lockTtlMs ?? 60_000;
  const got = Number(await deps.redis.eval(ACQUIRE, 1, key, token, String(ttl), job));
  if (got === 0) return null;
  if (got === 2) deps.log.warn('mailbox lock taken back from an earlier run of this job', { jobId: ctx.jobId });
  const renew = setInterval(() => void deps.redis.eval(RENEW, 1, key, token, String(ttl)).catch(() => undefined), Math.floor(ttl / 3));
  renew.unref();
  // Delete only our own lock (it may have expired and been taken by another job, or by this job's next run).
  const release = async () => {
    clearInterval(renew);
    ctx.signal?.removeEventListener('abort', onAbort);
    await deps.redis.eval(RELEASE, 1, key, token);
  };
  const onAbort = () => {
    deps.log.warn('mailbox lock given up: another worker runs this sync now', { jobId: ctx.jobId });
    release().catch(() => undefined);
  };
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  if (ctx.signal?.aborted) onAbort();
  return { release };
}

/** `force`: one history pass even when no notification is outstanding (the periodic sync). */
async function syncUntilCaughtUp(deps: SyncDeps, ctx: JobContext, force = false): Promise<number> {
  let passes = 0;
  for (;;) {
    stillOwned(ctx);
    // Read before asking Gmail: `highest` is what the pass below is known to cover (see record).
    const state = await findMailboxSync(sqlOf(deps.db), deps.mailbox);
    const highest = state?.highestNotifiedHistoryId ?? null;
    if (state?.historyCursor && compareHistoryIds(state.historyCursor, highest) >= 0 && !(force && passes === 0)) return passes;
    passes += 1;
    if (!state?.historyCursor) {
      await fullResync(deps, ctx, highest, 'no cursor yet');
      continue;
    }
    try {
      const history = await deps.gmail.listHistory(state.historyCursor);
      const messages = await fetchTracked(deps, history.added);
      // A run that lost its job while Gmail answered records nothing: its job's new run does.
      stillOwned(ctx);
      await record(deps, messages, history.historyId, highest);
    } catch (error) {
      if (!(error instanceof HistoryExpiredError)) throw error;
      await fullResync(deps, ctx, highest, 'history cursor too old (404)');
    }
    if (passes > 50) throw new TransientError('mailbox sync did not converge after 50 passes');
  }
}

/** The negotiation a thread belongs to, and who may speak for the influencer in it. */
interface Tracked {
  negotiationId: string;
  influencerEmail: string;
}

/** An inbound message, the negotiation it belongs to, and why the agent must not answer it (if so). */
interface Found {
  message: ParsedMessage;
  negotiationId: string;
  /** `unparseable: <reason>` or `foreign_sender`; null for a reply the agent may read. */
  problem: string | null;
  /** Found through an unrecorded send's Message-ID, not a thread the negotiation already has. */
  viaSend: boolean;
}

/**
 * Emails Gmail may have accepted without our bookkeeping knowing it: the sender died between
 * Gmail's answer and marking the row sent, so the negotiation has no thread yet. A reply in
 * such a thread is still ours: it names our Message-ID in In-Reply-To or References.
 */
async function unrecordedSends(deps: SyncDeps): Promise<(Tracked & { messageIdHdr: string })[]> {
  return pendingSendsWithoutThread(sqlOf(deps.db));
}

const bareId = (v: string) => v.trim().replace(/^<|>$/g, '').toLowerCase();

function answeredSend(message: ParsedMessage, sends: (Tracked & { messageIdHdr: string })[]): Tracked | undefined {
  const refs = new Set(referencedIds(message).map(bareId));
  return sends.find((s) => refs.has(bareId(s.messageIdHdr)));
}

/**
 * Whether a failure to fetch one message is that message's own, for good: Gmail refusing this
 * id (400). Rate limits, 5xx, timeouts and resets may pass, so they fail the job and it is
 * retried; 401/403 concern the whole mailbox, so they fail it too (a dead letter, alerted).
 */
function isMessageOwnFailure(error: unknown): boolean {
  return error instanceof PermanentError && error.reason === 'bad_request';
}

/** Fetches the added messages that belong to a negotiation and are not ours or already recorded. */
async function fetchTracked(deps: SyncDeps, added: { id: string; threadId: string; labelIds: string[] }[]): Promise<Found[]> {
  const candidates = added.filter((m) => !m.labelIds.includes('SENT') && !m.labelIds.includes('DRAFT'));
  if (candidates.length === 0) return [];
  const threadsOf = async (threadIds: string[]) =>
    (await negotiationsOfThreads(sqlOf(deps.db), threadIds)).map((n) => [n.gmailThreadId, { negotiationId: n.id, influencerEmail: n.influencerEmail }] as const);
  const byThread = new Map<string | null, Tracked>(await threadsOf(candidates.map((m) => m.threadId)));
  const known = await recordedInboundIds(sqlOf(deps.db), candidates.map((m) => m.id));
  const untracked = candidates.filter((m) => !byThread.has(m.threadId)).map((m) => m.threadId);
  const sends = untracked.length > 0 ? await unrecordedSends(deps) : [];
  if (untracked.length > 0) {
    // A send recorded between the read of the threads and the read of the unrecorded sends is
    // in neither (its row is no longer pending, and its thread was not yet the negotiation's):
    // its reply would be skipped and the cursor moved past it for good. The threads not found
    // are read again now, after the sends: a send recorded since is found here.
    for (const [threadId, tracked] of await threadsOf(untracked)) byThread.set(threadId, tracked);
  }
  const wanted = candidates.filter((m) => !known.has(m.id) && (byThread.has(m.threadId) || sends.length > 0));
  // Several at a time (a pass under load reads dozens; one at a time, each waited a round trip
  // for the one before), in history order all the same.
  const fetched = await mapBounded(wanted, deps.fetchConcurrency ?? MESSAGE_FETCH_CONCURRENCY, async (m) => {
    try {
      return await gone(deps, () => deps.gmail.getMessage(m.id), 'message');
    } catch (error) {
      if (!isMessageOwnFailure(error)) throw error;
      return unreadable(m, `gmail refused it (${(error as PermanentError).reason})`);
    }
  });
  const out: Found[] = [];
  wanted.forEach((m, i) => {
    let message = fetched[i];
    if (!message) return;
    if (message.labelIds.length === 0) message = { ...message, labelIds: m.labelIds };
    const found = attribute(deps, message, byThread.get(m.threadId), sends);
    if (found) out.push(found);
  });
  return out;
}

/** Messages one sync pass asks Gmail for at once unless told (GMAIL_FETCH_CONCURRENCY, where the quota is explained). */
export const MESSAGE_FETCH_CONCURRENCY = 4;

/**
 * `fn` over `items`, at most `limit` at once, the results in the items' order. The first
 * failure rejects at once and no further item starts (the ones running finish unheard).
 */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next;
      next += 1;
      try {
        results[i] = await fn(items[i] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`mapBounded: limit must be a positive integer, got ${limit}`);
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** A message that could not be read at all, known only by what history.list said of it. */
function unreadable(listed: { id: string; threadId: string; labelIds: string[] }, why: string): ParsedMessage {
  return { id: listed.id, threadId: listed.threadId, labelIds: listed.labelIds, from: '', to: '', subject: '', messageIdHdr: null, inReplyTo: null, references: null, internalDate: new Date(0), text: '', problem: `unparseable: ${why}` };
}

/**
 * The negotiation an inbound message belongs to, and whether the agent may read it: one that
 * could not be parsed, or that comes from anyone but the influencer (exact address, case
 * aside), goes to a human. Our own mail is skipped. Null when it belongs to no negotiation.
 */
function attribute(deps: SyncDeps, message: ParsedMessage, tracked: Tracked | undefined, sends: (Tracked & { messageIdHdr: string })[], trackedHasThread = true): Found | null {
  if (isOurs(message, deps.mailbox)) return null;
  const target = tracked ?? answeredSend(message, sends);
  if (!target) {
    if (message.problem) deps.log.warn('unreadable message outside any tracked thread skipped', { gmailMessageId: message.id, problem: message.problem });
    return null;
  }
  const problem = message.problem ?? (message.from !== target.influencerEmail.trim().toLowerCase() ? 'foreign_sender' : null);
  return { message, negotiationId: target.negotiationId, problem, viaSend: tracked === undefined || !trackedHasThread };
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

/** Ours: Gmail's SENT label, or sent from the mailbox's exact address (not one that merely contains it). */
function isOurs(message: ParsedMessage, mailbox: string): boolean {
  return message.labelIds.includes('SENT') || (message.from !== '' && message.from === mailbox.trim().toLowerCase());
}

/** What an unreadable message's row says instead of its text (the forwarded alert quotes it). */
function problemText(found: Found): string {
  if (found.problem === 'foreign_sender') return found.message.text;
  return `[This email could not be read (${found.problem ?? ''}); open it in Gmail.]`;
}

/** The escalation reason for a message the agent must not read. */
function escalationReason(found: Found): string {
  if (found.problem !== 'foreign_sender') return found.problem ?? 'problem';
  return `foreign_sender: a reply on this thread came from ${found.message.from ? emailDomain(found.message.from) : 'an unknown sender'}, not the influencer`;
}

const validDate = (d: Date, fallback: Date) => (Number.isFinite(d.getTime()) && d.getTime() > 0 ? d : fallback);

/**
 * Records new inbound messages and advances the cursor in one transaction, then escalates the
 * negotiations of messages with a problem and enqueues the steps.
 *
 * The cursor becomes `gmailHistoryId`, the id Gmail itself returned, never a notification's
 * claim. `highestSeen` is the highest notified id read before Gmail was asked: Gmail's answer
 * covers every real notification up to it, so if it is still the stored value and above
 * Gmail's id, the notification claimed history Gmail does not have (forged, or from another
 * life of the mailbox) and it is lowered to Gmail's id. A notification that arrived meanwhile
 * changed the stored value, so the compare-and-set leaves it, and the sync loops once more.
 */
async function record(deps: SyncDeps, found: Found[], gmailHistoryId: string, highestSeen: string | null): Promise<void> {
  const created: { negotiationId: string; gmailMessageId: string }[] = [];
  const problems: Found[] = [];
  // In raw SQL (db's writes.ts), under the same write lock and busy retries as withTx, scoped to
  // the mailbox: its cursor and the messages it records are this sync's alone (another mailbox's
  // sync and the steps commit beside it on PostgreSQL). A thread id is set on a negotiation only
  // where it has none, in one statement, so a step writing that negotiation meanwhile is safe.
  await sqlOf(deps.db).transaction(async (tx) => {
    const $ = (n: number) => placeholder(tx.engine, n);
    // Read under the write lock: a message another sync recorded since the read above is skipped.
    const recorded = await recordedInboundIds(tx, found.map((f) => f.message.id));
    for (const f of found) {
      const m = f.message;
      if (recorded.has(m.id)) continue;
      recorded.add(m.id);
      // A reply in the thread of an unrecorded send makes that thread the negotiation's, so our
      // answer (and the recovered send's bookkeeping) stay in it. Not for a stranger's message.
      if (!f.problem && f.viaSend) {
        await tx.execute(`UPDATE "Negotiation" SET "gmailThreadId" = ${$(1)}, "updatedAt" = ${$(2)} WHERE "id" = ${$(3)} AND "gmailThreadId" IS NULL`, m.threadId, new Date(), f.negotiationId);
      }
      await insertInboundMessage(tx, {
        gmailMessageId: m.id,
        negotiationId: f.negotiationId,
        gmailThreadId: m.threadId,
        messageIdHdr: m.messageIdHdr,
        fromDomain: m.from ? emailDomain(m.from) : null,
        subject: m.subject,
        text: f.problem ? problemText(f) : m.text,
        receivedAt: validDate(m.internalDate, deps.now()),
        problem: f.problem,
      });
      if (f.problem) {
        await insertAuditEntry(tx, { negotiationId: f.negotiationId, actor: 'agent', action: 'inbound_problem', details: { gmailMessageId: m.id, problem: f.problem, fromDomain: m.from ? emailDomain(m.from) : null } });
        problems.push(f);
      }
      created.push({ negotiationId: f.negotiationId, gmailMessageId: m.id });
    }
    await recordMailboxCursor(tx, deps.mailbox, gmailHistoryId, deps.now());
    if (highestSeen !== null && compareHistoryIds(highestSeen, gmailHistoryId) > 0) {
      const lowered = await tx.execute(`UPDATE "MailboxSync" SET "highestNotifiedHistoryId" = ${$(1)}, "updatedAt" = ${$(2)} WHERE "mailbox" = ${$(3)} AND "highestNotifiedHistoryId" = ${$(4)}`, gmailHistoryId, new Date(), deps.mailbox, highestSeen);
      if (lowered > 0) deps.log.warn('a notified history id was beyond what Gmail returned; lowered to Gmail\'s', { notified: highestSeen, gmail: gmailHistoryId });
    }
  }, { scope: mailboxScope(deps.mailbox) });
  // A message the agent must not read puts its negotiation in front of a human. If this
  // process dies before it, the step enqueued below (or the stuck sweep's, for an unanswered
  // message without a job) escalates instead: the step never hands such a message to the LLM.
  for (const f of problems) {
    try {
      await escalateNegotiation(deps, { negotiationId: f.negotiationId, reason: escalationReason(f) });
    } catch (error) {
      deps.log.warn('could not escalate for an inbound problem; its step will', { negotiationId: f.negotiationId, error: (error as Error).message });
    }
  }
  if (problems.length > 0) deps.log.warn('inbound messages the agent must not read', { count: problems.length, problems: problems.map((p) => (p.problem ?? '').split(':')[0]) });
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
  // Gmail's own id, read before the threads: anything after it is listed (and deduplicated) next time.
  const { historyId } = await deps.gmail.getProfile();
  const recent = new Date(deps.now().getTime() - RESYNC_SETTLED_WITHIN_MS);
  // The unrecorded sends before the threads: a send recorded between the two reads is then in
  // the second (as a thread), where the other order would find it in neither.
  const sends = await unrecordedSends(deps);
  const tracked = await deps.db.negotiation.findMany({
    where: { gmailThreadId: { not: null }, OR: [{ state: { notIn: ['agreed', 'declined'] } }, { updatedAt: { gte: recent } }] },
    select: { id: true, gmailThreadId: true, influencerEmail: true },
  });
  const threads = new Map<string, Tracked>(tracked.flatMap((t) => (t.gmailThreadId ? [[t.gmailThreadId, { negotiationId: t.id, influencerEmail: t.influencerEmail }] as const] : [])));
  // Threads found through an unrecorded send are not yet their negotiation's (record sets them).
  const viaSends = new Set<string>();
  for (const send of sends) {
    const sent = await deps.gmail.findByMessageIdHeader(send.messageIdHdr);
    if (sent && !threads.has(sent.threadId)) {
      threads.set(sent.threadId, send);
      viaSends.add(sent.threadId);
    }
  }
  const found: Found[] = [];
  for (const [threadId, target] of threads) {
    for (const m of (await gone(deps, () => deps.gmail.getThread(threadId), 'thread')) ?? []) {
      const f = attribute(deps, m, target, [], !viaSends.has(threadId));
      if (f) found.push(f);
    }
  }
  const known = await recordedInboundIds(sqlOf(deps.db), found.map((f) => f.message.id));
  stillOwned(ctx);
  await record(deps, found.filter((f) => !known.has(f.message.id)), historyId, highest);
}
