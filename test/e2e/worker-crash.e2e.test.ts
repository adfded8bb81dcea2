import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, PHRASES, randomMessageId, seedDemoCampaign, type MailView } from '@parley/sandbox';
import { jobIds } from '@parley/queue';
import { waitFor } from '../support/wait';
import { replyAs } from './influencer-mail';
import { checkLoopIntegrity } from './loop-assertions';
import { createLoopHarness, killNow, syncJobId, type LoopHarness, type LoopProcess } from './loop-harness';

jest.setTimeout(240_000);

const influencers = DEMO_INFLUENCERS.slice(0, 3);
const HISTORY_LIST = { method: 'GET', path: /^\/gmail\/v1\/users\/[^/]+\/history$/ };

/**
 * `kill -9` of the one worker process at the two most delicate instants: between Gmail
 * accepting an email and the outbox row being marked sent, and in the middle of a mailbox
 * sync that holds the mailbox lock. A fresh worker process then recovers on its own (stalled
 * jobs run again after their lock expires); the test only pushes the notifications Gmail
 * would have pushed.
 */
describe('a worker killed at the worst moment (API + one worker at a time)', () => {
  let h: LoopHarness;
  let worker: LoopProcess;

  const negotiationOf = (email: string) => h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: email }, include: { outbox: true } });
  const processed = (ids: string[]) => async () => (await h.db.inboundMessage.count({ where: { gmailMessageId: { in: ids }, processedAt: { not: null } } })) === ids.length;

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'crash', env: { FOLLOW_UP_AFTER: '3600' } });
    await h.start(1);
    worker = h.running().find((p) => p.name.startsWith('worker')) as LoopProcess;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sends an email exactly once when the worker dies after Gmail accepted it and before the row was marked sent', async () => {
    let killed: MailView | null = null;
    const stop = h.sandbox.google.onSent((mail) => {
      if (killed) return;
      killed = mail;
      // Runs inside Gmail's send, before it answers: the worker never hears that it succeeded.
      killNow(worker.pid);
    });
    seedDemoCampaign(h.sandbox, { influencers });
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    await worker.exited;
    stop();
    const sent = killed as MailView | null;
    if (!sent) throw new Error('no email was sent before the worker died');

    const row = await h.db.outboxEmail.findUniqueOrThrow({ where: { messageIdHdr: sent.messageIdHdr ?? '' }, include: { negotiation: true } });
    expect(row.status).toBe('pending');
    expect(row.negotiation.gmailThreadId).toBeNull();
    const who = influencers.find((i) => i.email === row.negotiation.influencerEmail);
    if (!who) throw new Error(`unexpected recipient ${row.negotiation.influencerEmail}`);

    // The influencer answers the email we have no record of sending, before any worker is back.
    const reply = replyAs(h.sandbox.google, who, PHRASES.accept(row.negotiation.currentOfferMinor ?? 0));
    expect((await h.push(reply.notification)).status).toBe(204);

    worker = await h.startWorker();
    await waitFor('every opening sent and the reply answered', async () => (await h.db.outboxEmail.count({ where: { status: 'sent' } })) === influencers.length + 1 && (await processed([reply.id])()), 120_000, 200);
    await h.waitForIdle(60_000);

    const copies = h.sandbox.google.sent().filter((m) => m.messageIdHdr === sent.messageIdHdr);
    expect(copies).toHaveLength(1);
    const recovered = await h.db.outboxEmail.findUniqueOrThrow({ where: { id: row.id }, include: { negotiation: true } });
    expect(recovered).toMatchObject({ status: 'sent', gmailMessageId: sent.id, gmailThreadId: sent.threadId });
    expect(recovered.negotiation).toMatchObject({ state: 'agreed', gmailThreadId: sent.threadId, agreedRateMinor: row.negotiation.currentOfferMinor });
    // The recovered send does not make the opening our latest email again: later emails were answered since.
    const latest = h.sandbox.google.messagesInThread(sent.threadId).filter((m) => m.direction === 'outbound').at(-1);
    expect(recovered.negotiation.lastMessageIdHdr).toBe(latest?.messageIdHdr);
    const job = await h.job('outbound-email', jobIds.sendEmail(row.id));
    expect(job?.returnvalue).toMatchObject({ outcome: 'recorded existing', gmailMessageId: sent.id });
    expect(job?.stalledCounter).toBe(1);
    await checkLoopIntegrity(h.db, h.sandbox.google);
    expect(await h.db.deadLetter.count()).toBe(0);
  });

  it('loses no reply when the worker dies in the middle of a mailbox sync', async () => {
    const waiting = [];
    for (const i of influencers) if ((await negotiationOf(i.email)).state === 'awaiting_reply') waiting.push(i);
    const [first, second] = waiting;
    if (!first || !second) throw new Error('two negotiations awaiting a reply are needed');

    const held = h.gate.hold(HISTORY_LIST);
    const r1 = replyAs(h.sandbox.google, first, PHRASES.accept((await negotiationOf(first.email)).currentOfferMinor ?? 0));
    const m1 = randomMessageId();
    expect((await h.push(r1.notification, m1)).status).toBe(204);
    await held.arrived;

    // While that sync holds the mailbox lock, another reply and its notification arrive.
    const r2 = replyAs(h.sandbox.google, second, PHRASES.accept((await negotiationOf(second.email)).currentOfferMinor ?? 0));
    const m2 = randomMessageId();
    expect((await h.push(r2.notification, m2)).status).toBe(204);
    // Left to the running sync by the API: recorded, no job of its own.
    expect(await h.job('gmail-notifications', syncJobId(m2))).toBeUndefined();

    killNow(worker.pid);
    await worker.exited;
    held.release();
    expect(await h.db.inboundMessage.count({ where: { gmailMessageId: { in: [r1.id, r2.id] } } })).toBe(0);

    // No further notification: the restarted sync job (or, if it finds the lock taken after a
    // retry, the periodic sync holding it, which re-checks after releasing) brings both in.
    worker = await h.startWorker();
    await waitFor('both replies processed', processed([r1.id, r2.id]), 120_000, 200);
    await h.waitForIdle(60_000);
    // The sync killed holding the mailbox ran again: m1's own, or a periodic sync (the harness
    // runs one every second) that took the held history call first. In that case m1 either
    // found the lock taken at the API (no job of its own, like m2) or its job found it taken.
    const syncs = await h.queues['gmail-notifications'].getJobs(['completed', 'failed'], 0, -1);
    const rerunAfterKill = syncs.filter((j) => j.stalledCounter === 1);
    expect(rerunAfterKill.length).toBeGreaterThanOrEqual(1);
    const rerun = await h.job('gmail-notifications', syncJobId(m1));
    const outcome = (rerun?.returnvalue as { outcome?: string } | undefined)?.outcome;
    if (!rerun) expect(await h.db.webhookDelivery.count({ where: { id: syncJobId(m1) } })).toBe(1);
    else if (rerun.stalledCounter === 0) expect(outcome).toBe('covered by the running sync');
    else expect(['synced', 'covered by the running sync']).toContain(outcome);
    for (const i of [first, second]) expect((await negotiationOf(i.email)).state).toBe('agreed');
    await checkLoopIntegrity(h.db, h.sandbox.google);
    expect(await h.db.deadLetter.count()).toBe(0);
  });
});
