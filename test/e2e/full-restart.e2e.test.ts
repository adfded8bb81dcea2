import { jobIds } from '@parley/queue';
import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, demoPersonas, expectedState, seedDemoCampaign } from '@parley/sandbox';
import { waitFor } from '../support/wait';
import { checkLoopIntegrity } from './loop-assertions';
import { createLoopHarness, type LoopHarness } from './loop-harness';

jest.setTimeout(360_000);

/**
 * Every process dies at once in the middle of a campaign: the API and both workers by
 * SIGKILL, and Redis by SIGKILL too (a private redis-server with AOF and `appendfsync
 * everysec`, as deployed: a killed redis-server has written its AOF, only the fsync is late).
 * Everything restarts on the same data: the campaign finishes with the outcome it would have
 * had, with no email sent twice and no reply lost or answered twice. Meanwhile the sandbox's
 * influencers keep answering and its Pub/Sub keeps redelivering until the API is back.
 */
describe('a restart of every process mid-campaign (API, 2 workers, Redis with AOF)', () => {
  let h: LoopHarness;

  beforeAll(async () => {
    h = await createLoopHarness({
      label: 'restart',
      personas: demoPersonas(),
      autoPush: true,
      privateRedis: { appendfsync: 'everysec' },
      // Long enough that the restart itself never makes a follow-up due before a reply is read.
      env: { FOLLOW_UP_AFTER: '30' },
    });
    await h.start(2);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('finishes the campaign with the same outcome after everything is killed and restarted', async () => {
    const redis = h.privateRedis;
    if (!redis) throw new Error('the restart test needs its own Redis');
    seedDemoCampaign(h.sandbox);
    expect(await h.webhook(DEMO_CAMPAIGN.taskId, { historyItemId: '9001' })).toEqual([200]);

    // Mid-campaign: replies are being read and counters sent, nothing is finished everywhere.
    await waitFor(
      'the campaign in full swing',
      async () => {
        const states = (await h.db.negotiation.findMany({ select: { state: true } })).map((n) => n.state);
        return (await h.db.inboundMessage.count()) >= 3 && states.includes('counter_sent');
      },
      120_000,
      100,
    );
    const before = await h.db.negotiation.findMany({ select: { state: true } });
    await Promise.all([h.killAll('SIGKILL'), redis.kill()]);
    expect(h.running()).toEqual([]);
    expect(before.some((n) => !['agreed', 'escalated', 'stale'].includes(n.state))).toBe(true);

    await redis.restart();
    // Redis replayed its AOF: the jobs from before the crash are there.
    const ingestId = jobIds.campaignIngest({ webhookId: h.sandbox.clickup.webhookId, taskId: DEMO_CAMPAIGN.taskId, historyItemId: '9001' });
    // (The test's own connection reconnects on its own; until then a read fails and is retried.)
    expect(await waitFor('the ingest job read back', () => h.queues['campaign-tasks'].getJobState(ingestId), 15_000, 100)).toBe('completed');
    await h.start(2);

    await h.waitForSettled(DEMO_INFLUENCERS.length, 240_000);
    await h.sandbox.pushesSettled();
    await h.waitForIdle(120_000);

    const negotiations = await h.db.negotiation.findMany();
    for (const influencer of DEMO_INFLUENCERS) {
      const n = negotiations.find((x) => x.influencerEmail === influencer.email);
      expect({ who: influencer.name, state: n?.state }).toEqual({ who: influencer.name, state: expectedState(influencer.persona.kind) });
    }
    expect(negotiations.find((n) => n.influencerEmail === 'carl@creators.test')?.agreedRateMinor).toBe(130_000);
    const report = await checkLoopIntegrity(h.db, h.sandbox.google);
    expect(report.inboundCount).toBe(h.sandbox.personas?.replies().length);
    expect(await h.db.outboxEmail.count({ where: { status: { not: 'sent' } } })).toBe(0);
    expect(await h.db.deadLetter.count()).toBe(0);
    // Pub/Sub had to redeliver what arrived while the API was down, and got through in the end.
    expect(h.sandbox.pushes().every((p) => p.status === 204)).toBe(true);
  });
});
