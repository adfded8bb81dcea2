import { DeferredError, OverloadedError, RateLimitedError, TransientError, type JobContext } from '@parley/queue';
import { waitFor } from '../support/wait';
import { counterValue, createHarness, plannedDelaysOf, TEST_POLICY, type Harness } from './harness';

interface Start {
  at: number;
  attemptsMade: number;
  attemptsStarted: number;
  worker: string;
}

describe('worker runtime: retries per error class (real Redis)', () => {
  let h: Harness;
  const starts = new Map<string, Start[]>();
  type Script = (n: number) => unknown;
  const scripts = new Map<string, Script>();

  const record = (id: string, ctx: JobContext, worker: string) => {
    const list = starts.get(id) ?? [];
    list.push({ at: Date.now(), attemptsMade: ctx.job.attemptsMade, attemptsStarted: ctx.job.attemptsStarted, worker });
    starts.set(id, list);
    return list.length;
  };
  const handlerFor = (worker: string) => async (data: { negotiationId: string }, ctx: JobContext) => {
    const n = record(data.negotiationId, ctx, worker);
    const script = scripts.get(data.negotiationId);
    if (!script) throw new Error(`no script for ${data.negotiationId}`);
    return script(n);
  };
  const add = (id: string) => h.queues['negotiation-steps'].add('negotiation-step', { negotiationId: id, kind: 'open' }, { jobId: `step.${id}` });
  const stateOf = (id: string) => h.queues['negotiation-steps'].getJobState(`step.${id}`);

  // The delay BullMQ applied to each retry: Job.moveToFailed stores it on the job before the
  // worker emits `failed`.
  const applied = new Map<string, number[]>();

  beforeAll(async () => {
    h = await createHarness('retry');
    // Two workers on the LLM queue, as two processes would have.
    for (const name of ['w1', 'w2']) {
      const runtime = await h.start({ handlers: { 'negotiation-steps': handlerFor(name) }, only: ['negotiation-steps'], concurrency: 2, workerId: name });
      for (const worker of runtime.workers) {
        worker.on('failed', (job) => {
          if (!job?.id || !job.delay) return;
          applied.set(job.id, [...(applied.get(job.id) ?? []), job.delay]);
        });
      }
    }
  });
  afterAll(async () => {
    await h.close();
  });

  it('pauses the whole queue for the 429 wait (no less, and not twice as long), without spending an attempt', async () => {
    // Long enough that the upper bound's slack (for a loaded machine) stays under the wait itself.
    const PAUSE_MS = 3_000;
    const LATE_MS = 2_000;
    scripts.set('rl-a', (n) => {
      if (n === 1) throw new RateLimitedError('429 rate_limit_error', PAUSE_MS, 'anthropic');
      return 'done';
    });
    scripts.set('rl-b', () => 'done');
    await add('rl-a');
    // The pause is in Redis once the first start has thrown. (Without a threshold the TTL of
    // the limiter's ordinary per-second counter would count too.)
    // Read before the TTL: Redis measured the TTL after this instant, so the pause ends no
    // earlier than readAt + TTL (PTTL truncates to the millisecond, hence the 1 ms).
    let readAt = 0;
    const pausedFor = await waitFor('queue rate limit set', async () => {
      readAt = Date.now();
      const ttl = await h.queues['negotiation-steps'].getRateLimitTtl(1_000_000);
      return ttl > 0 ? ttl : undefined;
    });
    const pauseEndsNoEarlierThan = readAt + pausedFor - 1;
    await add('rl-b');
    await waitFor('both jobs completed', async () => (await stateOf('rl-a')) === 'completed' && (await stateOf('rl-b')) === 'completed', 20_000);

    const a = starts.get('rl-a') ?? [];
    const b = starts.get('rl-b') ?? [];
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(1);
    const firstA = a[0] as Start;
    const secondA = a[1] as Start;
    const onlyB = b[0] as Start;
    // Neither worker (each had a free slot) started anything while the queue was paused.
    expect(onlyB.at).toBeGreaterThanOrEqual(pauseEndsNoEarlierThan);
    expect(onlyB.at - firstA.at).toBeGreaterThanOrEqual(PAUSE_MS);
    expect(secondA.at - firstA.at).toBeGreaterThanOrEqual(PAUSE_MS);
    // Both started again once the pause was over, not after a second wait.
    expect(onlyB.at - firstA.at).toBeLessThanOrEqual(PAUSE_MS + LATE_MS);
    expect(secondA.at - firstA.at).toBeLessThanOrEqual(PAUSE_MS + LATE_MS);
    // The rate-limited start was not an attempt.
    expect(secondA.attemptsMade).toBe(0);
    expect(secondA.attemptsStarted).toBe(2);
    const job = await h.queues['negotiation-steps'].getJob('step.rl-a');
    expect(job?.attemptsMade).toBe(1);
    expect(await counterValue(h.metrics.jobRetries, { queue: 'negotiation-steps', reason: 'rate_limited' })).toBe(1);
    expect(await h.db.deadLetter.count()).toBe(0);
  });

  it('defers a job by the wait its handler asks for, as often as it asks, without spending an attempt or pausing the queue', async () => {
    const WAIT_MS = 400;
    // More deferrals than the job has attempts: none of them is one.
    const DEFERRALS = 5;
    scripts.set('defer-a', (n) => {
      if (n <= DEFERRALS) throw new DeferredError('not yet', WAIT_MS, 'send_settling');
      return 'done';
    });
    scripts.set('defer-b', () => 'done');
    const retriesBefore = await counterValue(h.metrics.jobRetries, { queue: 'negotiation-steps', reason: 'deferred' });
    await add('defer-a');
    await waitFor('first deferral', () => (starts.get('defer-a')?.length ?? 0) >= 1);
    await add('defer-b');
    await waitFor('defer-b completed', async () => (await stateOf('defer-b')) === 'completed', 20_000);
    await waitFor('defer-a completed', async () => (await stateOf('defer-a')) === 'completed', 30_000);

    const a = starts.get('defer-a') ?? [];
    expect(a).toHaveLength(DEFERRALS + 1);
    for (let i = 1; i < a.length; i++) expect((a[i] as Start).at - (a[i - 1] as Start).at).toBeGreaterThanOrEqual(WAIT_MS);
    expect(a.map((s) => s.attemptsMade)).toEqual(Array(DEFERRALS + 1).fill(0));
    // The queue was not paused: the other job ran during the first wait.
    expect((starts.get('defer-b')?.[0] as Start).at).toBeLessThan((a[1] as Start).at);
    // The completed run is the job's one attempt.
    const job = await h.queues['negotiation-steps'].getJob('step.defer-a');
    expect(job?.attemptsMade).toBe(1);
    const { logs } = await h.queues['negotiation-steps'].getJobLogs('step.defer-a');
    expect(logs.filter((l) => l.startsWith(`deferred (send_settling): runs again in ${WAIT_MS} ms`))).toHaveLength(DEFERRALS);
    expect((await counterValue(h.metrics.jobRetries, { queue: 'negotiation-steps', reason: 'deferred' })) - retriesBefore).toBe(DEFERRALS);
    expect(await h.db.deadLetter.count({ where: { jobId: 'step.defer-a' } })).toBe(0);
  });

  it('does not count deferrals as rate-limited starts', async () => {
    // Deferred three times, then rate limited once: that is its first rate-limited start.
    scripts.set('defer-rl', (n) => {
      if (n <= 3) throw new DeferredError('not yet', 100, 'send_settling');
      if (n === 4) throw new RateLimitedError('429 rate_limit_error', 200, 'gmail');
      return 'done';
    });
    await add('defer-rl');
    await waitFor('defer-rl completed', async () => (await stateOf('defer-rl')) === 'completed', 30_000);
    const { logs } = await h.queues['negotiation-steps'].getJobLogs('step.defer-rl');
    expect(logs.filter((l) => l.startsWith('rate limited by gmail'))).toEqual([expect.stringContaining(`(restart 1 of ${TEST_POLICY.rateLimitMax})`)]);
    expect((await h.queues['negotiation-steps'].getJob('step.defer-rl'))?.progress).toEqual({ deferrals: 3 });
  });

  it('dead-letters a job rate limited more than rateLimitMax times in a row, once', async () => {
    scripts.set('rl-always', () => {
      throw new RateLimitedError('429 rate_limit_error', 200, 'anthropic');
    });
    await add('rl-always');
    await waitFor('job failed', async () => (await stateOf('rl-always')) === 'failed', 20_000);
    // rateLimitMax pauses, then the next rate-limited start is the last.
    expect(starts.get('rl-always')).toHaveLength(TEST_POLICY.rateLimitMax + 1);
    const rows = await h.db.deadLetter.findMany({ where: { jobId: 'step.rl-always' } });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.errorClass).toBe('rate_limited');
    expect(rows[0]?.errorMessage).toMatch(/rate limited 3 times in a row \(cap 2\)/);
  });

  it('backs an overloaded job off longer than a transient one, applying exactly the planned delays', async () => {
    const failThrice = (make: () => Error): Script => (n) => {
      if (n <= 3) throw make();
      return 'recovered';
    };
    scripts.set('ov', failThrice(() => new OverloadedError('529 overloaded_error', 'anthropic')));
    scripts.set('tr', failThrice(() => new TransientError('503 from upstream')));
    await Promise.all([add('ov'), add('tr')]);
    await waitFor('both recovered', async () => (await stateOf('ov')) === 'completed' && (await stateOf('tr')) === 'completed', 30_000);

    const gaps = (list: Start[]) => list.slice(1).map((s, i) => s.at - (list[i] as Start).at);
    const ov = starts.get('ov') ?? [];
    const tr = starts.get('tr') ?? [];
    expect(ov).toHaveLength(4);
    expect(tr).toHaveLength(4);
    const ovPlanned = await plannedDelaysOf(h.queues['negotiation-steps'], 'step.ov');
    const trPlanned = await plannedDelaysOf(h.queues['negotiation-steps'], 'step.tr');
    expect(ovPlanned).toHaveLength(3);
    expect(trPlanned).toHaveLength(3);
    // backoffStrategy applied the very delay the processor planned (and noted) for each error.
    expect(applied.get('step.ov')).toEqual(ovPlanned);
    expect(applied.get('step.tr')).toEqual(trPlanned);
    gaps(ov).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(ovPlanned[i] as number));
    gaps(tr).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(trPlanned[i] as number));
    // Overloaded: 400 ms base with equal jitter (200-400, 400-800, 800-1600);
    // transient: 100 ms base with up to 20% (100-120, 200-240, 400-480).
    ovPlanned.forEach((d, i) => expect(d).toBeGreaterThan(trPlanned[i] as number));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(gaps(ov))).toBeGreaterThan(sum(gaps(tr)));
    // Attempts were counted: the fourth start was attempt 4.
    expect(ov.map((s) => s.attemptsMade)).toEqual([0, 1, 2, 3]);
    expect(await counterValue(h.metrics.jobRetries, { queue: 'negotiation-steps', reason: 'overloaded' })).toBe(3);
    expect(await counterValue(h.metrics.jobRetries, { queue: 'negotiation-steps', reason: 'transient' })).toBe(3);
  });

  it('turns exhausted transient attempts into exactly one dead letter per job', async () => {
    const ids = ['ex-1', 'ex-2', 'ex-3'];
    for (const id of ids) {
      scripts.set(id, () => {
        throw new TransientError('connection reset');
      });
    }
    const before = await h.db.deadLetter.count();
    await Promise.all(ids.map(add));
    await waitFor('all failed', async () => (await Promise.all(ids.map(stateOf))).every((s) => s === 'failed'), 30_000);
    for (const id of ids) {
      expect(starts.get(id)).toHaveLength(TEST_POLICY.transientAttempts);
      const rows = await h.db.deadLetter.findMany({ where: { queue: 'negotiation-steps', jobId: `step.${id}` } });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ errorClass: 'transient', attempts: TEST_POLICY.transientAttempts });
      expect(rows[0]?.errorMessage).toContain('TransientError: connection reset');
    }
    expect(await h.db.deadLetter.count()).toBe(before + 3);
    expect(h.deadLetters.filter((d) => ids.some((id) => d.jobId === `step.${id}`))).toHaveLength(3);
  });
});
