import { jobIds, type QueueName } from '@parley/queue';
import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, PHRASES, seedDemoCampaign } from '@parley/sandbox';
import { waitFor } from '../support/wait';
import { replyAs } from './influencer-mail';
import { checkLoopIntegrity } from './loop-assertions';
import { createLoopHarness, type LoopHarness } from './loop-harness';

jest.setTimeout(240_000);

const [ava, carl] = DEMO_INFLUENCERS as [(typeof DEMO_INFLUENCERS)[number], (typeof DEMO_INFLUENCERS)[number]];

/**
 * Redis with AOF `everysec` survives a killed redis-server (the AOF was written, only its fsync
 * was pending) but not a machine that loses power: the last second of jobs is gone. The
 * ingress's deliveries are re-enqueued by the delivery sweep; this file covers the jobs the
 * workers enqueue themselves. The loss is made deterministic: the queue is paused, the job
 * removed from Redis as a crash would, the queue resumed.
 */
describe('jobs that Redis lost after a worker enqueued them (API + 2 workers)', () => {
  let h: LoopHarness;

  /** Pauses `queue`, runs `trigger`, waits for `jobId` to be queued, deletes it, resumes. */
  const loseJob = async (queue: QueueName, jobId: () => Promise<string>, trigger: () => Promise<void>) => {
    await h.queues[queue].pause();
    await trigger();
    const id = await waitFor(`the ${queue} job to be enqueued`, async () => {
      const wanted = await jobId();
      return (await h.queues[queue].getJob(wanted)) ? wanted : undefined;
    }, 60_000, 100);
    await h.queues[queue].remove(id);
    expect(await h.queues[queue].getJob(id)).toBeUndefined();
    await h.queues[queue].resume();
    return id;
  };
  const negotiationOf = (email: string) => h.db.negotiation.findFirstOrThrow({ where: { influencerEmail: email } });

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'lost', env: { FOLLOW_UP_AFTER: '3600' } });
    await h.start(2);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('opens a negotiation whose opening step was lost', async () => {
    seedDemoCampaign(h.sandbox, { influencers: [ava, carl] });
    const lost = await loseJob(
      'negotiation-steps',
      async () => jobIds.negotiationStep((await negotiationOf(ava.email)).id),
      async () => {
        expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
      },
    );
    await waitFor('both opening emails sent', async () => (await h.db.outboxEmail.count({ where: { status: 'sent' } })) === 2, 60_000, 200);
    // The step enqueues its send before BullMQ marks the step completed.
    await waitFor('the re-enqueued opening step completed', async () => (await h.queues['negotiation-steps'].getJobState(lost)) === 'completed', 30_000);
  });

  it('sends an email whose send job was lost', async () => {
    const reply = replyAs(h.sandbox.google, ava, PHRASES.counter(120_000));
    const lost = await loseJob(
      'outbound-email',
      async () => jobIds.sendEmail(`${(await negotiationOf(ava.email)).id}.r-${reply.id}`),
      async () => {
        expect((await h.push(reply.notification)).status).toBe(204);
      },
    );
    await waitFor('the counter sent', async () => (await h.db.outboxEmail.findUnique({ where: { id: lost.replace(/^send\./, '') } }))?.status === 'sent', 60_000, 200);
    expect(h.sandbox.google.sent().filter((m) => m.inReplyTo === reply.messageIdHdr)).toHaveLength(1);
  });

  it('answers a reply whose step job was lost', async () => {
    const reply = replyAs(h.sandbox.google, carl, PHRASES.accept((await negotiationOf(carl.email)).currentOfferMinor ?? 0));
    await loseJob(
      'negotiation-steps',
      async () => jobIds.negotiationStep((await negotiationOf(carl.email)).id, reply.id),
      async () => {
        expect((await h.push(reply.notification)).status).toBe(204);
      },
    );
    await waitFor('the reply answered', async () => (await negotiationOf(carl.email)).state === 'agreed', 60_000, 200);
    await h.waitForIdle();
    await checkLoopIntegrity(h.db, h.sandbox.google);
    expect(await h.db.deadLetter.count()).toBe(0);
  });
});
