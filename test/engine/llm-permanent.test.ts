import { formatMoney } from '@parley/domain';
import { llmFailingSince } from '@parley/llm';
import type { AnthropicFault } from '../../packages/sandbox/src/anthropic';
import { addReply, createEngineHarness, seedNegotiation, snapshot, type EngineHarness } from './engine-harness';

/** A negotiation waiting on its first reply (opening already sent), with that reply recorded. */
async function awaitingAnswer(h: EngineHarness, text = 'Thanks for reaching out! My rate for this would be $2,400.00.') {
  const { id } = await seedNegotiation(h.db);
  await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
  const msg = await addReply(h.db, id, text);
  h.sandbox.reset();
  return { id, msg, before: await snapshot(h.db, id) };
}

describe('LLM permanent failures and invalid tool output', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('eng-perm');
    await h.start();
  });
  afterAll(async () => {
    await h.close();
  });

  it.each<[string, AnthropicFault]>([
    ['400', { status: 400 }],
    ['401', { status: 401 }],
  ])('%s: one LLM call, a dead letter at once, no state change', async (status, fault) => {
    const { id, msg, before } = await awaitingAnswer(h);
    h.sandbox.faults([fault]);
    const jobId = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg });
    await expect(h.finished(jobId)).rejects.toThrow(new RegExp(`Anthropic ${status}`));

    expect(h.sandbox.calls().map((c) => c.status)).toEqual([Number(status)]);
    const dead = await h.db.deadLetter.findUniqueOrThrow({ where: { queue_jobId: { queue: 'negotiation-steps', jobId } } });
    expect(dead).toMatchObject({ errorClass: 'permanent', attempts: 1, payload: { negotiationId: id, kind: 'reply', gmailMessageId: msg } });
    expect(dead.errorMessage).toContain(`PermanentError: Anthropic ${status}`);
    expect((await h.job(jobId)).attemptsMade).toBe(1);
    const after = await snapshot(h.db, id);
    expect(after.negotiation).toEqual(before.negotiation);
    expect(after.transitions).toEqual(before.transitions);
    expect(after.outbox).toEqual(before.outbox);
    // The reply stays unanswered, so a replay after the fix answers it.
    expect(after.inbound[0]?.processedAt).toBeNull();
    expect(await h.queues.alerts.getJob(`alert.dl-${dead.id}`)).toBeDefined();
    // A request we got wrong says nothing about the LLM being down.
    expect(await llmFailingSince(h.db)).toBeNull();
  });

  it('invalid read_reply output once: one re-ask, then the step succeeds', async () => {
    const { id, msg } = await awaitingAnswer(h);
    h.sandbox.faults([{ invalidToolOutput: true }]);
    expect(await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg }))).toEqual({ outcome: 'counter -> accept' });

    const calls = h.sandbox.calls();
    expect(calls.map((c) => [c.tool, c.status])).toEqual([
      ['read_reply', 200],
      ['read_reply', 200],
      ['draft_email', 200],
    ]);
    // The re-ask carries the model's answer back with the validation error.
    const reask = JSON.stringify(calls[1]?.body);
    expect(reask).toContain('"is_error":true');
    expect(reask).toContain('Your read_reply input was invalid');
    const s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'agreed', agreedRateMinor: 240_000 });
    expect(s.outbox.at(-1)?.body).toContain(formatMoney(240_000, 'USD'));
  });

  it('a draft stating another price once: re-asked, and the email states exactly the policy price', async () => {
    const { id, msg } = await awaitingAnswer(h, 'My rate for this would be $3,500.00.');
    h.sandbox.faults([{}, { toolInput: { subject: 'Our offer', body: 'Hi Ana,\n\nWe can offer $3,500.00.\n\nBest' } }]);
    expect(await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg }))).toEqual({ outcome: 'counter -> counter' });
    expect(h.sandbox.calls().map((c) => c.tool)).toEqual(['read_reply', 'draft_email', 'draft_email']);
    const s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'counter_sent', currentOfferMinor: 266_666 });
    expect(s.outbox.at(-1)?.body).toContain(formatMoney(266_666, 'USD'));
    expect(s.outbox.at(-1)?.body).not.toContain('$3,500.00');
  });

  it('invalid output twice: a permanent failure (dead letter), no state change', async () => {
    const { id, msg, before } = await awaitingAnswer(h);
    h.sandbox.faults([{ invalidToolOutput: true }, { invalidToolOutput: true }]);
    const jobId = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg });
    await expect(h.finished(jobId)).rejects.toThrow(/invalid read_reply output twice/);

    expect(h.sandbox.calls()).toHaveLength(2);
    const dead = await h.db.deadLetter.findUniqueOrThrow({ where: { queue_jobId: { queue: 'negotiation-steps', jobId } } });
    expect(dead).toMatchObject({ errorClass: 'permanent', attempts: 1 });
    const after = await snapshot(h.db, id);
    expect(after.negotiation).toEqual(before.negotiation);
    expect(after.outbox).toEqual(before.outbox);
    expect(after.inbound[0]?.processedAt).toBeNull();
  });

  it('a draft with the wrong price twice: a dead letter, and no email in the outbox', async () => {
    const { id, msg, before } = await awaitingAnswer(h, 'My rate for this would be $3,500.00.');
    const wrong = { toolInput: { subject: 'Our offer', body: 'Hi Ana,\n\nWe can offer $3,500.00.\n\nBest' } };
    h.sandbox.faults([{}, wrong, wrong]);
    const jobId = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg });
    await expect(h.finished(jobId)).rejects.toThrow(/invalid draft_email output twice/);
    const after = await snapshot(h.db, id);
    expect(after.negotiation).toEqual(before.negotiation);
    expect(after.outbox).toEqual(before.outbox);
  });
});
