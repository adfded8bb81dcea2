import type { AnthropicFault } from '../../packages/sandbox/src/anthropic';
import { waitFor } from '../support/wait';
import { createEngineHarness, seedNegotiation, snapshot, type EngineHarness } from './engine-harness';

/**
 * A 429 pauses the whole `negotiation-steps` queue for exactly the wait the API asked for:
 * no other step (here: another negotiation's opening, enqueued during the pause, with a free
 * worker slot) calls the LLM meanwhile, the work resumes once the wait is over (not a second
 * wait later), and the retry spends no attempt.
 */

/**
 * How late after the wait the paused work may call the LLM again: BullMQ's delay timer, a job
 * fetch and the step's database reads on a loaded 2-core machine. As much as the wait itself, so
 * a pause twice as long as asked (or a backoff stacked on the pause) still fails: it comes on top
 * of the same fetch and reads.
 */
const lateness = (waitMs: number) => waitMs;
describe('LLM 429: the queue pauses for the asked wait', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    // rateLimitDefaultMs (the "no header" wait) shortened from 30 s; long enough that the upper
    // bound below leaves room for a loaded machine.
    h = await createEngineHarness('eng-429', { policy: { transientBaseMs: 200, transientAttempts: 4, overloadedBaseMs: 500, overloadedCapMs: 5_000, overloadedAttempts: 5, rateLimitDefaultMs: 2_000, rateLimitMax: 5 } });
    await h.start({ concurrency: 2 });
  });
  afterAll(async () => {
    await h.close();
  });

  it.each<[string, AnthropicFault, number]>([
    ['retry-after: 3', { status: 429, retryAfter: 3 }, 3_000],
    ['retry-after-ms: 2500', { status: 429, retryAfterMs: 2_500 }, 2_500],
    ['no header (the default wait)', { status: 429 }, 2_000],
  ])('%s', async (_label, fault, waitMs) => {
    h.sandbox.reset();
    h.sandbox.faults([fault]);
    const a = await seedNegotiation(h.db);
    const b = await seedNegotiation(h.db);
    const jobA = await h.step({ negotiationId: a.id, kind: 'open' });

    // Once the 429 has been turned into a pause, a second negotiation's step arrives.
    await waitFor('the rate-limited job back in wait', async () => {
      const { logs } = await h.queues['negotiation-steps'].getJobLogs(jobA);
      return logs.some((l) => l.startsWith('rate limited by anthropic'));
    });
    const jobB = await h.step({ negotiationId: b.id, kind: 'open' });
    await h.finished(jobA, 30_000);
    await h.finished(jobB, 30_000);

    const calls = h.sandbox.calls();
    expect(calls[0]?.status).toBe(429);
    const limitedAt = Date.parse(calls[0]?.at ?? '');
    // Nothing reached the LLM until the wait was over, from either negotiation.
    const later = calls.slice(1);
    expect(later.length).toBe(2);
    for (const c of later) expect(Date.parse(c.at) - limitedAt).toBeGreaterThanOrEqual(waitMs);
    // ...and both came back once it was (both were waiting, each with a free worker slot).
    for (const c of later) expect(Date.parse(c.at) - limitedAt).toBeLessThanOrEqual(waitMs + lateness(waitMs));
    expect(later.every((c) => c.status === 200)).toBe(true);

    const job = await h.job(jobA);
    expect((job.finishedOn ?? 0) - limitedAt).toBeGreaterThanOrEqual(waitMs);
    // The paused start did not count as an attempt (BullMQ counts it as a start only).
    expect(job.attemptsMade).toBe(1);
    expect(job.attemptsStarted).toBe(2);
    const { logs } = await h.queues['negotiation-steps'].getJobLogs(jobA);
    expect(logs).toContain(`rate limited by anthropic: queue paused ${waitMs} ms (restart 1 of 5)`);
    expect((await snapshot(h.db, a.id)).negotiation.state).toBe('outreach_sent');
    expect((await snapshot(h.db, b.id)).negotiation.state).toBe('outreach_sent');
  });

  it('does not count a rate limit as an LLM outage', async () => {
    expect(await h.db.integrationHealth.findUnique({ where: { name: 'anthropic' } })).toBeNull();
  });
});
