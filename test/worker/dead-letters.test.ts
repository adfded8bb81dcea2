import { PermanentError, recordDeadLetter, replayDeadLetter, ReplayError, type JobContext } from '@parley/queue';
import { Redis } from 'ioredis';
import { redisUrl } from '../support/redis';
import { waitFor } from '../support/wait';
import { counterValue, createHarness, type Harness } from './harness';

describe('dead letters (real Redis and SQLite)', () => {
  let h: Harness;
  const calls = new Map<string, number>();
  const behaviour = new Map<string, (n: number) => unknown>();

  const handler = async (data: { negotiationId: string }, _ctx: JobContext) => {
    const n = (calls.get(data.negotiationId) ?? 0) + 1;
    calls.set(data.negotiationId, n);
    const run = behaviour.get(data.negotiationId);
    if (!run) throw new Error(`no behaviour for ${data.negotiationId}`);
    return run(n);
  };
  const steps = () => h.queues['negotiation-steps'];
  const add = (id: string) => steps().add('negotiation-step', { negotiationId: id, kind: 'open' }, { jobId: `step.${id}` });
  const failed = (jobId: string) => waitFor(`${jobId} failed`, async () => (await steps().getJobState(jobId)) === 'failed', 20_000);
  const completed = (jobId: string) => waitFor(`${jobId} completed`, async () => (await steps().getJobState(jobId)) === 'completed', 20_000);

  beforeAll(async () => {
    h = await createHarness('dl');
    // No worker on `alerts`: the alert jobs stay in Redis where the tests can read them.
    await h.start({ handlers: { 'negotiation-steps': handler }, only: ['negotiation-steps'] });
  });
  afterAll(async () => {
    await h.close();
  });

  it('records a permanent failure once, at once: row, alert job, counter, hook', async () => {
    behaviour.set('perm', () => {
      throw new PermanentError('400 invalid_request_error: prompt too long');
    });
    const startedAt = new Date();
    await add('perm');
    await failed('step.perm');

    expect(calls.get('perm')).toBe(1);
    const rows = await h.db.deadLetter.findMany({ where: { jobId: 'step.perm' } });
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({
      queue: 'negotiation-steps',
      jobId: 'step.perm',
      jobName: 'negotiation-step',
      payload: { negotiationId: 'perm', kind: 'open' },
      errorClass: 'permanent',
      errorMessage: 'PermanentError: 400 invalid_request_error: prompt too long',
      attempts: 1,
      replayedAt: null,
    });
    expect(row?.failedAt.getTime()).toBeGreaterThanOrEqual(startedAt.getTime() - 1000);

    const alert = await h.queues.alerts.getJob(`alert.dl-${row?.id}`);
    expect(alert?.data).toMatchObject({ kind: 'dead_letter', deadLetterId: row?.id, title: 'Dead letter on negotiation-steps' });
    expect(await counterValue(h.metrics.deadLetters, { queue: 'negotiation-steps' })).toBe(1);
    expect(h.deadLetters.filter((d) => d.jobId === 'step.perm')).toEqual([
      expect.objectContaining({ deadLetterId: row?.id, queue: 'negotiation-steps', errorClass: 'permanent', attempts: 1 }),
    ]);
    const job = await steps().getJob('step.perm');
    expect(job?.attemptsMade).toBe(1);
    expect(job?.attemptsStarted).toBe(1);
  });

  it('dead-letters a payload that fails its schema without calling the handler or retrying', async () => {
    await steps().add('negotiation-step', { negotiationId: 42, kind: 'sideways' }, { jobId: 'step.malformed' });
    await failed('step.malformed');
    const row = await h.db.deadLetter.findUnique({ where: { queue_jobId: { queue: 'negotiation-steps', jobId: 'step.malformed' } } });
    expect(row).toMatchObject({ errorClass: 'permanent', attempts: 1, payload: { negotiationId: 42, kind: 'sideways' } });
    expect(row?.errorMessage).toMatch(/^ZodError: /);
    expect(calls.has('42')).toBe(false);
    expect((await steps().getJob('step.malformed'))?.attemptsStarted).toBe(1);
  });

  it('replays a dead letter under a new job id, once however often it is asked', async () => {
    behaviour.set('replay-me', (n) => {
      if (n === 1) throw new PermanentError('404 not_found_error');
      return 'fixed';
    });
    await add('replay-me');
    await failed('step.replay-me');
    const row = await h.db.deadLetter.findUniqueOrThrow({ where: { queue_jobId: { queue: 'negotiation-steps', jobId: 'step.replay-me' } } });

    const first = await replayDeadLetter(h, row.id);
    expect(first.alreadyReplayed).toBe(false);
    expect(first.jobId).not.toBe('step.replay-me');
    await completed(first.jobId);
    expect(calls.get('replay-me')).toBe(2);
    const marked = await h.db.deadLetter.findUniqueOrThrow({ where: { id: row.id } });
    expect(marked.replayedAt).not.toBeNull();
    expect(marked.replayJobId).toBe(first.jobId);

    const second = await replayDeadLetter(h, row.id);
    expect(second).toEqual({ jobId: first.jobId, alreadyReplayed: true });
    expect(await steps().getJobState(first.jobId)).toBe('completed');
    expect(calls.get('replay-me')).toBe(2);
    // The failed original is untouched.
    expect(await steps().getJobState('step.replay-me')).toBe('failed');
  });

  it('collapses two concurrent replays of one row into one job', async () => {
    behaviour.set('replay-twice', (n) => {
      if (n === 1) throw new PermanentError('403 permission_error');
      return 'ok';
    });
    await add('replay-twice');
    await failed('step.replay-twice');
    const row = await h.db.deadLetter.findUniqueOrThrow({ where: { queue_jobId: { queue: 'negotiation-steps', jobId: 'step.replay-twice' } } });
    const [a, b] = await Promise.all([replayDeadLetter(h, row.id), replayDeadLetter(h, row.id)]);
    expect(a.jobId).toBe(b.jobId);
    await completed(a.jobId);
    expect(calls.get('replay-twice')).toBe(2);
    await expect(replayDeadLetter(h, 'no-such-row')).rejects.toBeInstanceOf(ReplayError);
  });

  it('refuses to replay a discarded dead letter and adds no job', async () => {
    behaviour.set('discard-me', () => {
      throw new PermanentError('400 invalid_request_error');
    });
    await add('discard-me');
    await failed('step.discard-me');
    const row = await h.db.deadLetter.findUniqueOrThrow({ where: { queue_jobId: { queue: 'negotiation-steps', jobId: 'step.discard-me' } } });
    await h.db.deadLetter.update({ where: { id: row.id }, data: { discardedAt: new Date(), resolvedBy: 'slack:U0OPS' } });
    await expect(replayDeadLetter(h, row.id)).rejects.toThrow(/discarded by slack:U0OPS/);
    const after = await h.db.deadLetter.findUniqueOrThrow({ where: { id: row.id } });
    expect(after.replayedAt).toBeNull();
    expect(await steps().getJob(`step.discard-me.replay-${row.id}`)).toBeUndefined();
    expect(calls.get('discard-me')).toBe(1);
  });

  it("records a dead letter when BullMQ itself gives up on a job (its own stall limit)", async () => {
    // No worker on campaign-tasks yet: mark the waiting job the way BullMQ's stalled-job
    // script does when a job passes its own limit, then let a worker pick it up.
    const payload = { webhookId: 'w', taskId: 't', event: 'taskStatusUpdated', historyItemId: 'h' };
    await h.queues['campaign-tasks'].add('campaign-ingest', payload, { jobId: 'clickup.w.t.h' });
    const redis = new Redis(redisUrl());
    await redis.hset(`${h.prefix}:campaign-tasks:clickup.w.t.h`, 'defa', 'job stalled more than allowable limit');
    await redis.quit();
    let called = false;
    await h.start({
      handlers: {
        'campaign-tasks': async () => {
          called = true;
        },
      },
      only: ['campaign-tasks'],
    });
    const row = await waitFor('dead letter row', () => h.db.deadLetter.findUnique({ where: { queue_jobId: { queue: 'campaign-tasks', jobId: 'clickup.w.t.h' } } }));
    expect(row).toMatchObject({ errorClass: 'stalled', jobName: 'campaign-ingest', payload });
    expect(row.errorMessage).toContain('stalled more than allowable limit');
    expect(called).toBe(false);
    expect(await h.queues['campaign-tasks'].getJobState('clickup.w.t.h')).toBe('failed');
    expect(await h.queues.alerts.getJob(`alert.dl-${row.id}`)).toBeDefined();
  });

  it('is idempotent when recording repeats after a crash, and restores a lost alert', async () => {
    const job = { id: 'step.crashy', name: 'negotiation-step', data: { negotiationId: 'crashy', kind: 'open' }, attemptsMade: 0, attemptsStarted: 1 };
    const error = new PermanentError('401 authentication_error');
    const before = await counterValue(h.metrics.deadLetters, { queue: 'negotiation-steps' });
    const deps = { ...h, onDeadLetter: (info: (typeof h.deadLetters)[number]) => h.deadLetters.push(info) };
    const id = await recordDeadLetter(deps, { queue: 'negotiation-steps', job, errorClass: 'permanent', error });
    // The crash came after the row and before the alert reached Redis.
    await h.queues.alerts.remove(`alert.dl-${id}`);
    // The job stalled, ran again on another worker and failed the same way.
    const again = await recordDeadLetter(deps, { queue: 'negotiation-steps', job: { ...job, attemptsStarted: 2 }, errorClass: 'permanent', error });
    const third = await recordDeadLetter(deps, { queue: 'negotiation-steps', job: { ...job, attemptsStarted: 3 }, errorClass: 'permanent', error });

    expect(again).toBe(id);
    expect(third).toBe(id);
    expect(await h.db.deadLetter.count({ where: { jobId: 'step.crashy' } })).toBe(1);
    expect(await counterValue(h.metrics.deadLetters, { queue: 'negotiation-steps' })).toBe(before + 1);
    expect(h.deadLetters.filter((d) => d.jobId === 'step.crashy')).toHaveLength(1);
    expect(await h.queues.alerts.getJob(`alert.dl-${id}`)).toBeDefined();
    expect(await h.queues.alerts.getJobCountByTypes('waiting')).toBe(await h.db.deadLetter.count());
  });
});
