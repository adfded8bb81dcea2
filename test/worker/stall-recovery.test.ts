import type { JobContext, QueueName } from '@parley/queue';
import { Redis } from 'ioredis';
import { redisUrl } from '../support/redis';
import { waitFor } from '../support/wait';
import { counterValue, createHarness, type Harness } from './harness';

/**
 * What the processor does with a job that stalled past JOB_MAX_STALLED_COUNT. The stall
 * counter is written into the job's hash the way BullMQ's stalled-job script writes it (`stc`)
 * before any worker runs, so each case starts from a known count; the kill -9 path that
 * produces such counts is in crash-safety.test.ts.
 */
describe('jobs that keep stalling (real Redis and SQLite)', () => {
  let h: Harness;
  let redis: Redis;
  const ran: string[] = [];
  const record = async (_data: unknown, ctx: JobContext) => {
    ran.push(ctx.jobId);
    return { ran: true };
  };
  const markStalled = (queue: QueueName, jobId: string, stalls: number) => redis.hset(`${h.prefix}:${queue}:${jobId}`, 'stc', String(stalls));

  beforeAll(async () => {
    h = await createHarness('stall');
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    await redis.quit();
    await h.close();
  });

  it('sets a work job aside for its cool-down, runs it afterwards, and dead-letters only past the last round', async () => {
    const steps = h.queues['negotiation-steps'];
    await steps.add('negotiation-step', { negotiationId: 'cool', kind: 'open' }, { jobId: 'step.cool' });
    await steps.add('negotiation-step', { negotiationId: 'fine', kind: 'open' }, { jobId: 'step.fine' });
    await steps.add('negotiation-step', { negotiationId: 'spent', kind: 'open' }, { jobId: 'step.spent' });
    await markStalled('negotiation-steps', 'step.cool', 3);
    await markStalled('negotiation-steps', 'step.fine', 2);
    // Back from its only cool-down and stalled three more times: nothing left to try.
    await markStalled('negotiation-steps', 'step.spent', 6);
    await steps.getJob('step.spent').then((job) => job?.updateProgress({ stallCooldowns: 1 }));

    await h.start({ handlers: { 'negotiation-steps': record }, only: ['negotiation-steps'], maxStalledCount: 2, stallCooldowns: 1, stallCooldownMs: 4000 });

    await waitFor('step.fine completed', async () => (await steps.getJobState('step.fine')) === 'completed');
    const setAside = await waitFor('step.cool set aside', async () => ((await steps.getJobState('step.cool')) === 'delayed' ? steps.getJob('step.cool') : undefined));
    expect(setAside?.progress).toEqual({ stallCooldowns: 1 });
    // BullMQ stores the delay as the due time minus its own clock, read a millisecond or so later.
    expect(setAside?.delay).toBeGreaterThan(3900);
    expect(setAside?.delay).toBeLessThanOrEqual(4000);
    expect(setAside?.attemptsMade).toBe(0);
    expect(ran).not.toContain('step.cool');

    await waitFor('step.cool completed after its cool-down', async () => (await steps.getJobState('step.cool')) === 'completed', 20_000);
    expect(ran.filter((id) => id === 'step.cool')).toHaveLength(1);
    const { logs } = await steps.getJobLogs('step.cool');
    expect(logs.join('\n')).toMatch(/set aside \(cool-down 1 of 1\): runs again in 4000 ms/);

    const row = await waitFor('step.spent dead letter', () => h.db.deadLetter.findUnique({ where: { queue_jobId: { queue: 'negotiation-steps', jobId: 'step.spent' } } }));
    expect(row.errorClass).toBe('stalled');
    expect(row.errorMessage).toContain('job stalled 6 times (limit 2) after 1 cool-down(s)');
    expect(ran).not.toContain('step.spent');
    // The row is written first, its alert job enqueued after.
    await waitFor('the dead letter\'s alert job', () => h.queues.alerts.getJob(`alert.dl-${row.id}`));
    expect(await h.db.deadLetter.count({ where: { jobId: { in: ['step.cool', 'step.fine'] } } })).toBe(0);
    expect(await counterValue(h.metrics.jobRetries, { queue: 'negotiation-steps', reason: 'stalled' })).toBe(1);
    await h.stopWorkers();
  });

  it('completes a scheduled job that stalled past the limit without running it, and raises no dead letter', async () => {
    const maintenance = h.queues.maintenance;
    const syncs = h.queues['gmail-notifications'];
    await maintenance.add('maintenance', { task: 'stuck-sweep' }, { jobId: 'sweep.stalled' });
    await syncs.add('mailbox-sync', { mailbox: 'deals@brand.example', historyId: '42', pubsubMessageId: 'm1' }, { jobId: 'sync.stalled' });
    await syncs.add('mailbox-sync', { mailbox: 'deals@brand.example', historyId: '43', pubsubMessageId: 'm2' }, { jobId: 'sync.gaveup' });
    // Well past any cool-down: scheduled work is never cooled or dead-lettered.
    await markStalled('maintenance', 'sweep.stalled', 12);
    await markStalled('gmail-notifications', 'sync.stalled', 3);
    // BullMQ's own limit reached (the backstop): failed in Redis, still no dead letter.
    await redis.hset(`${h.prefix}:gmail-notifications:sync.gaveup`, 'defa', 'job stalled more than allowable limit');

    await h.start({ handlers: { maintenance: record, 'gmail-notifications': record }, only: ['maintenance', 'gmail-notifications'], maxStalledCount: 2, stallCooldowns: 2 });

    const sweep = await waitFor('sweep done', async () => ((await maintenance.getJobState('sweep.stalled')) === 'completed' ? maintenance.getJob('sweep.stalled') : undefined));
    expect(sweep?.returnvalue).toEqual({ skipped: 'stalled', stalls: 12 });
    const sync = await waitFor('sync done', async () => ((await syncs.getJobState('sync.stalled')) === 'completed' ? syncs.getJob('sync.stalled') : undefined));
    expect(sync?.returnvalue).toEqual({ skipped: 'stalled', stalls: 3 });
    await waitFor('backstop failed', async () => (await syncs.getJobState('sync.gaveup')) === 'failed');
    await waitFor('backstop logged', async () => h.logs.some((l) => l.includes('stalled job given up; the next scheduled run does its work') && l.includes('sync.gaveup')));
    expect(ran).not.toContain('sweep.stalled');
    expect(ran).not.toContain('sync.stalled');
    expect(ran).not.toContain('sync.gaveup');
    expect(await h.db.deadLetter.count({ where: { queue: { in: ['maintenance', 'gmail-notifications'] } } })).toBe(0);
    expect(h.logs.filter((l) => l.includes('stalled job skipped'))).toHaveLength(2);
  });
});
