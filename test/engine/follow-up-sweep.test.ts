import { withTx } from '@parley/db';
import { jobIds } from '@parley/queue';
import { sweepFollowUps } from '../../packages/engine/src/maintenance';
import { createEngineHarness, seedNegotiation, type EngineHarness } from './engine-harness';

describe('the follow-up sweep', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('eng-sweep');
  });
  afterAll(async () => {
    await h.close();
  });

  async function silentSince(ms: number, state = 'awaiting_reply', followUps = 0) {
    const n = await seedNegotiation(h.db, {}, { state });
    await withTx(h.db, (tx) => tx.negotiation.update({ where: { id: n.id }, data: { lastOutboundAt: new Date(Date.now() - ms), followUps } }));
    return n.id;
  }

  it('nudges negotiations silent past the window, once per follow-up, and never while our last email is unsent', async () => {
    const due = await silentSince(120_000);
    const recent = await silentSince(1_000);
    const unsent = await silentSince(120_000, 'counter_sent', 1);
    await withTx(h.db, (tx) =>
      tx.outboxEmail.create({ data: { id: `${unsent}.fu-1`, negotiationId: unsent, kind: 'follow_up', messageIdHdr: `<${unsent}.fu-1@brand.test>`, toAddress: 'x@creator.test', subject: 's', body: 'b' } }),
    );
    const closed = await silentSince(120_000, 'agreed');

    expect(await sweepFollowUps({ ...h.deps, followUpAfterMs: 60_000 })).toBe(1);
    const queued = await h.queues['negotiation-steps'].getJobs(['waiting', 'delayed', 'prioritized']);
    expect(queued.map((j) => j.id)).toEqual([jobIds.followUp(due, 1)]);
    for (const id of [recent, unsent, closed]) expect(queued.some((j) => j.data.negotiationId === id)).toBe(false);

    // The next sweep (nothing sent yet) collapses onto the same job id: one nudge, not two.
    expect(await sweepFollowUps({ ...h.deps, followUpAfterMs: 60_000 })).toBe(1);
    expect(await h.queues['negotiation-steps'].getJobCounts('waiting')).toEqual({ waiting: 1 });
  });
});
