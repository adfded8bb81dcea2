import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, PHRASES, seedDemoCampaign } from '@parley/sandbox';
import { createInteractionsSender, type InteractionsSender } from '@parley/sandbox/slack';
import { replyAs } from '../e2e/influencer-mail';
import { createLoopHarness, type LoopHarness } from '../e2e/loop-harness';
import { waitFor } from '../support/wait';
import { withAnswer } from './command-answer';

jest.setTimeout(240_000);

const OPERATOR = 'U0OPERATOR1';
const carl = DEMO_INFLUENCERS.find((i) => i.email.startsWith('carl')) ?? DEMO_INFLUENCERS[1];

/**
 * Human takeover end to end, with the real processes (API in HTTP mode for Slack, one worker)
 * against the sandbox: a signed /claim, the influencer's reply forwarded to the claimer by DM
 * while the agent writes nothing, a signed /resume, and the agent answering the next reply.
 */
describe('takeover from Slack: /claim, reply to the claimer by DM, /resume, the agent answers again', () => {
  let h: LoopHarness;
  let slack: InteractionsSender;

  const negotiation = () => h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: carl?.email } });
  const sentToCarl = () => h.sandbox.google.sent().filter((m) => m.to.toLowerCase().includes(carl?.email ?? '?')).length;
  /** A signed command with its answer, in the ack or (past the ack budget) after it. */
  const command = (input: { command: string; text: string; userId: string }) => withAnswer(h.sandbox.slack, input.userId, () => slack.command(input), (r) => r.body);

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'takeover', env: { FOLLOW_UP_AFTER: '3600', SLACK_OPERATORS: OPERATOR } });
    await h.start(1);
    slack = createInteractionsSender({ endpoint: `${h.apiUrl}/slack/events`, signingSecret: h.sandbox.slack.signingSecret });
    seedDemoCampaign(h.sandbox);
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    await waitFor('opening email to carl sent', async () => (await negotiation()).state === 'awaiting_reply', 120_000, 200);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('claims by email, forwards the reply by DM without answering it, and answers again after /resume', async () => {
    if (!carl) throw new Error('no demo influencer named carl');
    const claim = await command({ command: '/claim', text: carl.email, userId: OPERATOR });
    expect(claim.status).toBe(200);
    expect(claim.answer).toMatch(/^You hold negotiation/);
    const claimed = await negotiation();
    expect(claimed).toMatchObject({ state: 'human_managed', claimedBy: `slack:${OPERATOR}`, claimedBySlackId: OPERATOR });
    const emailsBefore = sentToCarl();

    const held = replyAs(h.sandbox.google, carl, 'Could we talk on the phone about the usage rights first?');
    expect((await h.push(held.notification)).status).toBe(204);
    const dm = h.sandbox.slack.dmChannelOf(OPERATOR);
    // The DM quotes the reply (in its blocks; the notification text is a title).
    const forwarded = (m: { text: string; blocks?: unknown[] }) => `${m.text} ${JSON.stringify(m.blocks ?? [])}`.includes('usage rights');
    await waitFor('the reply forwarded to the claimer by DM', () => h.sandbox.slack.messages(dm).some(forwarded), 60_000, 200);
    expect(h.sandbox.slack.messages(h.sandbox.slack.channel).some(forwarded)).toBe(false);
    await h.waitForIdle(60_000);
    // The agent wrote nothing and changed nothing while the human held the thread.
    expect(sentToCarl()).toBe(emailsBefore);
    expect(await h.db.outboxEmail.count({ where: { negotiationId: claimed.id } })).toBe(emailsBefore);
    expect((await negotiation()).state).toBe('human_managed');
    expect(await h.db.auditEntry.count({ where: { negotiationId: claimed.id, action: 'reply_forwarded_to_claimer' } })).toBe(1);

    const resume = await command({ command: '/resume', text: claimed.id, userId: OPERATOR });
    expect(resume.answer).toMatch(/back with the agent \(state awaiting_reply\)/);
    expect(await negotiation()).toMatchObject({ state: 'awaiting_reply', claimedBy: null, claimedBySlackId: null });

    const ask = PHRASES.counter((claimed.currentOfferMinor ?? 0) + 10_000);
    const next = replyAs(h.sandbox.google, carl, ask);
    expect((await h.push(next.notification)).status).toBe(204);
    await waitFor('the agent answers the next reply', () => sentToCarl() === emailsBefore + 1, 90_000, 200);
    const after = await negotiation();
    expect(['counter_sent', 'agreed']).toContain(after.state);
    // The held reply stays the human's: only the new one was read.
    const read = (await h.db.transition.findMany({ where: { negotiationId: claimed.id, event: 'reply_received' } })).map((t) => (t.details as { messages: string[] }).messages);
    expect(read).toEqual([[next.id]]);
    const trail = (await h.db.auditEntry.findMany({ where: { negotiationId: claimed.id }, orderBy: { at: 'asc' } })).map((a) => `${a.actor}:${a.action}`);
    expect(trail).toEqual(expect.arrayContaining([`human:slack:${OPERATOR}:claimed`, `human:slack:${OPERATOR}:resumed`]));
  });
});
