import { Redis } from 'ioredis';
import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, demoPersonas, expectedState, seedDemoCampaign } from '@parley/sandbox';
import { parley } from '../cli/cli-harness';
import { checkLoopIntegrity } from '../e2e/loop-assertions';
import { createLoopHarness, type LoopHarness } from '../e2e/loop-harness';
import { redisUrl } from '../support/redis';
import { startClusterTopology, type ClusterTopology } from './cluster-topology';

jest.setTimeout(300_000);

/**
 * The product on Redis Cluster: the API and two worker processes started with
 * REDIS_CLUSTER_NODES (three local cluster nodes) and a hash-tagged prefix run the five-persona
 * campaign to its end, one worker killed mid-campaign. Every Redis user of the processes goes
 * through the cluster: BullMQ, the LLM gate's scripts, the mailbox lock, the alert storm
 * counters, heartbeats, the fleet's database registry, readiness.
 */
describe('the campaign on a three-node Redis Cluster (API + 2 workers)', () => {
  let cluster: ClusterTopology | undefined;
  let h: LoopHarness | undefined;

  beforeAll(async () => {
    cluster = await startClusterTopology();
    h = await createLoopHarness({ label: 'cluster', personas: demoPersonas(), autoPush: true, redisCluster: { nodes: cluster.nodes } });
    await h.start(2);
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    await cluster?.stop();
  });

  it("reaches each persona's end state with every email exactly once, and nothing touches the single-node Redis", async () => {
    if (!h || !cluster) throw new Error('the harness did not start');
    const readiness = await fetch(`${h.apiUrl}/health/readiness`);
    expect(readiness.status).toBe(200);

    seedDemoCampaign(h.sandbox);
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    // One worker dies once the first emails are out: its jobs run again on the other through the cluster.
    const harness = h;
    await new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        if (harness.sandbox.google.sent().length >= 2) {
          clearInterval(check);
          const victim = harness.running().find((p) => p.name.startsWith('worker'));
          if (!victim) return reject(new Error('no worker to kill'));
          harness.kill(victim).then(() => resolve(), reject);
        }
      }, 50);
    });
    await h.waitForSettled(DEMO_INFLUENCERS.length, 240_000);
    await h.sandbox.pushesSettled();
    await h.waitForIdle();

    const negotiations = await h.db.negotiation.findMany();
    for (const influencer of DEMO_INFLUENCERS) {
      const n = negotiations.find((x) => x.influencerEmail === influencer.email);
      expect({ who: influencer.name, state: n?.state }).toEqual({ who: influencer.name, state: expectedState(influencer.persona.kind) });
    }
    const report = await checkLoopIntegrity(h.db, h.sandbox.google);
    expect(report.inboundCount).toBe(h.sandbox.personas?.replies().length);
    expect(await h.db.deadLetter.count()).toBe(0);
    expect(await h.db.outboxEmail.count({ where: { status: { not: 'sent' } } })).toBe(0);

    // The jobs lived in the cluster (the harness reads them there) ...
    const completed = await h.queues['negotiation-steps'].getJobCounts('completed');
    expect(completed.completed).toBeGreaterThanOrEqual(DEMO_INFLUENCERS.length);
    // ... and no process fell back to REDIS_URL's node.
    const single = new Redis(redisUrl(), { lazyConnect: true });
    try {
      await single.connect();
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await single.scan(cursor, 'MATCH', `${h.prefix}*`, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      expect(keys).toEqual([]);
    } finally {
      single.disconnect();
    }

    // The ops CLI on the same settings: a claim connects its queues to the cluster.
    const greta = negotiations.find((n) => n.influencerEmail === 'greta@creators.test');
    const claimed = await parley(['negotiation', 'claim', greta?.id ?? 'missing'], h.env());
    expect({ code: claimed.code, err: claimed.stderr }).toEqual({ code: 0, err: '' });
    expect((await h.db.negotiation.findUnique({ where: { id: greta?.id ?? '' } }))?.state).toBe('human_managed');
  });
});
