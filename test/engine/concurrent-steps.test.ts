import { amountsAboveCeiling } from '../../packages/domain/src/ceiling.oracle';
import { SANDBOX_API_KEY } from '../../packages/sandbox/src/anthropic';
import { spawnTs, type Spawned } from '../support/processes';
import { waitFor } from '../support/wait';
import { addReply, createEngineHarness, seedNegotiation, snapshot, type EngineHarness } from './engine-harness';

/**
 * Two worker processes on one queue, one SQLite file and one Redis: two replies on the same
 * thread are stepped at the same time. The optimistic version check lets exactly one commit;
 * the other's conflict is retried (never dropped), so both replies are answered, in order.
 */
describe('concurrent steps of one negotiation in two worker processes', () => {
  let h: EngineHarness;
  const workers: Spawned[] = [];

  beforeAll(async () => {
    h = await createEngineHarness('eng-conc');
    for (const name of ['w1', 'w2']) {
      workers.push(
        spawnTs('test/fixtures/engine-worker.ts', {
          DATABASE_URL: h.dbUrl,
          REDIS_URL: h.redisUrl,
          QUEUE_PREFIX: h.prefix,
          ANTHROPIC_BASE_URL: h.sandbox.url,
          ANTHROPIC_API_KEY: SANDBOX_API_KEY,
          WORKER_ID: name,
        }),
      );
    }
    await Promise.all(workers.map((w) => w.waitForLine(/engine worker ready/, 60_000)));
  }, 90_000);
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await h.close();
  });

  it('answers both replies in order with no lost update; a duplicate job changes nothing', async () => {
    const seeded = await seedNegotiation(h.db);
    const id = seeded.id;
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));

    // Each step's first LLM call is held, so the two steps are in flight together whichever
    // process takes which; the hold is long enough for the second job to be picked up on a
    // loaded machine. Later calls answer at once.
    const HOLD_MS = 8_000;
    h.sandbox.reset();
    h.sandbox.faults([{ delayMs: HOLD_MS }, { delayMs: HOLD_MS }]);
    const m1 = await addReply(h.db, id, 'Thanks for reaching out! My rate for this would be $3,500.00.');
    const job1 = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: m1 });
    await waitFor('the first step calling the LLM', () => h.sandbox.calls().length >= 1);
    const m2 = await addReply(h.db, id, 'Thinking about it more, $3,400.00 would work.');
    const job2 = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: m2 });
    const [first, second] = await waitFor('both steps calling the LLM', () => (h.sandbox.calls().length >= 2 ? h.sandbox.calls() : undefined), 30_000);
    // The race happened: the second step called the LLM before the first step's call was answered.
    expect(Date.parse(second?.at ?? '') - Date.parse(first?.at ?? '')).toBeLessThan(HOLD_MS);
    await Promise.all([h.finished(job1, 60_000), h.finished(job2, 60_000)]);

    const s = await snapshot(h.db, id);
    // Both processes worked, and the one that lost the race retried instead of dropping its step.
    const output = workers.map((w) => w.output()).join('\n');
    expect(output).toMatch(/changed concurrently; retrying the step/);
    const ran = workers.map((w) => [job1, job2].filter((j) => w.output().includes(`"jobId":"${j}"`)));
    expect(ran.every((jobs) => jobs.length > 0)).toBe(true);

    // Every message answered exactly once, in arrival order (alone or together with the next).
    expect(s.inbound.map((m) => m.processedAt !== null)).toEqual([true, true]);
    const answered = s.transitions.filter((t) => t.event === 'reply_received').flatMap((t) => (t.details as { messages: string[] }).messages);
    expect(answered).toEqual([m1, m2]);
    expect((s.inbound[0]?.processedAt ?? 0) <= (s.inbound[1]?.processedAt ?? 0)).toBe(true);
    // No lost update: one version per committed step, and an unbroken chain of transitions.
    for (let i = 1; i < s.transitions.length; i += 1) expect(s.transitions[i]?.fromState).toBe(s.transitions[i - 1]?.toState);
    expect(s.negotiation.version).toBe(s.audits.length);
    expect(s.negotiation.state).toBe('counter_sent');
    expect(s.negotiation.lastAskMinor).toBe(340_000);
    // One email per committed step, the last one answering the last message, none above the ceiling.
    expect(s.outbox).toHaveLength(s.audits.length);
    expect(s.outbox.at(-1)?.inReplyTo).toBe(`<${m2}@creator.test>`);
    // The ceiling is computed independently of the production formula (BigInt, CPM x views).
    const above = s.outbox.flatMap((o) => amountsAboveCeiling(`${o.subject}\n${o.body}`, seeded.campaign.currency, seeded.campaign.cpmCeilingMinor, seeded.averageViews));
    expect(above).toEqual([]);

    // A duplicate job (a new id) for an already answered message changes nothing.
    const callsBefore = h.sandbox.calls().length;
    const dup = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: m1 }, `step.${id}.${m1}.dup`);
    expect(await h.finished(dup, 30_000)).toEqual({ outcome: 'skipped: no unanswered message' });
    const after = await snapshot(h.db, id);
    expect(after.negotiation).toEqual(s.negotiation);
    expect(after.transitions).toEqual(s.transitions);
    expect(after.outbox).toEqual(s.outbox);
    expect(h.sandbox.calls()).toHaveLength(callsBefore);
  });
});
