import { negotiationScope, openDatabase, withTx, type Db } from '@parley/db';
import { createSendEmailHandler } from '@parley/engine';
import { createGmailClient } from '@parley/google';
import { capturingLogger } from '../support/logs';
import { whileHeld } from '../support/pg-locks';
import { testDatabaseEngine } from '../support/test-database';
import { startGoogleHarness, type GoogleHarness } from '../google/google.harness';
import { createEngineHarness, MAILBOX, seedNegotiation, type EngineHarness } from './engine-harness';

/**
 * The hot path's transactions on PostgreSQL are scoped to their negotiation (docs/scaling.md,
 * "Write scopes"): a step and a send commit while another negotiation's transaction is open (an
 * unscoped transaction anywhere on their way would wait for it), and wait for one of their own
 * negotiation. The held transaction is another client's, as another worker process's would be.
 */
(testDatabaseEngine() === 'postgres' ? describe : describe.skip)('write scopes of a step and a send (PostgreSQL)', () => {
  let h: EngineHarness;
  let google: GoogleHarness;
  let other: Db;

  beforeAll(async () => {
    h = await createEngineHarness('write-scopes');
    google = await startGoogleHarness({ mailbox: MAILBOX });
    other = openDatabase(h.dbUrl);
    await h.start({ concurrency: 2 });
  });
  afterAll(async () => {
    await other.$disconnect();
    await h.close();
    await google.sandbox.close();
  });

  it("commits a step while another negotiation's transaction is open, and waits for one of its own negotiation", async () => {
    const [a, b, c] = [await seedNegotiation(h.db), await seedNegotiation(h.db), await seedNegotiation(h.db)];
    const opened = await whileHeld(other, negotiationScope(b.id), async () => h.finished(await h.step({ negotiationId: a.id, kind: 'open' })));
    expect(opened.outcome).toBe('committed');
    expect(await h.db.outboxEmail.count({ where: { negotiationId: a.id } })).toBe(1);

    const waited = await whileHeld(other, negotiationScope(c.id), async (order) => {
      await h.finished(await h.step({ negotiationId: c.id, kind: 'open' }));
      order.push('step');
    });
    expect(waited).toEqual({ outcome: 'waiting', order: ['held', 'step'] });
    expect(await h.db.outboxEmail.count({ where: { negotiationId: c.id } })).toBe(1);
  });

  it("sends while another negotiation's transaction is open, and waits for one of its own negotiation", async () => {
    const { log } = capturingLogger('write-scopes-send', 'error');
    const gmail = createGmailClient({ auth: google.auth, rootUrl: google.sandbox.url });
    const send = createSendEmailHandler({ db: h.db, queues: h.queues, metrics: h.metrics, log, now: () => new Date(), gmail, mailbox: MAILBOX });
    const ctx = { log, signal: new AbortController().signal } as unknown as Parameters<typeof send>[1];
    const pending = async () => {
      const n = await seedNegotiation(h.db, {}, { state: 'outreach_queued' });
      // A first email: no thread yet (Gmail starts one).
      const row = await withTx(h.db, async (tx) => {
        await tx.negotiation.update({ where: { id: n.id }, data: { gmailThreadId: null } });
        return tx.outboxEmail.create({ data: { negotiationId: n.id, kind: 'opening', messageIdHdr: `<${n.id}.open@brand.test>`, toAddress: n.influencerEmail, subject: 'Spring Launch', body: 'Hello' } });
      });
      return { negotiationId: n.id, outboxId: row.id };
    };
    const [a, b] = [await pending(), await pending()];
    const sentBefore = google.sandbox.sent().length;
    const first = await whileHeld(other, negotiationScope(b.negotiationId), () => send({ outboxId: a.outboxId }, ctx));
    expect(first.outcome).toBe('committed');
    const waited = await whileHeld(other, negotiationScope(b.negotiationId), async (order) => {
      await send({ outboxId: b.outboxId }, ctx);
      order.push('send');
    });
    expect(waited).toEqual({ outcome: 'waiting', order: ['held', 'send'] });
    expect(google.sandbox.sent()).toHaveLength(sentBefore + 2);
    expect(await h.db.outboxEmail.findMany({ where: { id: { in: [a.outboxId, b.outboxId] } }, select: { status: true } })).toEqual([{ status: 'sent' }, { status: 'sent' }]);
  });
});
