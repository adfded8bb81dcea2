import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, seedDemoCampaign } from '@parley/sandbox';
import { waitFor } from '../support/wait';
import { replyAs } from './influencer-mail';
import { createLoopHarness, type LoopHarness } from './loop-harness';

jest.setTimeout(240_000);

const [ava, carl] = DEMO_INFLUENCERS as [(typeof DEMO_INFLUENCERS)[number], (typeof DEMO_INFLUENCERS)[number]];

/**
 * Gmail's own failure modes the notification path cannot cover: a message deleted between
 * history listing it and us fetching it (404), and notifications that never arrive.
 */
describe('mailbox sync resilience (API + 1 worker)', () => {
  let h: LoopHarness;
  const processed = (gmailMessageId: string) => async () =>
    (await h.db.inboundMessage.count({ where: { gmailMessageId, processedAt: { not: null } } })) === 1;

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'mbx', env: { FOLLOW_UP_AFTER: '3600' } });
    await h.start(1);
    seedDemoCampaign(h.sandbox);
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    await waitFor('every opening email sent', async () => (await h.db.negotiation.count({ where: { state: 'awaiting_reply' } })) === DEMO_INFLUENCERS.length, 120_000, 200);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('skips a message deleted before it could be read, and keeps syncing the rest', async () => {
    const deleted = replyAs(h.sandbox.google, carl, 'Thanks for reaching out! My rate for this would be $1,300.00.');
    expect(h.sandbox.google.deleteMessage(deleted.id)).toBe(true);
    const kept = replyAs(h.sandbox.google, ava, 'That works for me, happy to accept $1,000.00.');
    await h.push(kept.notification);
    await waitFor("Ava's reply processed", processed(kept.id), 60_000, 100);
    expect(await h.db.inboundMessage.count({ where: { gmailMessageId: deleted.id } })).toBe(0);
    expect(await h.db.deadLetter.count({ where: { queue: 'gmail-notifications' } })).toBe(0);
    await waitFor('Ava agreed', async () => (await h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: ava.email } })).state === 'agreed', 60_000, 100);
  });

  it('picks up a reply whose notification never came, through the periodic sync', async () => {
    const quiet = replyAs(h.sandbox.google, carl, 'Thanks for reaching out! My rate for this would be $1,300.00.');
    // No push at all: only the maintenance task's forced history pass can find it.
    await waitFor("Carl's unannounced reply processed", processed(quiet.id), 60_000, 100);
    const carlNow = await h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: carl.email } });
    expect(carlNow.state).toBe('counter_sent');
    expect(await h.db.deadLetter.count({ where: { queue: 'gmail-notifications' } })).toBe(0);
  });
});
