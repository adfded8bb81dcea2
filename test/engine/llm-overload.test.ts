import { escalateDuringLlmOutage } from '@parley/engine';
import { llmFailingSince } from '@parley/llm';
import type { AnthropicFault } from '../../packages/sandbox/src/anthropic';
import { waitFor } from '../support/wait';
import { callTimes, createEngineHarness, escalationAlert, plannedDelays, seedNegotiation, snapshot, type EngineHarness } from './engine-harness';

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - (times[i] ?? t));
const times = (n: number, fault: AnthropicFault) => Array.from({ length: n }, () => fault);

describe('LLM 529 and 5xx: each class its own backoff', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    // Overloaded waits (1 s base, x2) sit well above transient ones (100 ms base, x2).
    h = await createEngineHarness('eng-529', {
      policy: { transientBaseMs: 100, transientAttempts: 5, overloadedBaseMs: 1_000, overloadedCapMs: 10_000, overloadedAttempts: 5, rateLimitDefaultMs: 1_000, rateLimitMax: 5 },
    });
    await h.start();
  });
  afterAll(async () => {
    await h.close();
  });

  async function threeFailuresThenSuccess(status: number) {
    h.sandbox.reset();
    h.sandbox.faults(times(3, { status }));
    const { id } = await seedNegotiation(h.db);
    const jobId = await h.step({ negotiationId: id, kind: 'open' });
    await h.finished(jobId, 60_000);
    const job = await h.job(jobId);
    expect(h.sandbox.calls().map((c) => c.status)).toEqual([status, status, status, 200]);
    expect(job.attemptsMade).toBe(4);
    expect((await snapshot(h.db, id)).negotiation.state).toBe('outreach_sent');
    return { observed: gaps(callTimes(h.sandbox)), planned: await plannedDelays(h, jobId) };
  }

  it('529 three times then success: completes after growing waits, longer than the transient ones', async () => {
    const overloaded = await threeFailuresThenSuccess(529);
    const transient = await threeFailuresThenSuccess(500);

    expect(overloaded.planned).toHaveLength(3);
    // Exponential with equal jitter: each planned wait is in [base*2^(n-1)/2, base*2^(n-1)].
    overloaded.planned.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(500 * 2 ** i);
      expect(ms).toBeLessThanOrEqual(1_000 * 2 ** i);
    });
    for (let i = 1; i < 3; i += 1) expect(overloaded.planned[i]).toBeGreaterThanOrEqual(overloaded.planned[i - 1] ?? 0);
    // The calls really were that far apart, and the gaps grew.
    overloaded.observed.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual((overloaded.planned[i] ?? 0) - 5));
    expect(overloaded.observed[2]).toBeGreaterThan(overloaded.observed[0] ?? Infinity);
    // Same attempt, longer wait than the transient policy's: planned (the observed 529 gaps held
    // theirs, above), since a loaded machine stretches a short transient gap by its pauses.
    expect(transient.planned).toHaveLength(3);
    overloaded.planned.forEach((ms, i) => expect(ms).toBeGreaterThan(transient.planned[i] ?? Infinity));
    // A success ends the outage the failures started.
    expect(await llmFailingSince(h.db)).toBeNull();
  });
});

describe('LLM 529 forever: a dead letter, then a human', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('eng-529x', {
      policy: { transientBaseMs: 100, transientAttempts: 3, overloadedBaseMs: 200, overloadedCapMs: 1_000, overloadedAttempts: 3, rateLimitDefaultMs: 1_000, rateLimitMax: 5 },
    });
    await h.start();
  });
  afterAll(async () => {
    await h.close();
  });

  it('dead-letters after the configured attempts; the outage sweep escalates once the window passes', async () => {
    h.sandbox.faults(times(3, { status: 529 }));
    const { id } = await seedNegotiation(h.db);
    const jobId = await h.step({ negotiationId: id, kind: 'open' });
    await expect(h.finished(jobId, 30_000)).rejects.toThrow(/overloaded/);

    expect(h.sandbox.calls().map((c) => c.status)).toEqual([529, 529, 529]);
    const dead = await h.db.deadLetter.findUniqueOrThrow({ where: { queue_jobId: { queue: 'negotiation-steps', jobId } } });
    expect(dead).toMatchObject({ errorClass: 'overloaded', attempts: 3, payload: { negotiationId: id, kind: 'open' } });
    expect((await snapshot(h.db, id)).negotiation.state).toBe('new');

    const since = await llmFailingSince(h.db);
    expect(since).not.toBeNull();
    const window = 5 * 60_000;
    const at = (ms: number) => ({ ...h.deps, llmOutageEscalateAfterMs: window, now: () => new Date((since?.getTime() ?? 0) + ms) });
    // Inside the window nothing happens; past it the negotiation goes to a human, once.
    expect(await escalateDuringLlmOutage(at(window - 1))).toBe(0);
    expect(await escalateDuringLlmOutage(at(window))).toBe(1);
    expect(await escalateDuringLlmOutage(at(window + 1_000))).toBe(0);

    // The same on the real clock, with a short window: a second negotiation whose step also died.
    const other = await seedNegotiation(h.db);
    expect(await escalateDuringLlmOutage({ ...h.deps, llmOutageEscalateAfterMs: 60_000 })).toBe(0);
    const escalatedLater = await waitFor('the outage window to pass', () => escalateDuringLlmOutage({ ...h.deps, llmOutageEscalateAfterMs: 1_000 }), 10_000);
    expect(escalatedLater).toBe(1);
    expect((await snapshot(h.db, other.id)).negotiation.state).toBe('escalated');

    const s = await snapshot(h.db, id);
    expect(s.negotiation.state).toBe('escalated');
    expect(s.negotiation.escalationReason).toMatch(/^llm_unavailable: the LLM has failed for 300s/);
    expect(s.transitions.map((t) => [t.fromState, t.event, t.toState])).toEqual([['new', 'escalated', 'escalated']]);
    const alert = await escalationAlert(h, id);
    expect(alert?.data).toMatchObject({ kind: 'escalation', negotiationId: id });
    expect(await h.queues.alerts.getJob(`alert.dl-${dead.id}`)).toBeDefined();
  });
});

describe('LLM 529 past the outage window: the step itself escalates', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('eng-outage', {
      policy: { transientBaseMs: 100, transientAttempts: 3, overloadedBaseMs: 300, overloadedCapMs: 1_000, overloadedAttempts: 10, rateLimitDefaultMs: 1_000, rateLimitMax: 5 },
      llmOutageEscalateAfterMs: 1_500,
    });
    await h.start();
  });
  afterAll(async () => {
    await h.close();
  });

  it('an attempt that fails past LLM_OUTAGE_ESCALATE_AFTER escalates instead of retrying on', async () => {
    h.sandbox.faults(times(10, { status: 529 }));
    const seeded = await seedNegotiation(h.db);
    const id = seeded.id;
    const jobId = await h.step({ negotiationId: id, kind: 'open' });
    expect(await h.finished(jobId, 30_000)).toEqual({ outcome: 'escalated: llm unavailable' });

    const calls = callTimes(h.sandbox);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.length).toBeLessThan(10);
    // The retries spread over time, backing off...
    expect((calls.at(-1) ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(1_000);
    const s = await snapshot(h.db, id);
    expect(s.negotiation.state).toBe('escalated');
    // ...and the step escalated only once the outage had lasted the window, on the clock that
    // decides it (the first failure's record to the escalation). The sandbox's request times
    // cannot say this to the millisecond: each call's own latency sits between the two clocks.
    const since = await llmFailingSince(h.db);
    const escalatedAt = s.transitions.find((t) => t.toState === 'escalated')?.at;
    expect(since).not.toBeNull();
    expect((escalatedAt?.getTime() ?? 0) - (since?.getTime() ?? Infinity)).toBeGreaterThanOrEqual(1_500);
    expect(s.negotiation.escalationReason).toMatch(/^llm_unavailable/);
    expect(await h.db.deadLetter.count()).toBe(0);
    expect(await escalationAlert(h, id)).toBeDefined();
    h.sandbox.reset();
  });
});
