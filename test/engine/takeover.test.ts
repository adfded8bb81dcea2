import { withTx } from '@parley/db';
import type { WorkerRuntime } from '@parley/queue';
import { auditTrail, claimNegotiation, resumeNegotiation, TakeoverError } from '@parley/engine';
import { waitFor } from '../support/wait';
import { addReply, createEngineHarness, seedNegotiation, snapshot, type EngineHarness } from './engine-harness';

describe('human takeover: claim, forward, resume', () => {
  let h: EngineHarness;
  let runtime: WorkerRuntime;

  beforeAll(async () => {
    h = await createEngineHarness('eng-claim');
    runtime = await h.start();
  });
  afterAll(async () => {
    await h.close();
  });

  /** What the send handler records once Gmail accepted the opening email (no Gmail in these tests). */
  async function markOpeningSent(id: string): Promise<void> {
    await withTx(h.db, async (tx) => {
      await tx.outboxEmail.updateMany({ where: { negotiationId: id }, data: { status: 'sent', sentAt: new Date(), gmailThreadId: `thread-${id}` } });
      await tx.negotiation.update({ where: { id }, data: { gmailThreadId: `thread-${id}` } });
    });
  }

  it('a negotiation claimed before its opening email went out starts over from the opening offer on resume', async () => {
    const { id } = await seedNegotiation(h.db);
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    // The opening email is drafted but not sent when the human claims the thread.
    expect(await claimNegotiation(h.deps, { negotiationId: id, by: 'U7' })).toBe('human_managed');
    // The worker is held while the reset is read: the fresh open step the resume enqueues would otherwise
    // be taken at once and redraft the opening before the snapshot.
    await Promise.all(runtime.workers.map((w) => w.pause()));
    try {
      expect(await resumeNegotiation(h.deps, { negotiationId: id, by: 'U7' })).toBe('new');
      const reset = await snapshot(h.db, id);
      expect(reset.negotiation).toMatchObject({ state: 'new', currentOfferMinor: null, claimedBy: null });
      expect(reset.outbox).toHaveLength(0);
    } finally {
      runtime.workers.forEach((w) => w.resume());
    }
    // The resume enqueued a fresh open step (the first one's id is spent); it drafts the opening again.
    await waitFor('opening drafted again', async () => (await snapshot(h.db, id)).negotiation.state === 'outreach_sent', 30_000);
    const reopened = await snapshot(h.db, id);
    expect(reopened.outbox.map((o) => [o.kind, o.status])).toEqual([['opening', 'pending']]);
    expect(reopened.transitions.map((t) => t.event)).toEqual(['outreach_queued', 'claimed', 'resumed_before_outreach', 'outreach_queued']);
  });

  it('leaves a claimed negotiation to its human, forwards replies, and hands it back on resume', async () => {
    const seeded = await seedNegotiation(h.db);
    const id = seeded.id;
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    await markOpeningSent(id);

    expect(await claimNegotiation(h.deps, { negotiationId: id, by: 'U042' })).toBe('human_managed');
    // The same person claiming again is a no-op; someone else cannot take it from them.
    expect(await claimNegotiation(h.deps, { negotiationId: id, by: 'U042' })).toBe('human_managed');
    await expect(claimNegotiation(h.deps, { negotiationId: id, by: 'U999' })).rejects.toThrow(TakeoverError);
    const claimed = await snapshot(h.db, id);
    expect(claimed.negotiation).toMatchObject({ state: 'human_managed', claimedBy: 'U042' });

    h.sandbox.reset();
    const msg = await addReply(h.db, id, 'My rate for this would be $3,500.00.');
    const out = await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg }));
    expect(out).toEqual({ outcome: 'skipped: human-managed (reply forwarded)' });

    const s = await snapshot(h.db, id);
    // The agent did nothing: no LLM call, same state, offer, transitions and outbox.
    expect(h.sandbox.calls()).toHaveLength(0);
    expect(s.negotiation).toEqual(claimed.negotiation);
    expect(s.transitions).toEqual(claimed.transitions);
    expect(s.outbox).toEqual(claimed.outbox);
    // Recorded as seen (the human answers it) and audited; the claimer gets it in an alert.
    expect(s.inbound[0]?.processedAt).not.toBeNull();
    expect(s.audits.at(-1)).toMatchObject({ actor: 'agent', action: 'reply_forwarded_to_claimer', details: { claimedBy: 'U042', messages: [msg] } });
    const alert = await h.queues.alerts.getJob(`alert.fwd-${msg}`);
    expect(alert?.data).toMatchObject({ kind: 'takeover_reply', negotiationId: id });
    expect(String(alert?.data.text)).toContain('U042');

    // A redelivered step for the same reply forwards nothing twice.
    const again = await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg }, `step.${id}.${msg}.dup`));
    expect(again).toEqual({ outcome: 'skipped: human-managed' });
    expect((await snapshot(h.db, id)).audits).toHaveLength(s.audits.length);

    expect(await resumeNegotiation(h.deps, { negotiationId: id, by: 'U042' })).toBe('awaiting_reply');
    const resumed = await snapshot(h.db, id);
    expect(resumed.negotiation).toMatchObject({ state: 'awaiting_reply', claimedBy: null, currentOfferMinor: 200_000 });
    expect(resumed.transitions.slice(-2).map((t) => [t.fromState, t.event, t.toState, t.details])).toEqual([
      ['outreach_sent', 'claimed', 'human_managed', { by: 'U042' }],
      ['human_managed', 'resumed', 'awaiting_reply', { by: 'U042' }],
    ]);
    await expect(resumeNegotiation(h.deps, { negotiationId: id, by: 'U042' })).rejects.toThrow(TakeoverError);

    // Back with the agent: the next reply is answered by policy.
    const next = await addReply(h.db, id, 'Following up: my rate would be $3,500.00.');
    expect(await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: next }))).toEqual({ outcome: 'counter -> counter' });
    const done = await snapshot(h.db, id);
    expect(done.negotiation).toMatchObject({ state: 'counter_sent', currentOfferMinor: 266_666 });
    // Only the new reply was read; the one the human handled was not answered again.
    expect(done.transitions.at(-2)?.details).toMatchObject({ messages: [next] });

    const trail = await auditTrail(h.db, seeded.influencerEmail);
    expect(trail.negotiation.id).toBe(id);
    expect(trail.audits.map((a) => a.action)).toEqual(['outreach_queued', 'claimed', 'reply_forwarded_to_claimer', 'resumed', 'reply_received+counter_queued']);
    expect(trail.audits.map((a) => a.actor)).toEqual(['agent', 'human:U042', 'agent', 'human:U042', 'agent']);
  });

  it('a claim while a step is drafting wins: the step conflicts, retries, and leaves the thread to the human', async () => {
    const { id } = await seedNegotiation(h.db);
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    const msg = await addReply(h.db, id, 'My rate for this would be $3,500.00.');
    h.sandbox.reset();
    // Held long enough that the claim commits first even on a loaded machine.
    h.sandbox.faults([{ delayMs: 5_000 }]);
    const jobId = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg });
    // The human claims while the step waits on the LLM.
    await waitFor('the step calling the LLM', () => h.sandbox.calls().length >= 1);
    await claimNegotiation(h.deps, { negotiationId: id, by: 'U042' });
    expect(await h.finished(jobId)).toEqual({ outcome: 'skipped: human-managed (reply forwarded)' });
    const s = await snapshot(h.db, id);
    expect(s.negotiation.state).toBe('human_managed');
    expect(s.outbox.map((o) => o.kind)).toEqual(['opening']);
    expect(await h.queues.alerts.getJob(`alert.fwd-${msg}`)).toBeDefined();
  });
});
