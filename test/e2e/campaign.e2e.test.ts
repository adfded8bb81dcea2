import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, demoPersonas, expectedState, seedDemoCampaign } from '@parley/sandbox';
import { checkLoopIntegrity } from './loop-assertions';
import { createLoopHarness, type LoopHarness } from './loop-harness';

jest.setTimeout(300_000);

/**
 * The whole loop as deployed: the API and two worker processes against the sandbox through
 * the official SDKs, a five-persona campaign started by a signed ClickUp webhook, every Gmail
 * notification pushed by the sandbox's Pub/Sub as it happens.
 */
describe('a five-persona campaign end to end (API + 2 workers, sandbox, real Redis and SQLite)', () => {
  let h: LoopHarness;

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'campaign', personas: demoPersonas(), autoPush: true });
    await h.start(2);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reaches each persona\'s end state, never above the ceiling, with every email in its thread exactly once', async () => {
    seedDemoCampaign(h.sandbox);
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    await h.waitForSettled(DEMO_INFLUENCERS.length, 240_000);
    // A settled negotiation can still have a last email on its way (an acceptance, a follow-up).
    await h.sandbox.pushesSettled();
    await h.waitForIdle();

    const negotiations = await h.db.negotiation.findMany({ include: { campaign: true } });
    for (const influencer of DEMO_INFLUENCERS) {
      const n = negotiations.find((x) => x.influencerEmail === influencer.email);
      expect({ who: influencer.name, state: n?.state }).toEqual({ who: influencer.name, state: expectedState(influencer.persona.kind) });
    }
    const carl = negotiations.find((n) => n.influencerEmail === 'carl@creators.test');
    expect(carl?.agreedRateMinor).toBe(130_000);
    const greta = negotiations.find((n) => n.influencerEmail === 'greta@creators.test');
    expect(greta?.escalationReason).toMatch(/ceiling/);
    expect(greta?.round).toBe(DEMO_CAMPAIGN.maxRounds);

    const report = await checkLoopIntegrity(h.db, h.sandbox.google);
    // Every persona reply reached the database exactly once.
    expect(report.inboundCount).toBe(h.sandbox.personas?.replies().length);
    expect(await h.db.inboundMessage.count()).toBe(report.inboundCount);
    // One thread per negotiation, opened by our email; the silent persona's is ours only.
    for (const [email, mail] of report.threads) {
      expect({ email, first: mail[0]?.direction }).toEqual({ email, first: 'outbound' });
    }
    expect(report.threads.get('sam@creators.test')?.every((m) => m.direction === 'outbound')).toBe(true);
    expect(await h.db.deadLetter.count()).toBe(0);
    expect(await h.db.outboxEmail.count({ where: { status: { not: 'sent' } } })).toBe(0);
  });
});
