import { jobIds } from '@parley/queue';
import { SANDBOX_API_KEY } from '../../packages/sandbox/src/anthropic';
import { spawnTs } from '../support/processes';
import { addReply, createEngineHarness, escalationAlert, seedNegotiation, snapshot, type EngineHarness } from './engine-harness';

describe('the outbox: one row per step, and a send job for every pending row', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('eng-outbox');
    // Two slots, so duplicates of one step can run at the same time.
    await h.start({ concurrency: 2 });
  });
  afterAll(async () => {
    await h.close();
  });

  it('the opening step run twice (a duplicate job, even concurrently) writes one outbox row', async () => {
    const { id } = await seedNegotiation(h.db);
    h.sandbox.reset();
    // Slow drafts keep both runs in flight together.
    h.sandbox.faults([{ delayMs: 800 }, { delayMs: 800 }]);
    const first = await h.step({ negotiationId: id, kind: 'open' });
    const second = await h.step({ negotiationId: id, kind: 'open' }, `${first}.dup`);
    const outcomes = await Promise.all([h.finished(first), h.finished(second)]);
    expect(outcomes).toEqual(expect.arrayContaining([{ outcome: 'opening offer 200000' }, { outcome: 'skipped: already opened' }]));

    // Sequentially as well: a third run finds it opened.
    const third = await h.step({ negotiationId: id, kind: 'open' }, `${first}.again`);
    expect(await h.finished(third)).toEqual({ outcome: 'skipped: already opened' });

    const s = await snapshot(h.db, id);
    expect(s.outbox).toHaveLength(1);
    expect(s.transitions.map((t) => t.event)).toEqual(['outreach_queued']);
    expect(s.negotiation.version).toBe(1);
    expect(await h.queues['outbound-email'].getJob(jobIds.sendEmail(`${id}.open`))).toBeDefined();
    expect(await h.queues['outbound-email'].count()).toBeGreaterThanOrEqual(1);
  });

  it('an escalation whose alert was lost in a crash is alerted by the next run, once', async () => {
    const { id } = await seedNegotiation(h.db);
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    const msg = await addReply(h.db, id, 'Stop emailing me.');
    const jobId = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg });
    await h.finished(jobId);
    const alert = await escalationAlert(h, id);
    expect(alert).toBeDefined();
    // What a crash right after the commit leaves: escalated, and no alert job.
    await alert?.remove();
    expect(await escalationAlert(h, id)).toBeUndefined();

    expect(await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg }, `${jobId}.rerun`))).toEqual({ outcome: 'skipped: negotiation is escalated' });
    expect((await escalationAlert(h, id))?.data).toMatchObject({ kind: 'escalation', negotiationId: id });
    const s = await snapshot(h.db, id);
    expect(s.transitions.filter((t) => t.event === 'escalated')).toHaveLength(1);
  });
});

describe('a worker killed between the commit and the send enqueue', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('eng-crash');
  });
  afterAll(async () => {
    await h.close();
  });

  it('loses nothing: the job runs again after its lock expires and enqueues the send', async () => {
    const { id } = await seedNegotiation(h.db);
    // The only worker so far: it commits the opening step, then dies before enqueueing the send.
    const doomed = spawnTs('test/fixtures/engine-worker.ts', {
      DATABASE_URL: h.dbUrl,
      REDIS_URL: h.redisUrl,
      QUEUE_PREFIX: h.prefix,
      ANTHROPIC_BASE_URL: h.sandbox.url,
      ANTHROPIC_API_KEY: SANDBOX_API_KEY,
      WORKER_ID: 'doomed',
      LOCK_MS: '2000',
      CRASH_BEFORE_SEND_ENQUEUE: '1',
    });
    await doomed.waitForLine(/engine worker ready/, 60_000);
    const jobId = await h.step({ negotiationId: id, kind: 'open' });
    // tsx runs the entry in a child process and exits 128 + 9 when it is killed.
    expect([137, 'SIGKILL']).toContain(await doomed.exited);

    const sendJobId = jobIds.sendEmail(`${id}.open`);
    const crashed = await snapshot(h.db, id);
    expect(crashed.negotiation.state).toBe('outreach_sent');
    expect(crashed.outbox.map((o) => o.status)).toEqual(['pending']);
    expect(await h.queues['outbound-email'].getJob(sendJobId)).toBeUndefined();
    expect(await h.queues['negotiation-steps'].getJobState(jobId)).toBe('active');

    // Another worker finds the job stalled, runs it again, and heals the outbox.
    await h.start({ lockDurationMs: 2_000, stalledIntervalMs: 1_000 });
    expect(await h.finished(jobId, 30_000)).toEqual({ outcome: 'skipped: already opened' });
    expect((await h.queues['outbound-email'].getJob(sendJobId))?.data).toEqual({ outboxId: `${id}.open` });
    const healed = await snapshot(h.db, id);
    expect(healed.outbox).toHaveLength(1);
    expect(healed.transitions.map((t) => t.event)).toEqual(['outreach_queued']);
    // One draft in all: the rerun did not ask the LLM again.
    expect(h.sandbox.calls()).toHaveLength(1);
  });
});
