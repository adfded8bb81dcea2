import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, PHRASES, randomMessageId, seedDemoCampaign } from '@parley/sandbox';
import { waitFor } from '../support/wait';
import { replyAs, type InfluencerReply } from './influencer-mail';
import { checkLoopIntegrity } from './loop-assertions';
import { createLoopHarness, syncJobId, type LoopHarness } from './loop-harness';

jest.setTimeout(240_000);

const [ava, carl, greta, otto, sam] = DEMO_INFLUENCERS as [(typeof DEMO_INFLUENCERS)[number], (typeof DEMO_INFLUENCERS)[number], (typeof DEMO_INFLUENCERS)[number], (typeof DEMO_INFLUENCERS)[number], (typeof DEMO_INFLUENCERS)[number]];
const HISTORY_LIST = { method: 'GET', path: /^\/gmail\/v1\/users\/[^/]+\/history$/ };

/**
 * Pub/Sub as it really behaves: at least once, in any order, sometimes while a sync is
 * running, and Gmail's history expiring under a stale cursor. The test pushes every
 * notification itself (nothing is pushed automatically), in the order it chooses.
 */
describe('Gmail notifications duplicated, reordered, concurrent and stale (API + 2 workers)', () => {
  let h: LoopHarness;

  const offerOf = async (email: string) => (await h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: email } })).currentOfferMinor ?? 0;
  const inboundIds = async () => (await h.db.inboundMessage.findMany({ select: { gmailMessageId: true } })).map((m) => m.gmailMessageId).sort();
  const processed = (ids: string[]) => async () => (await h.db.inboundMessage.count({ where: { gmailMessageId: { in: ids }, processedAt: { not: null } } })) === ids.length;
  const settle = async (ids: string[]) => {
    await waitFor(`${ids.length} replies processed`, processed(ids), 120_000, 200);
    await h.waitForIdle(120_000);
  };

  beforeAll(async () => {
    // No follow-ups during the test: every email is an answer to a reply the test sent.
    h = await createLoopHarness({ label: 'pubsub', env: { FOLLOW_UP_AFTER: '3600' } });
    await h.start(2);
    seedDemoCampaign(h.sandbox);
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    await waitFor(
      'every opening email sent',
      async () => (await h.db.negotiation.count({ where: { state: 'awaiting_reply' } })) === DEMO_INFLUENCERS.length,
      120_000,
      200,
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it('processes each reply exactly once when every notification arrives twice and out of order', async () => {
    const replies: [InfluencerReply, string][] = [
      replyAs(h.sandbox.google, ava, PHRASES.accept(await offerOf(ava.email))),
      replyAs(h.sandbox.google, carl, PHRASES.counter(130_000)),
      // Two replies before we answer: one step reads both and sends one email.
      replyAs(h.sandbox.google, greta, 'Before I answer: does the fee include usage rights?'),
      replyAs(h.sandbox.google, greta, PHRASES.counter(120_000)),
    ].map((r) => [r, randomMessageId()]);
    const [r1, r2, r3, r4] = replies as [[InfluencerReply, string], [InfluencerReply, string], [InfluencerReply, string], [InfluencerReply, string]];

    // Newest first, each delivered twice under its Pub/Sub message id, two of them at once.
    const order = [r4, r2, r4, r3, r1, r2, r1, r3];
    const statuses = await Promise.all(order.slice(0, 2).map(([r, id]) => h.push(r.notification, id)));
    for (const [r, id] of order.slice(2)) statuses.push(await h.push(r.notification, id));
    expect(statuses.map((s) => s.status)).toEqual(Array(order.length).fill(204));
    await settle(replies.map(([r]) => r.id));

    expect(await inboundIds()).toEqual(replies.map(([r]) => r.id).sort());
    await checkLoopIntegrity(h.db, h.sandbox.google);
    // One delivery row per Pub/Sub message id, however often it was delivered.
    expect(await h.db.webhookDelivery.count({ where: { queue: 'gmail-notifications' } })).toBe(4);
    // At most one sync job per distinct notification, completed; a notification that arrived
    // while a sync held the mailbox (the harness also runs a periodic one every second) has
    // none: the API left it to that sync, which read it above.
    for (const [, id] of replies) expect(['completed', 'unknown']).toContain(await h.queues['gmail-notifications'].getJobState(syncJobId(id)));
    const notified = (await h.queues['gmail-notifications'].getJobs(['completed', 'failed', 'active', 'waiting', 'delayed'])).filter((j) => !String(j.id).startsWith('periodic.'));
    expect(notified.length).toBeLessThanOrEqual(4);
    for (const j of notified) expect(replies.map(([, id]) => syncJobId(id))).toContain(j.id);

    // Greta's two messages were read together and answered with one email.
    const gretaNeg = await h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: greta.email }, include: { transitions: true, outbox: true } });
    const read = gretaNeg.transitions.filter((t) => t.event === 'reply_received');
    expect(read).toHaveLength(1);
    expect((read[0]?.details as { messages: string[] }).messages).toEqual([r3[0].id, r4[0].id]);
    expect(gretaNeg.outbox.filter((o) => o.kind !== 'opening').map((o) => o.id)).toEqual([`${gretaNeg.id}.r-${r4[0].id}`]);
    for (const who of [ava, carl]) {
      const n = await h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: who.email }, include: { outbox: true } });
      expect(n.outbox.filter((o) => o.kind !== 'opening')).toHaveLength(1);
    }
    expect((await h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: ava.email } })).state).toBe('agreed');
    expect(await h.db.deadLetter.count()).toBe(0);
  });

  it('does not lose a notification that arrives while a sync is running', async () => {
    const carlsOffer = await offerOf(carl.email);
    const held = h.gate.hold(HISTORY_LIST);
    const first = replyAs(h.sandbox.google, carl, PHRASES.accept(carlsOffer));
    const firstId = randomMessageId();
    expect((await h.push(first.notification, firstId)).status).toBe(204);
    // A sync has read Gmail's history and holds the lock. Its answer may predate the first reply
    // (a periodic sync's answer on its way through the gate when the hold was set); the second
    // pass below reads what the first did not.
    expect((await held.arrived).status).toBe(200);
    // The sync holding the lock is the first notification's job or, with the periodic forced
    // sync running every second here, a periodic one that reached Gmail first: either way one
    // sync is inside Gmail's history call, and every later notification must be left to it.
    // Jobs that find the lock taken finish at once; the holder stays active while Gmail's answer is held.
    let holder: string[] = [];
    await waitFor('one sync to hold the mailbox', async () => {
      holder = (await h.queues['gmail-notifications'].getJobs(['active'])).map((j) => j.id).filter((id): id is string => id !== undefined);
      return holder.length === 1;
    }, 30_000, 100);
    const runningId = holder[0] as string;

    const second = replyAs(h.sandbox.google, greta, PHRASES.accept(await offerOf(greta.email)));
    const secondId = randomMessageId();
    expect((await h.push(second.notification, secondId)).status).toBe(204);
    // The API found the mailbox's lock held once the notification was committed: it is
    // recorded, and left to the running sync without a job of its own.
    expect(await h.db.webhookDelivery.count({ where: { id: syncJobId(secondId) } })).toBe(1);
    expect(await h.queues['gmail-notifications'].getJob(syncJobId(secondId))).toBeUndefined();
    expect(await h.queues['gmail-notifications'].getJobState(runningId)).toBe('active');
    expect(await h.db.inboundMessage.count({ where: { gmailMessageId: second.id } })).toBe(0);

    held.release();
    await settle([first.id, second.id]);
    // The running sync went round again because the notified history id had moved past its cursor.
    const running = await h.job('gmail-notifications', runningId);
    expect(running?.returnvalue).toMatchObject({ outcome: 'synced' });
    expect((running?.returnvalue as { passes: number }).passes).toBeGreaterThanOrEqual(2);
    await checkLoopIntegrity(h.db, h.sandbox.google);
    const states = await h.db.negotiation.findMany({ where: { influencerEmail: { in: [carl.email, greta.email] } }, select: { state: true } });
    expect(states.map((s) => s.state)).toEqual(['agreed', 'agreed']);
  });

  it('falls back to a thread resync when the cursor is older than Gmail\'s history, losing and repeating nothing', async () => {
    const before = replyAs(h.sandbox.google, otto, PHRASES.counter(90_000));
    expect((await h.push(before.notification)).status).toBe(204);
    await settle([before.id]);

    const samsOffer = await offerOf(sam.email);
    const ottosOffer = await offerOf(otto.email);
    // No await from the first of these replies to the expiry: the stand-in runs in this process,
    // so no sync can read history in between and move the cursor up to the first reply, which
    // would make the next read an ordinary one instead of a 404.
    const fromSam = replyAs(h.sandbox.google, sam, PHRASES.accept(samsOffer));
    const fromOtto = replyAs(h.sandbox.google, otto, PHRASES.accept(ottosOffer));
    // A reply on a thread that is already agreed: no answer, but a human must see it.
    const fromAva = replyAs(h.sandbox.google, ava, 'Thanks! I will send the draft by Friday.');
    // Gmail keeps no history before these replies: the stored cursor now answers 404.
    h.sandbox.google.expireHistoryBefore(fromSam.historyId);
    const ottoId = randomMessageId();
    expect((await h.push(fromOtto.notification, ottoId)).status).toBe(204);
    expect((await h.push(fromSam.notification)).status).toBe(204);
    expect((await h.push(fromOtto.notification, ottoId)).status).toBe(204);
    await settle([fromSam.id, fromOtto.id, fromAva.id]);

    // Otto's job or the periodic forced sync (every second here), whichever met the 404 first, resynced.
    const syncs = await h.queues['gmail-notifications'].getJobs(['completed']);
    const logs = (await Promise.all(syncs.map(async (j) => (j.id ? (await h.queues['gmail-notifications'].getJobLogs(j.id)).logs : [])))).flat();
    expect(logs).toContain('full resync: history cursor too old (404)');
    expect(h.sandbox.google.requests().some((r) => r.status === 404 && /\/history$/.test(r.path))).toBe(true);
    expect(await h.db.inboundMessage.count({ where: { negotiation: { influencerEmail: otto.email } } })).toBe(2);
    const forwarded = await h.db.auditEntry.findMany({ where: { action: 'reply_forwarded' } });
    expect(forwarded.filter((a) => JSON.stringify(a.details).includes(fromAva.id))).toHaveLength(1);

    // The cursor the resync left behind works: the next notification is an ordinary history read.
    const after = replyAs(h.sandbox.google, sam, 'Great, talk soon!');
    const afterId = randomMessageId();
    expect((await h.push(after.notification, afterId)).status).toBe(204);
    await settle([after.id]);
    expect((await h.queues['gmail-notifications'].getJobLogs(syncJobId(afterId))).logs).toEqual([]);

    await checkLoopIntegrity(h.db, h.sandbox.google);
    const states = await h.db.negotiation.findMany({ where: { influencerEmail: { in: [otto.email, sam.email] } }, select: { influencerEmail: true, state: true }, orderBy: { influencerEmail: 'asc' } });
    expect(states).toEqual([
      { influencerEmail: otto.email, state: 'agreed' },
      { influencerEmail: sam.email, state: 'agreed' },
    ]);
    expect(await h.db.deadLetter.count()).toBe(0);
  });
});
