import { withTx } from '@parley/db';
import { JOBS } from '@parley/queue';
import { sweepDeliveries } from '../../apps/worker/src/delivery-sweep.handler';
import { waitFor } from '../support/wait';
import { createHarness, type Harness } from './harness';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

describe('delivery sweep (WebhookDelivery rows vs jobs in Redis)', () => {
  let h: Harness;
  const sync = (id: string) => ({ mailbox: 'ops@example.com', historyId: id, pubsubMessageId: id });
  const deliver = (id: string, payload: object, ageMs: number, queue = 'gmail-notifications') =>
    withTx(h.db, (tx) =>
      tx.webhookDelivery.create({ data: { id, queue, jobName: JOBS['gmail-notifications'].name, payload, receivedAt: new Date(Date.now() - ageMs) } }),
    );

  beforeAll(async () => {
    h = await createHarness('sweep');
  });
  afterAll(async () => {
    await h.close();
  });

  it('re-enqueues a recent delivery whose job Redis lost, leaves the others, and prunes old rows', async () => {
    await deliver('pubsub.lost', sync('101'), 2 * MINUTE);
    await deliver('pubsub.present', sync('102'), 2 * MINUTE);
    await h.queues['gmail-notifications'].add('mailbox-sync', sync('102'), { jobId: 'pubsub.present' });
    const present = await h.queues['gmail-notifications'].getJob('pubsub.present');
    await deliver('pubsub.in-flight', sync('103'), 0);
    await deliver('pubsub.two-hours', sync('104'), 120 * MINUTE);
    await deliver('pubsub.ancient', sync('105'), 9 * DAY);
    await deliver('pubsub.garbled', { mailbox: 'x' }, 2 * MINUTE);
    await deliver('pubsub.elsewhere', sync('106'), 2 * MINUTE, 'no-such-queue');

    const result = await sweepDeliveries({ db: h.db, queues: h.queues, log: h.log, now: () => new Date() });

    expect(result.requeued).toEqual(['pubsub.lost']);
    expect(result.pruned).toBe(1);
    expect(result.skipped).toBe(2);
    const lost = await h.queues['gmail-notifications'].getJob('pubsub.lost');
    expect(lost?.name).toBe('mailbox-sync');
    expect(lost?.data).toEqual(sync('101'));
    // The job that was there is the same job, untouched.
    const after = await h.queues['gmail-notifications'].getJob('pubsub.present');
    expect(after?.timestamp).toBe(present?.timestamp);
    // Too young (the API enqueues right after writing) and too old to be a Redis loss.
    expect(await h.queues['gmail-notifications'].getJob('pubsub.in-flight')).toBeUndefined();
    expect(await h.queues['gmail-notifications'].getJob('pubsub.two-hours')).toBeUndefined();
    expect(await h.db.webhookDelivery.findUnique({ where: { id: 'pubsub.ancient' } })).toBeNull();
    expect(await h.db.webhookDelivery.findUnique({ where: { id: 'pubsub.two-hours' } })).not.toBeNull();

    // A second sweep finds nothing left to do.
    const again = await sweepDeliveries({ db: h.db, queues: h.queues, log: h.log, now: () => new Date() });
    expect(again.requeued).toEqual([]);
    expect(await h.queues['gmail-notifications'].getJobCountByTypes('waiting')).toBe(2);
  });

  it('leaves a notification without a job alone once the mailbox cursor has passed its history id, and puts back one it has not', async () => {
    const mailbox = 'cursor@example.com';
    const notified = (id: string, historyId: string) => ({ mailbox, historyId, pubsubMessageId: id });
    await withTx(h.db, (tx) => tx.mailboxSync.create({ data: { mailbox, historyCursor: '300', highestNotifiedHistoryId: '301' } }));
    await deliver('pubsub.covered', notified('pubsub.covered', '300'), 2 * MINUTE);
    await deliver('pubsub.covered-earlier', notified('pubsub.covered-earlier', '299'), 2 * MINUTE);
    await deliver('pubsub.ahead', notified('pubsub.ahead', '301'), 2 * MINUTE);

    const result = await sweepDeliveries({ db: h.db, queues: h.queues, log: h.log, now: () => new Date() });
    expect(result.requeued).toContain('pubsub.ahead');
    expect(result.requeued).not.toContain('pubsub.covered');
    expect(result.requeued).not.toContain('pubsub.covered-earlier');
    expect(result.synced).toBe(2);
    expect(await h.queues['gmail-notifications'].getJob('pubsub.covered')).toBeUndefined();
    expect((await h.queues['gmail-notifications'].getJob('pubsub.ahead'))?.data).toEqual(notified('pubsub.ahead', '301'));
  });

  it('runs as the maintenance job', async () => {
    await deliver('pubsub.lost-again', sync('201'), 3 * MINUTE);
    await h.start({ handlers: {}, only: ['maintenance'] });
    await h.queues.maintenance.add('maintenance', { task: 'delivery-sweep' }, { jobId: 'sweep-now' });
    await waitFor('sweep job completed', async () => (await h.queues.maintenance.getJobState('sweep-now')) === 'completed');
    const job = await h.queues.maintenance.getJob('sweep-now');
    expect(job?.returnvalue).toMatchObject({ requeued: ['pubsub.lost-again'] });
    expect(await h.queues['gmail-notifications'].getJob('pubsub.lost-again')).toBeDefined();

    await h.queues.maintenance.add('maintenance', { task: 'stuck-sweep' }, { jobId: 'stuck-now' });
    await waitFor('other task completed', async () => (await h.queues.maintenance.getJobState('stuck-now')) === 'completed');
    expect((await h.queues.maintenance.getJob('stuck-now'))?.returnvalue).toEqual({ skipped: 'stuck-sweep' });
    await h.stopWorkers();
  });
});
