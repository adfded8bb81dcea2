import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createHandlers } from '../../apps/worker/src/handlers';
import { unwiredHandlers } from '../fixtures/unwired-handlers';
import { createLogger } from '@parley/logging';
import { createMetrics } from '@parley/metrics';
import { createRedis, DEFAULT_RETRY_POLICY, jobIds, PermanentError, replayJobId, startWorkers, type JobContext, type WorkerRuntime } from '@parley/queue';
import { redisUrl } from '../support/redis';
import { waitFor } from '../support/wait';
import { basic, bearer, csrfFrom, startAdmin, type AdminHarness } from './admin-harness';
import { seedCampaign, seedNegotiation } from './seed';

/**
 * A job fails for good in the real worker runtime (which writes the dead letter), the
 * dashboard replays it through its form, and the job is back on its queue and runs again.
 */
describe('replaying a dead letter from the dashboard (real runtime, Redis and SQLite)', () => {
  let h: AdminHarness;
  let negotiationId: string;
  let other: string;
  const calls: string[] = [];
  const connections: Redis[] = [];
  let runtime: WorkerRuntime | undefined;

  const startRuntime = async () => {
    const connection = createRedis(redisUrl(), 'worker');
    connections.push(connection);
    const log = createLogger({ service: 'worker', level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });
    const step = async (data: { negotiationId: string }, ctx: JobContext) => {
      calls.push(ctx.jobId);
      // The first run of each negotiation's step fails unrecoverably, like a 400 from the LLM.
      if (calls.filter((id) => id.startsWith(`step.${data.negotiationId}.`)).length === 1) throw new PermanentError('400 invalid_request_error: prompt too long');
      return 'fixed';
    };
    runtime = startWorkers({
      connection,
      prefix: h.prefix,
      handlers: createHandlers({ db: h.db, queues: h.queues, log }, unwiredHandlers({ 'negotiation-steps': step })),
      policy: DEFAULT_RETRY_POLICY,
      concurrency: 1,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 2,
      only: ['negotiation-steps'],
      db: h.db,
      queues: h.queues,
      metrics: createMetrics(),
      log,
    });
    await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
  };
  const stopRuntime = async () => {
    await runtime?.close(10_000);
    runtime = undefined;
  };
  const deadLetterOf = (jobId: string) =>
    waitFor(`dead letter for ${jobId}`, () => h.db.deadLetter.findUnique({ where: { queue_jobId: { queue: 'negotiation-steps', jobId } } }), 20_000);
  const steps = () => h.queues['negotiation-steps'];

  beforeAll(async () => {
    h = await startAdmin();
    const campaign = await seedCampaign(h.db);
    negotiationId = await seedNegotiation(h.db, campaign, { influencerName: 'Replay Rosa', state: 'new', lastOutboundAt: null });
    other = await seedNegotiation(h.db, campaign, { influencerName: 'Json Jo', state: 'new', lastOutboundAt: null });
    await startRuntime();
    for (const id of [negotiationId, other]) await steps().add('negotiation-step', { negotiationId: id, kind: 'open' }, { jobId: jobIds.negotiationStep(id) });
    await deadLetterOf(jobIds.negotiationStep(negotiationId));
    await deadLetterOf(jobIds.negotiationStep(other));
    // With no worker running, a replayed job stays waiting where the test can see it.
    await stopRuntime();
  });
  afterAll(async () => {
    await stopRuntime();
    await h.close();
    for (const c of connections) c.disconnect();
  });

  it('the form replays the dead letter: redirect with a notice, the payload back on its queue, the row marked', async () => {
    const row = await deadLetterOf(jobIds.negotiationStep(negotiationId));
    expect(row).toMatchObject({ errorClass: 'permanent', replayedAt: null });
    expect(await steps().getJobState(row.jobId)).toBe('failed');

    const stuck = await (await fetch(`${h.url}/admin/`, { headers: basic() })).text();
    expect(stuck).toContain(`action="/admin/dead-letters/${row.id}/replay"`);
    const res = await fetch(`${h.url}/admin/dead-letters/${row.id}/replay`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...basic(), origin: h.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: csrfFrom(stuck), back: '/admin/' }).toString(),
    });
    expect(res.status).toBe(303);
    const location = res.headers.get('location') ?? '';
    expect(location).toBe(`/admin/?notice=replayed&dl=${row.id}`);

    const jobId = replayJobId(row);
    const after = await (await fetch(`${h.url}${location}`, { headers: basic() })).text();
    expect(after).toContain(`Dead letter ${row.id} (negotiation-steps job ${row.jobId}) replayed: it is back on negotiation-steps as job ${jobId}.`);
    expect(after).not.toContain(`action="/admin/dead-letters/${row.id}/replay"`);

    const job = await steps().getJob(jobId);
    expect(job?.name).toBe('negotiation-step');
    expect(job?.data).toEqual({ negotiationId, kind: 'open' });
    expect(await steps().getJobState(jobId)).toBe('waiting');
    expect(await steps().getJobState(row.jobId)).toBe('failed');
    expect(await h.db.deadLetter.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ replayJobId: jobId, replayedAt: expect.any(Date) });
  });

  it('a second replay adds nothing and says so; an unknown id says it does not exist', async () => {
    const row = await deadLetterOf(jobIds.negotiationStep(negotiationId));
    const page = await (await fetch(`${h.url}/admin/dead-letters`, { headers: basic() })).text();
    const post = (id: string) =>
      fetch(`${h.url}/admin/dead-letters/${id}/replay`, {
        method: 'POST',
        headers: { ...basic(), origin: h.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: csrfFrom(page), back: '/admin/dead-letters' }).toString(),
      });
    const again = await post(row.id);
    expect(again.url).toBe(`${h.url}/admin/dead-letters?notice=already&dl=${row.id}`);
    expect(await again.text()).toContain(`was already replayed as job ${replayJobId(row)}; nothing was added.`);
    expect(await steps().getWaitingCount()).toBe(1);

    const unknown = await post('no-such-dead-letter');
    expect(await unknown.text()).toContain('No dead letter no-such-dead-letter.');
  });

  it('answers JSON to a bearer client', async () => {
    const row = await deadLetterOf(jobIds.negotiationStep(other));
    const res = await fetch(`${h.url}/admin/dead-letters/${row.id}/replay`, { method: 'POST', headers: { ...bearer(), accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deadLetterId: row.id, outcome: 'replayed', jobId: replayJobId(row) });
    const missing = await fetch(`${h.url}/admin/dead-letters/nope/replay`, { method: 'POST', headers: { ...bearer(), accept: 'application/json' } });
    expect(missing.status).toBe(404);
  });

  it('the replayed jobs run again on a worker and complete', async () => {
    await startRuntime();
    const expected: string[] = [];
    for (const id of [negotiationId, other]) {
      const row = await deadLetterOf(jobIds.negotiationStep(id));
      const jobId = replayJobId(row);
      expected.push(row.jobId, jobId);
      await waitFor(`replay of ${id} completed`, async () => (await steps().getJobState(jobId)) === 'completed', 20_000);
      expect((await steps().getJob(jobId))?.returnvalue).toBe('fixed');
    }
    expect([...calls].sort()).toEqual(expected.sort());
  });
});
