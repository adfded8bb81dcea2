import { withTx, type Db } from '@parley/db';
import { claimFirstSend, claimSettledSend, createSendEmailHandler, DEFAULT_SEND_SETTLE_MS } from '@parley/engine';
import { createMetrics } from '@parley/metrics';
import { closeQueues, createQueues, createRedis, DeferredError, RateLimitedError, TransientError, type Queues } from '@parley/queue';
import type { Redis } from 'ioredis';
import { buildMime, createGmailClient } from '@parley/google';
import { startGoogleGate } from '../e2e/google-gate';
import { startGoogleHarness, type GoogleHarness } from '../google/google.harness';
import { createTestDatabase } from '../support/db';
import { testDatabaseEngine } from '../support/test-database';
import { capturingLogger } from '../support/logs';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import { MAILBOX, seedNegotiation } from './engine-harness';

/**
 * A send looks its Message-ID up in the mailbox only when its row was marked as handed to Gmail
 * (a run may have died after Gmail accepted it); a row never marked was never sent.
 * A worker that lost its job's lock (cut off the network, stalled past the lock) no longer owns
 * the send: the job's new owner looks the Message-ID up and sends. If the old owner still sent
 * after that lookup, the influencer would get the email twice.
 */
describe('the send handler: the lookup before a resend, a lost job lock, a negotiation changed during the send', () => {
  let google: GoogleHarness;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: Redis;
  let queues: Queues;
  const prefix = uniquePrefix('send-lock');

  beforeAll(async () => {
    google = await startGoogleHarness({ mailbox: MAILBOX });
    database = await createTestDatabase('send-lock');
    redis = createRedis(redisUrl(), 'worker');
    queues = createQueues(redis, prefix);
  });
  afterAll(async () => {
    await closeQueues(queues);
    await redis.quit();
    await dropPrefix(redisUrl(), prefix);
    await database.cleanup();
    await google.sandbox.close();
  });

  async function pendingEmail(db: Db): Promise<string> {
    const negotiation = await seedNegotiation(db, {}, { state: 'outreach_sent' });
    return withTx(db, async (tx) => {
      await tx.negotiation.update({ where: { id: negotiation.id }, data: { gmailThreadId: null } });
      const row = await tx.outboxEmail.create({
        data: { negotiationId: negotiation.id, kind: 'open', messageIdHdr: `<${negotiation.id}.open@parley.test>`, toAddress: negotiation.influencerEmail, subject: 'Spring Launch', body: 'Hello' },
      });
      return row.id;
    });
  }

  const live = () => ({ signal: new AbortController().signal });
  type Ctx = Parameters<ReturnType<typeof createSendEmailHandler>>[1];
  /** Gmail's Message-ID searches so far (the lookup before a resend). */
  const lookups = () => google.sandbox.requests().filter((r) => r.method === 'GET' && /\/messages$/.test(r.path) && r.query.includes('rfc822msgid')).length;
  const outboxRow = (id: string) => database.db.outboxEmail.findUniqueOrThrow({ where: { id } });

  it('marks a first send before Gmail has it, sends it without a lookup, once', async () => {
    const { log } = capturingLogger('send-first', 'error');
    const gate = await startGoogleGate(google.sandbox.url);
    try {
      const gmail = createGmailClient({ auth: google.auth, rootUrl: gate.url });
      const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail, mailbox: MAILBOX });
      const outboxId = await pendingEmail(database.db);
      const [lookupsBefore, sentBefore] = [lookups(), google.sandbox.sent().length];
      const held = gate.hold({ method: 'POST', path: /\/messages\/send$/ });
      const sending = handler({ outboxId }, { log, ...live() } as Ctx);
      await held.arrived;
      // Gmail has it, the row is still pending: what a crash now leaves is marked, so the
      // next run looks it up.
      expect(await outboxRow(outboxId)).toMatchObject({ status: 'pending', attemptedAt: expect.any(Date) });
      held.release();
      await expect(sending).resolves.toMatchObject({ outcome: 'sent' });
      expect(lookups()).toBe(lookupsBefore);
      expect(google.sandbox.sent()).toHaveLength(sentBefore + 1);
    } finally {
      await gate.close();
    }
  });

  it('looks a marked row up: records the email Gmail already has, sends one it lacks', async () => {
    const { log } = capturingLogger('send-marked', 'error');
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail: google.gmail, mailbox: MAILBOX });

    // Handed to Gmail by a run that died before recording it.
    const accepted = await pendingEmail(database.db);
    const row = await database.db.outboxEmail.update({ where: { id: accepted }, data: { attemptedAt: new Date() } });
    const inMailbox = await google.gmail.send(buildMime({ from: MAILBOX, to: row.toAddress, subject: row.subject, body: row.body, messageIdHdr: row.messageIdHdr }));
    let [lookupsBefore, sentBefore] = [lookups(), google.sandbox.sent().length];
    await expect(handler({ outboxId: accepted }, { log, ...live() } as Ctx)).resolves.toEqual({ outcome: 'recorded existing', gmailMessageId: inMailbox.id });
    expect([lookups(), google.sandbox.sent().length]).toEqual([lookupsBefore + 1, sentBefore]);
    expect(await outboxRow(accepted)).toMatchObject({ status: 'sent', gmailMessageId: inMailbox.id });

    // Marked, but the run died before Gmail had it, longer ago than a request may still arrive.
    const lost = await pendingEmail(database.db);
    await database.db.outboxEmail.update({ where: { id: lost }, data: { attemptedAt: new Date(Date.now() - DEFAULT_SEND_SETTLE_MS - 1000) } });
    [lookupsBefore, sentBefore] = [lookups(), google.sandbox.sent().length];
    await expect(handler({ outboxId: lost }, { log, ...live() } as Ctx)).resolves.toMatchObject({ outcome: 'sent' });
    expect([lookups(), google.sandbox.sent().length]).toEqual([lookupsBefore + 1, sentBefore + 1]);
  });

  it('waits out the settle time before sending a marked row again, from the moment of its lookup', async () => {
    const { log } = capturingLogger('send-settle', 'error');
    let clock = Date.now();
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(clock), gmail: google.gmail, mailbox: MAILBOX, sendSettleMs: 8_000, sendTimeoutMs: 5_000 });
    const outboxId = await pendingEmail(database.db);
    // Handed to Gmail 3 s ago; no answer recorded (a crash, a timeout, a lost lock).
    await database.db.outboxEmail.update({ where: { id: outboxId }, data: { attemptedAt: new Date(clock - 3_000) } });
    const [lookupsBefore, sentBefore] = [lookups(), google.sandbox.sent().length];

    const deferred = await handler({ outboxId }, { log, ...live() } as Ctx).catch((e: unknown) => e);
    expect(deferred).toBeInstanceOf(DeferredError);
    expect(deferred).toMatchObject({ waitMs: 5_000, reason: 'send_settling' });
    // Looked up (an email Gmail has is recorded at once), not sent.
    expect([lookups(), google.sandbox.sent().length]).toEqual([lookupsBefore + 1, sentBefore]);

    // One millisecond short: still deferred.
    clock += 4_999;
    await expect(handler({ outboxId }, { log, ...live() } as Ctx)).rejects.toMatchObject({ waitMs: 1 });
    // Settled: looked up again and sent, once.
    clock += 1;
    await expect(handler({ outboxId }, { log, ...live() } as Ctx)).resolves.toMatchObject({ outcome: 'sent' });
    expect([lookups(), google.sandbox.sent().length]).toEqual([lookupsBefore + 3, sentBefore + 1]);
  });

  it('marks a settled row anew when it sends it again: a run that read the old mark loses the claim, a later one waits from the new mark', async () => {
    const { log } = capturingLogger('send-remark', 'error');
    let clock = Date.now();
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(clock), gmail: google.gmail, mailbox: MAILBOX, sendSettleMs: 8_000, sendTimeoutMs: 5_000 });
    const sentBefore = google.sandbox.sent().length;

    // Two runs read a settled mark (9 s old) and find nothing in the mailbox: one marks it anew
    // and hands it over, the other loses the claim.
    const contested = await pendingEmail(database.db);
    await database.db.outboxEmail.update({ where: { id: contested }, data: { attemptedAt: new Date(clock - 9_000) } });
    expect(await claimSettledSend(database.db, contested, new Date(clock - 8_000), new Date(clock))).toBe(true);
    expect(await claimSettledSend(database.db, contested, new Date(clock - 8_000), new Date(clock))).toBe(false);
    // A run that reads it a second later waits the settle time from the new mark.
    clock += 1_000;
    await expect(handler({ outboxId: contested }, { log, ...live() } as Ctx)).rejects.toMatchObject({ waitMs: 7_000 });

    // The handler's own resend marks the row at its hand-over.
    const resent = await pendingEmail(database.db);
    await database.db.outboxEmail.update({ where: { id: resent }, data: { attemptedAt: new Date(clock - 9_000) } });
    await expect(handler({ outboxId: resent }, { log, ...live() } as Ctx)).resolves.toMatchObject({ outcome: 'sent' });
    expect((await outboxRow(resent)).attemptedAt?.getTime()).toBe(clock);
    expect(google.sandbox.sent()).toHaveLength(sentBefore + 1);
  });

  it('gives a hand-over up at its deadline, counted from its mark, and keeps the mark', async () => {
    const { log } = capturingLogger('send-deadline', 'error');
    const gate = await startGoogleGate(google.sandbox.url);
    try {
      // The client would wait a minute for Gmail's answer; the send's deadline is 3 s from the mark
      // (long enough that the claim and the request reach the gate first on a loaded machine).
      const gmail = createGmailClient({ auth: google.auth, rootUrl: gate.url, timeoutMs: 60_000 });
      const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail, mailbox: MAILBOX, sendSettleMs: 4_000, sendTimeoutMs: 3_000 });
      const outboxId = await pendingEmail(database.db);
      const held = gate.hold({ method: 'POST', path: /\/messages\/send$/ });
      const started = Date.now();
      const error = await handler({ outboxId }, { log, ...live() } as Ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect(Date.now() - started).toBeLessThan(30_000);
      await held.arrived;
      held.release();
      // No answer: the outcome is unknown, so the row stays marked and the next run looks it up.
      expect(await outboxRow(outboxId)).toMatchObject({ status: 'pending', attemptedAt: expect.any(Date) });
    } finally {
      await gate.close();
    }
    expect(() => createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log: capturingLogger('x', 'error').log, now: () => new Date(), gmail: google.gmail, mailbox: MAILBOX, sendSettleMs: 300, sendTimeoutMs: 300 })).toThrow(/must exceed the send timeout/);
  });

  it('does not cancel a marked row for a human while its first request may still land', async () => {
    const { log } = capturingLogger('send-settle-human', 'error');
    let clock = Date.now();
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(clock), gmail: google.gmail, mailbox: MAILBOX, sendSettleMs: 8_000, sendTimeoutMs: 5_000 });
    const outboxId = await pendingEmail(database.db);
    const row = await database.db.outboxEmail.update({ where: { id: outboxId }, data: { attemptedAt: new Date(clock - 1_000) } });
    await database.db.negotiation.update({ where: { id: row.negotiationId }, data: { state: 'human_managed', claimedBy: 'U123', version: { increment: 1 } } });
    await expect(handler({ outboxId }, { log, ...live() } as Ctx)).rejects.toBeInstanceOf(DeferredError);
    expect(await outboxRow(outboxId)).toMatchObject({ status: 'pending' });
    clock += 7_000;
    await expect(handler({ outboxId }, { log, ...live() } as Ctx)).resolves.toEqual({ outcome: 'cancelled: human-managed' });
  });

  it('un-marks a send Gmail refused with an answer, and keeps the mark when the answer may hide a send', async () => {
    const { log } = capturingLogger('send-refused', 'error');
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail: google.gmail, mailbox: MAILBOX });
    const sentBefore = google.sandbox.sent().length;

    // 429: nothing was sent; the retry needs no lookup and no wait.
    const limited = await pendingEmail(database.db);
    google.sandbox.failNext(1, { status: 429, retryAfter: 1, pathContains: '/messages/send' });
    await expect(handler({ outboxId: limited }, { log, ...live() } as Ctx)).rejects.toBeInstanceOf(RateLimitedError);
    expect(await outboxRow(limited)).toMatchObject({ status: 'pending', attemptedAt: null });
    await expect(handler({ outboxId: limited }, { log, ...live() } as Ctx)).resolves.toMatchObject({ outcome: 'sent' });

    // 503: Gmail may have sent it; the mark stays, so the retry waits and looks it up.
    const unknown = await pendingEmail(database.db);
    google.sandbox.failNext(1, { status: 503, pathContains: '/messages/send' });
    await expect(handler({ outboxId: unknown }, { log, ...live() } as Ctx)).rejects.toMatchObject({ reason: 'http_503' });
    expect(await outboxRow(unknown)).toMatchObject({ status: 'pending', attemptedAt: expect.any(Date) });
    await expect(handler({ outboxId: unknown }, { log, ...live() } as Ctx)).rejects.toBeInstanceOf(DeferredError);
    expect(google.sandbox.sent()).toHaveLength(sentBefore + 1);
  });

  it('claims a first send once, and only while the row is pending', async () => {
    const outboxId = await pendingEmail(database.db);
    expect(await claimFirstSend(database.db, outboxId, new Date())).toBe(true);
    expect(await claimFirstSend(database.db, outboxId, new Date())).toBe(false);
    const cancelled = await pendingEmail(database.db);
    await database.db.outboxEmail.update({ where: { id: cancelled }, data: { status: 'cancelled' } });
    expect(await claimFirstSend(database.db, cancelled, new Date())).toBe(false);
    expect((await outboxRow(cancelled)).attemptedAt).toBeNull();
  });

  it('sends one email when two runs of a send start together', async () => {
    const { log } = capturingLogger('send-race', 'error');
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail: google.gmail, mailbox: MAILBOX });
    const outboxId = await pendingEmail(database.db);
    const sentBefore = google.sandbox.sent().length;
    const outcomes = await Promise.allSettled([handler({ outboxId }, { log, ...live() } as Ctx), handler({ outboxId }, { log, ...live() } as Ctx)]);
    // One sends. The other read the row before it was marked and lost the claim (always on
    // SQLite, where both reads run before either claim). PostgreSQL may run them other ways: the
    // other read it marked, looked it up and recorded what the first had sent, or found nothing
    // yet and waits out the settle time, or read it sent.
    const results = outcomes.map((o) =>
      o.status === 'fulfilled'
        ? (o.value as { outcome: string }).outcome
        : o.reason instanceof TransientError && /another run of this send/.test(o.reason.message)
          ? 'claim lost'
          : o.reason instanceof DeferredError
            ? 'deferred'
            : String(o.reason),
    );
    expect(results).toContain('sent');
    expect(results.filter((r) => r !== 'sent')).toEqual([testDatabaseEngine() === 'sqlite' ? 'claim lost' : expect.stringMatching(/^(claim lost|recorded existing|deferred|already sent)$/)]);
    expect(google.sandbox.sent()).toHaveLength(sentBefore + 1);
    await expect(handler({ outboxId }, { log, ...live() } as Ctx)).resolves.toEqual({ outcome: 'already sent' });
  });

  it('does not send once the lock is gone, and sends when it still holds it', async () => {
    const { log } = capturingLogger('send-lock', 'error');
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail: google.gmail, mailbox: MAILBOX });
    const outboxId = await pendingEmail(database.db);
    const [lookupsBefore, sentBefore] = [lookups(), google.sandbox.sent().length];

    const lost = new AbortController();
    lost.abort();
    const error = await handler({ outboxId }, { log, signal: lost.signal } as Parameters<typeof handler>[1]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/job lock was lost before the send/);
    expect(google.sandbox.sent()).toHaveLength(sentBefore);
    // Marked, then the lock was found lost before the request: nothing went out, so the mark
    // is taken back and the new owner neither looks it up nor waits.
    expect(await outboxRow(outboxId)).toMatchObject({ status: 'pending', attemptedAt: null });

    // The owner (the same row, a live signal) sends it, once.
    await expect(handler({ outboxId }, { log, signal: new AbortController().signal } as Parameters<typeof handler>[1])).resolves.toMatchObject({ outcome: 'sent' });
    expect([lookups(), google.sandbox.sent().length]).toEqual([lookupsBefore, sentBefore + 1]);
    expect((await database.db.outboxEmail.findUniqueOrThrow({ where: { id: outboxId } })).status).toBe('sent');
  });

  it('records a send from the negotiation as it is when Gmail answers, when someone changed it meanwhile', async () => {
    const { log } = capturingLogger('send-changed', 'error');
    const gate = await startGoogleGate(google.sandbox.url);
    try {
      const gmail = createGmailClient({ auth: google.auth, rootUrl: gate.url });
      const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail, mailbox: MAILBOX });
      const outboxId = await pendingEmail(database.db);
      const { negotiationId } = await database.db.outboxEmail.findUniqueOrThrow({ where: { id: outboxId } });
      const held = gate.hold({ method: 'POST', path: /\/messages\/send$/ });
      const sending = handler({ outboxId }, { log, signal: new AbortController().signal } as Parameters<typeof handler>[1]);
      await held.arrived;
      // A human claims the thread while Gmail is sending (the send was already on its way).
      const claimed = await database.db.negotiation.update({ where: { id: negotiationId }, data: { state: 'human_managed', claimedBy: 'U123', version: { increment: 1 } } });
      held.release();
      const result = await sending;
      expect(result).toMatchObject({ outcome: 'sent' });

      const after = await database.db.negotiation.findUniqueOrThrow({ where: { id: negotiationId } });
      const sent = google.sandbox.sent().find((m) => m.id === (result as { gmailMessageId: string }).gmailMessageId);
      // Recorded against the claimed negotiation: still the human's, no delivery event, but the
      // thread and the last email are the ones Gmail has.
      expect({ state: after.state, version: after.version, threadId: after.gmailThreadId, last: after.lastMessageIdHdr }).toEqual({
        state: 'human_managed',
        version: claimed.version + 1,
        threadId: sent?.threadId,
        last: (await database.db.outboxEmail.findUniqueOrThrow({ where: { id: outboxId } })).messageIdHdr,
      });
      expect(await database.db.transition.count({ where: { negotiationId, event: 'email_delivered' } })).toBe(0);
      expect(await database.db.outboxEmail.findUniqueOrThrow({ where: { id: outboxId } })).toMatchObject({ status: 'sent', gmailMessageId: sent?.id });
    } finally {
      await gate.close();
    }
  });
});
