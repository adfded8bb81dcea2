import { withTx, type Db } from '@parley/db';
import { createSendEmailHandler } from '@parley/engine';
import { createMetrics } from '@parley/metrics';
import { closeQueues, createQueues, createRedis, TransientError, type Queues } from '@parley/queue';
import type { Redis } from 'ioredis';
import { createGmailClient } from '@parley/google';
import { startGoogleGate } from '../e2e/google-gate';
import { startGoogleHarness, type GoogleHarness } from '../google/google.harness';
import { createTestDatabase } from '../support/db';
import { capturingLogger } from '../support/logs';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import { MAILBOX, seedNegotiation } from './engine-harness';

/**
 * A worker that lost its job's lock (cut off the network, stalled past the lock) no longer owns
 * the send: the job's new owner looks the Message-ID up and sends. If the old owner still sent
 * after that lookup, the influencer would get the email twice.
 */
describe('the send handler: a lost job lock, a negotiation changed during the send', () => {
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

  it('does not send once the lock is gone, and sends when it still holds it', async () => {
    const { log } = capturingLogger('send-lock', 'error');
    const handler = createSendEmailHandler({ db: database.db, queues, metrics: createMetrics(), log, now: () => new Date(), gmail: google.gmail, mailbox: MAILBOX });
    const outboxId = await pendingEmail(database.db);

    const lost = new AbortController();
    lost.abort();
    const error = await handler({ outboxId }, { log, signal: lost.signal } as Parameters<typeof handler>[1]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/job lock was lost before the send/);
    expect(google.sandbox.sent()).toHaveLength(0);
    expect((await database.db.outboxEmail.findUniqueOrThrow({ where: { id: outboxId } })).status).toBe('pending');

    // The owner (the same row, a live signal) sends it, once.
    await expect(handler({ outboxId }, { log, signal: new AbortController().signal } as Parameters<typeof handler>[1])).resolves.toMatchObject({ outcome: 'sent' });
    expect(google.sandbox.sent()).toHaveLength(1);
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
