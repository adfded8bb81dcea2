import { findNegotiation, findOutboxWithNegotiation, negotiationScope, placeholder, sentAfter, sqlOf, withTx, type Db } from '@parley/db';
import type { NegotiationEvent } from '@parley/domain';
import { buildMime, type GmailClient } from '@parley/google';
import { DeferredError, PermanentError, RateLimitedError, TransientError, type Handler } from '@parley/queue';
import { applyTransitions, VersionConflictError, type EngineCore } from '@parley/takeover';

export interface SendDeps extends EngineCore {
  gmail: GmailClient;
  mailbox: string;
  /**
   * How long after a send was handed to Gmail a run that cannot find it in the mailbox waits
   * before sending it again (GMAIL_SEND_SETTLE_MS): longer than a Gmail request may take, so the
   * first request was answered or reset by then. Default 45 s.
   */
  sendSettleMs?: number;
  /**
   * How long a hand-over to Gmail may last from its mark (GMAIL_TIMEOUT_MS): past it the send is
   * given up and its connection reset, whatever it was waiting for. Default 30 s; must be shorter
   * than the settle time.
   */
  sendTimeoutMs?: number;
}

export const DEFAULT_SEND_SETTLE_MS = 45_000;
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;

/**
 * Marks an outbox row as handed to Gmail, in a transaction of its own committed before the send:
 * false when another run of this send marked it first, or the row is no longer pending. `scope`:
 * its negotiation's (the handler's), else the whole database's write lock.
 */
export async function claimFirstSend(db: Db, outboxId: string, at: Date, scope?: string): Promise<boolean> {
  return sqlOf(db).transaction(async (tx) => {
    const $ = (n: number) => placeholder(tx.engine, n);
    const marked = await tx.execute(`UPDATE "OutboxEmail" SET "attemptedAt" = ${$(1)} WHERE "id" = ${$(2)} AND "status" = 'pending' AND "attemptedAt" IS NULL`, at, outboxId);
    return marked === 1;
  }, { scope });
}

/**
 * Marks again a row whose earlier hand-over has settled (marked at `settledBefore` or earlier)
 * and is not in the mailbox: this run hands it over anew, and a run that finds the row after it
 * waits out the settle time from this mark. False when another run re-marked it first.
 */
export async function claimSettledSend(db: Db, outboxId: string, settledBefore: Date, at: Date, scope?: string): Promise<boolean> {
  return sqlOf(db).transaction(async (tx) => {
    const $ = (n: number) => placeholder(tx.engine, n);
    const marked = await tx.execute(
      `UPDATE "OutboxEmail" SET "attemptedAt" = ${$(1)} WHERE "id" = ${$(2)} AND "status" = 'pending' AND "attemptedAt" IS NOT NULL AND "attemptedAt" <= ${$(3)}`,
      at,
      outboxId,
      settledBefore,
    );
    return marked === 1;
  }, { scope });
}

/**
 * Un-marks a row whose first hand-over this run knows went nowhere: Gmail refused it with an
 * answer (4xx: a rate limit, a bad request), or the job's lock was lost before the request.
 * Its next run sends at once instead of waiting out the settle time. Only the mark this run set
 * is cleared.
 */
export async function releaseUnsentMark(db: Db, outboxId: string, markedAt: Date, scope?: string): Promise<void> {
  await sqlOf(db).transaction(async (tx) => {
    const $ = (n: number) => placeholder(tx.engine, n);
    await tx.execute(`UPDATE "OutboxEmail" SET "attemptedAt" = NULL WHERE "id" = ${$(1)} AND "status" = 'pending' AND "attemptedAt" = ${$(2)}`, outboxId, markedAt);
  }, { scope });
}

/** Gmail answered the send and the answer says it did not send (4xx; 5xx may have sent). */
function refusedByGmail(error: unknown): boolean {
  return error instanceof RateLimitedError || error instanceof PermanentError || (error instanceof TransientError && error.reason === 'http_408');
}

/**
 * The `outbound-email` handler: sends one outbox row through Gmail exactly once. A row is marked
 * (`attemptedAt`, committed) before it is first handed to Gmail; a row found marked may have
 * been sent by a run that died before recording it, so its deterministic Message-ID is looked up
 * in the mailbox first, and a crash between Gmail's acceptance and our bookkeeping never
 * produces a second email. A row never marked was never sent: no lookup (a Gmail call fewer
 * per email, and 5 quota units).
 *
 * A marked row that is not in the mailbox is sent again only once `sendSettleMs` have passed
 * since it was marked. Until then its first request may still be on its way (a host cut off the
 * network holds it in the kernel; a run that lost its job lock may still be waiting for the
 * answer): the job is deferred to that moment and looks again. By then that request was
 * answered, or given up and reset (a request given up on is never delivered afterwards:
 * boundedFetch), so a lookup that finds nothing means nothing will arrive. The run that sends
 * it again marks it anew (compare-and-set on the settled mark), so a run after that one waits
 * out the settle time from the new hand-over.
 */
export function createSendEmailHandler(deps: SendDeps): Handler<'outbound-email'> {
  const settleMs = deps.sendSettleMs ?? DEFAULT_SEND_SETTLE_MS;
  const timeoutMs = deps.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  if (settleMs <= timeoutMs) throw new Error(`the send settle time (${settleMs} ms) must exceed the send timeout (${timeoutMs} ms)`);
  return async ({ outboxId }, ctx) => {
    const row = await findOutboxWithNegotiation(sqlOf(deps.db), outboxId);
    if (!row) throw new PermanentError(`outbox row ${outboxId} does not exist`);
    // 'sent' is done; 'cancelled' was withdrawn for a human and must stay unsent even if this
    // job runs again later (a stall rerun, a retry from the dashboard).
    if (row.status !== 'pending') return { outcome: `already ${row.status}` };
    const negotiation = row.negotiation;
    // Every write below is confined to this negotiation's rows: on PostgreSQL it waits only for
    // the negotiation's other writers (and unscoped ones), not for the whole fleet's.
    const scope = negotiationScope(negotiation.id);
    const log = ctx.log.child({ negotiationId: negotiation.id, threadId: negotiation.gmailThreadId ?? undefined });

    const attemptedAt = row.attemptedAt;
    const handedToGmail = attemptedAt !== null;
    // The lookup counts from when it was made: one made before the settle time is not enough.
    const lookedUpAt = deps.now();
    const existing = handedToGmail ? await deps.gmail.findByMessageIdHeader(row.messageIdHdr) : null;
    if (attemptedAt !== null && !existing) {
      const settled = attemptedAt.getTime() + settleMs;
      const waitMs = settled - lookedUpAt.getTime();
      // Neither sent again nor cancelled for a human while the first request may still land.
      if (waitMs > 0) throw new DeferredError(`handed to Gmail at ${attemptedAt.toISOString()} with no answer recorded: looked up again once its request can no longer arrive`, waitMs, 'send_settling');
    }
    if (negotiation.state === 'human_managed' && !existing) {
      // A human took the thread over after this email was drafted: it is theirs to write now.
      // (One Gmail already accepted, before a crash, is recorded below instead: cancelling it
      // would lose the thread id that the influencer's replies arrive on.)
      await withTx(deps.db, async (tx) => {
        await tx.outboxEmail.update({ where: { id: row.id }, data: { status: 'cancelled' } });
        await tx.auditEntry.create({ data: { negotiationId: negotiation.id, actor: 'agent', action: 'send_cancelled_human_managed', details: { outboxId: row.id, kind: row.kind } } });
      }, { scope });
      return { outcome: 'cancelled: human-managed' };
    }

    // A hand-over: marked now, in a transaction committed before the request, and given up by
    // the deadline at the latest (its connection reset), whatever it waits for on the way: the
    // mark's write lock, a token refresh, a retry after a 401. A run finding the row later waits
    // out the settle time from this mark.
    const markedAt = deps.now();
    const deadline = AbortSignal.timeout(timeoutMs);
    if (!existing) {
      // Another run that read the row as this one did claimed it first: the retry finds it
      // marked (or sent) and looks the Message-ID up.
      const claimed = attemptedAt === null ? await claimFirstSend(deps.db, row.id, markedAt, scope) : await claimSettledSend(deps.db, row.id, new Date(lookedUpAt.getTime() - settleMs), markedAt, scope);
      if (!claimed) throw new TransientError('another run of this send is handing it to Gmail; the retry looks it up');
    }
    const unmark = (why: string) => releaseUnsentMark(deps.db, row.id, markedAt, scope).catch((e: unknown) => log.warn(`could not un-mark ${why}; its next run waits the settle time`, { outboxId: row.id, error: String(e) }));
    // A worker whose job lock lapsed (its host was cut off, it stalled) no longer owns this
    // send: the job's new owner looks the Message-ID up and sends. Checked last thing before
    // Gmail, so a lock lost during the lookup or the claim never sends a second email. A first
    // mark set by this run is taken back (nothing went out), so the new owner need not wait.
    if (!existing && ctx.signal?.aborted) {
      if (attemptedAt === null) await unmark('a send whose lock was lost before its request');
      throw new TransientError('the job lock was lost before the send; the job\'s new owner sends it');
    }
    const threadId = row.gmailThreadId ?? negotiation.gmailThreadId ?? undefined;
    const send = async () => {
      try {
        return await deps.gmail.send(
          buildMime({ from: deps.mailbox, to: row.toAddress, subject: row.subject, body: row.body, messageIdHdr: row.messageIdHdr, inReplyTo: row.inReplyTo, references: row.references }),
          threadId,
          { signal: deadline },
        );
      } catch (error) {
        // Only a first mark: a row handed over before this run keeps its mark and its wait.
        if (refusedByGmail(error) && attemptedAt === null) await unmark('a refused send');
        throw error;
      }
    };
    const sent = existing ?? (await send());
    if (existing) log.warn('email already in the mailbox; recording it without sending again', { outboxId: row.id });

    const events: NegotiationEvent[] = negotiation.state === 'outreach_sent' || negotiation.state === 'counter_sent' ? ['email_delivered'] : [];
    // In raw SQL, as the steps' transactions, under the same write lock as withTx (scoped likewise).
    await sqlOf(deps.db).transaction(async (tx) => {
      const $ = (n: number) => placeholder(tx.engine, n);
      const marked = await tx.execute(`UPDATE "OutboxEmail" SET "status" = 'sent', "gmailMessageId" = ${$(1)}, "gmailThreadId" = ${$(2)}, "sentAt" = ${$(3)} WHERE "id" = ${$(4)}`, sent.id, sent.threadId, deps.now(), row.id);
      // Prisma's update fails the same way on a row that is gone (resuming a negotiation before outreach deletes its unsent rows).
      if (marked !== 1) throw new Error(`outbox row ${row.id} disappeared before its send was recorded`);
      // A send recorded late (its worker died after Gmail accepted it) may come after a later
      // email of the thread was sent and recorded: that one stays the thread's latest.
      const superseded = await sentAfter(tx, negotiation.id, row.createdAt);
      const record = (current: typeof negotiation) =>
        applyTransitions(tx, {
          negotiation: current,
          events: current.state === negotiation.state ? events : [],
          data: { gmailThreadId: current.gmailThreadId ?? sent.threadId, ...(superseded ? {} : { lastMessageIdHdr: row.messageIdHdr, lastOutboundAt: deps.now() }) },
          details: { outboxId: row.id, kind: row.kind, gmailMessageId: sent.id },
          actor: 'agent',
          at: deps.now(),
        });
      // Usually nothing changed the negotiation since it was read with the row (its version
      // says so); otherwise it is read again under the write lock and recorded from there.
      try {
        await record(negotiation);
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        const current = await findNegotiation(tx, negotiation.id);
        if (!current) throw new Error(`negotiation ${negotiation.id} disappeared before its send was recorded`);
        await record(current);
      }
    }, { scope });
    if (!existing) deps.metrics.emailsSent.inc({ kind: row.kind });
    log.info('email sent', { outboxId: row.id, kind: row.kind, gmailMessageId: sent.id });
    return { outcome: existing ? 'recorded existing' : 'sent', gmailMessageId: sent.id };
  };
}
