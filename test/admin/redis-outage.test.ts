import { jobIds } from '@parley/queue';
import { startPrivateRedis, type PrivateRedis } from '../support/redis';
import { waitFor } from '../support/wait';
import { basic, bearer, csrfFrom, startAdmin, type AdminHarness } from './admin-harness';
import { ago, MIN, seedCampaign, seedDeadLetter, seedNegotiation, seedTransition } from './seed';

describe('dashboard while Redis is down', () => {
  let redis: PrivateRedis;
  let h: AdminHarness;
  let escalated: string;
  let deadLetterId: string;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    h = await startAdmin({ redisUrl: redis.url });
    const campaign = await seedCampaign(h.db);
    escalated = await seedNegotiation(h.db, campaign, { influencerName: 'Outage Olga', state: 'escalated', escalationReason: 'hostile reply' });
    await seedTransition(h.db, escalated, { from: 'counter_received', event: 'escalated', to: 'escalated', at: ago(10 * MIN) });
    deadLetterId = await seedDeadLetter(h.db, { queue: 'negotiation-steps', jobId: jobIds.negotiationStep(escalated), payload: { negotiationId: escalated, kind: 'open' } });
    await redis.kill();
  });
  afterAll(async () => {
    await h.close();
    await redis.stop();
  });

  it('still lists what SQLite knows, says which queues could not be read, and refuses nothing silently', async () => {
    const res = await fetch(`${h.url}/admin/`, { headers: { ...bearer(), accept: 'application/json' } });
    expect(res.status).toBe(200);
    const report = (await res.json()) as { problems: { kind: string; negotiationId?: string }[]; warnings: string[]; workers: number | null };
    expect(report.problems.map((p) => `${p.kind}:${p.negotiationId}`).sort()).toEqual([`dead_letter:${escalated}`, `escalated_unclaimed:${escalated}`].sort());
    expect(report.warnings).toHaveLength(6);
    expect(report.warnings.every((w) => w.includes('could not be read'))).toBe(true);
    expect(report.workers).toBeNull();

    const timeline = await fetch(`${h.url}/admin/negotiations/${escalated}`, { headers: basic() });
    expect(timeline.status).toBe(200);
    expect(await timeline.text()).toContain('Redis could not be read: jobs are not shown.');

    // A replay that cannot reach Redis changes nothing and says so.
    const page = await (await fetch(`${h.url}/admin/dead-letters`, { headers: basic() })).text();
    const replay = await fetch(`${h.url}/admin/dead-letters/${deadLetterId}/replay`, {
      method: 'POST',
      headers: { ...basic(), origin: h.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: csrfFrom(page) }).toString(),
    });
    expect(replay.url).toContain('notice=failed');
    expect(await replay.text()).toContain(`Dead letter ${deadLetterId} could not be replayed`);
    expect((await h.db.deadLetter.findUniqueOrThrow({ where: { id: deadLetterId } })).replayedAt).toBeNull();
  });

  it('replays once Redis is back', async () => {
    await redis.restart();
    await waitFor('the producer connection to come back', () => h.redis.status === 'ready', 20_000);
    const res = await fetch(`${h.url}/admin/dead-letters/${deadLetterId}/replay`, { method: 'POST', headers: { ...bearer(), accept: 'application/json' } });
    expect(await res.json()).toMatchObject({ outcome: 'replayed' });
  });
});
