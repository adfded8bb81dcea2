import { ceilingPrice, formatMoney, findMoneyAmounts, toMinor } from '@parley/domain';
import { withTx } from '@parley/db';
import { applyTransitions, termsOf } from '@parley/engine';
import { jobIds } from '@parley/queue';
import { waitFor } from '../support/wait';
import { addReply, createEngineHarness, escalationAlert, snapshot, seedNegotiation, type EngineHarness } from './engine-harness';

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** Every amount any email of the negotiation states, in minor units. */
function statedAmounts(s: Snapshot): number[] {
  return s.outbox.flatMap((o) => findMoneyAmounts(`${o.subject}\n${o.body}`).map((m) => toMinor(m.major, m.currency)));
}

function expectChain(s: Snapshot, expected: [string, string, string][]): void {
  expect(s.transitions.map((t) => [t.fromState, t.event, t.toState])).toEqual(expected);
  for (const t of s.transitions) expect(t.at).toBeInstanceOf(Date);
  // Each transition starts where the previous one ended.
  for (let i = 1; i < s.transitions.length; i += 1) expect(s.transitions[i]?.fromState).toBe(s.transitions[i - 1]?.toState);
}

describe('negotiation steps through the real runtime, SDK and sandbox', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('eng-flow');
    await h.start();
  });
  afterAll(async () => {
    await h.close();
  });

  it('opens, counters and agrees: every transition and email recorded, the policy deciding every price', async () => {
    const seeded = await seedNegotiation(h.db);
    const terms = termsOf(seeded);
    const ceiling = ceilingPrice(terms);
    const id = seeded.id;

    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    let s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'outreach_sent', currentOfferMinor: 200_000, round: 0, version: 1 });
    expect(s.outbox).toHaveLength(1);
    expect(s.outbox[0]).toMatchObject({ kind: 'opening', status: 'pending', toAddress: seeded.influencerEmail });
    expect(s.outbox[0]?.body).toContain(formatMoney(200_000, 'USD'));
    expect(s.outbox[0]?.messageIdHdr).toBe(`<${id}.open@brand.test>`);

    // They ask for more than the first concession: a counter at the policy's round-1 price.
    const ask1 = await addReply(h.db, id, 'Thanks for reaching out! My rate for this would be $3,500.00.');
    const out1 = await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: ask1 }));
    expect(out1).toEqual({ outcome: 'counter -> counter' });
    s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'counter_sent', round: 1, currentOfferMinor: 266_666, lastAskMinor: 350_000 });
    expect(s.outbox).toHaveLength(2);
    expect(s.outbox[1]).toMatchObject({ kind: 'counter', status: 'pending', inReplyTo: `<${ask1}@creator.test>`, subject: 'Re: Collaboration: Spring Launch' });
    expect(s.outbox[1]?.body).toContain(formatMoney(266_666, 'USD'));

    // An ask under the next concession: accepted at exactly the ask.
    const ask2 = await addReply(h.db, id, 'I could do it for $3,000.00, not less.');
    const out2 = await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: ask2 }));
    expect(out2).toEqual({ outcome: 'counter -> accept' });
    s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'agreed', agreedRateMinor: 300_000, currentOfferMinor: 300_000, version: 3 });
    expect(s.outbox.map((o) => o.kind)).toEqual(['opening', 'counter', 'accept']);
    expect(s.outbox[2]?.body).toContain(formatMoney(300_000, 'USD'));
    expect(s.outbox.every((o) => o.status === 'pending')).toBe(true);

    expectChain(s, [
      ['new', 'outreach_queued', 'outreach_sent'],
      ['outreach_sent', 'reply_received', 'counter_received'],
      ['counter_received', 'counter_queued', 'counter_sent'],
      ['counter_sent', 'reply_received', 'counter_received'],
      ['counter_received', 'accepted', 'agreed'],
    ]);
    expect(s.transitions[1]?.details).toMatchObject({ intent: 'counter', askedMinor: 350_000, askedCurrency: 'USD', decision: 'counter', messages: [ask1] });
    expect(s.transitions[4]?.details).toMatchObject({ intent: 'counter', askedMinor: 300_000, askedCurrency: 'USD', decision: 'accept', messages: [ask2] });
    expect(s.inbound.every((m) => m.processedAt !== null)).toBe(true);
    // Each email states exactly the policy's price, and none is above the ceiling.
    expect(statedAmounts(s)).toEqual([200_000, 266_666, 300_000]);
    expect(Math.max(...statedAmounts(s), s.negotiation.currentOfferMinor ?? 0)).toBeLessThanOrEqual(ceiling);
    // Every email has its send job; no worker consumes them here.
    for (const o of s.outbox) expect(await h.queues['outbound-email'].getJob(`send.${o.id}`)).toBeDefined();
    expect(await h.metrics.dealsClosed.get()).toMatchObject({ values: [{ value: 1 }] });
  });

  it('escalates an ask far above the ceiling after the last round, with an alert', async () => {
    const seeded = await seedNegotiation(h.db, { maxRounds: 1 });
    const id = seeded.id;
    const ceiling = ceilingPrice(termsOf(seeded));
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));

    const ask1 = await addReply(h.db, id, 'My rate for this would be $10,000.00.');
    await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: ask1 }));
    let s = await snapshot(h.db, id);
    // One round allowed: the counter goes straight to the ceiling and no further.
    expect(s.negotiation).toMatchObject({ state: 'counter_sent', round: 1, currentOfferMinor: ceiling });

    const ask2 = await addReply(h.db, id, 'Sorry, $9,500.00 is the lowest I can go.');
    const out = await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: ask2 }));
    expect(out).toEqual({ outcome: 'counter -> escalate' });
    s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'escalated', escalationReason: 'ask above ceiling after the last round', currentOfferMinor: ceiling, lastAskMinor: 950_000 });
    expectChain(s, [
      ['new', 'outreach_queued', 'outreach_sent'],
      ['outreach_sent', 'reply_received', 'counter_received'],
      ['counter_received', 'counter_queued', 'counter_sent'],
      ['counter_sent', 'reply_received', 'counter_received'],
      ['counter_received', 'escalated', 'escalated'],
    ]);
    // No email for the escalation: a human answers it.
    expect(s.outbox.map((o) => o.kind)).toEqual(['opening', 'counter']);
    expect(statedAmounts(s)).toEqual([200_000, ceiling]);
    const alert = await escalationAlert(h, id);
    expect(alert?.data).toMatchObject({ kind: 'escalation', negotiationId: id });
    expect(String(alert?.data.text)).toContain('ask above ceiling after the last round');

    // A later reply is not answered by the agent: it goes to a human, once.
    h.sandbox.reset();
    const ask3 = await addReply(h.db, id, 'Any news? $9,000.00 is my final word.');
    const jobId = await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: ask3 });
    expect(await h.finished(jobId)).toEqual({ outcome: 'skipped: negotiation is escalated (reply forwarded)' });
    expect(await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: ask3 }, `${jobId}.dup`))).toEqual({ outcome: 'skipped: negotiation is escalated' });
    expect(h.sandbox.calls()).toHaveLength(0);
    const after = await snapshot(h.db, id);
    expect(after.negotiation).toEqual(s.negotiation);
    expect(after.outbox).toEqual(s.outbox);
    expect(after.audits.filter((a) => a.action === 'reply_forwarded')).toHaveLength(1);
    const forwarded = await h.queues.alerts.getJob(`alert.fwd-${ask3}`);
    expect(forwarded?.data).toMatchObject({ kind: 'escalation', negotiationId: id });
    expect(String(forwarded?.data.text)).toContain('$9,000.00 is my final word');
    // Still one escalation alert, however many runs saw the negotiation escalated.
    const alerts = await h.queues.alerts.getJobs(['waiting', 'delayed', 'completed', 'failed']);
    expect(alerts.filter((j) => j.data.negotiationId === id && String(j.data.alertId).startsWith('esc-'))).toHaveLength(1);
  });

  it.each([
    ['a hostile reply', 'Stop emailing me, you spammers.', 'hostile reply'],
    ['an unclear reply', 'Hmm. Maybe. We will see what happens later.', 'unclear reply'],
  ])('escalates %s without answering it', async (_label, text, reason) => {
    const { id } = await seedNegotiation(h.db);
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    const msg = await addReply(h.db, id, text);
    await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: msg }));
    const s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'escalated', escalationReason: reason, currentOfferMinor: 200_000 });
    expect(s.transitions.slice(1).map((t) => [t.fromState, t.event, t.toState])).toEqual([
      ['outreach_sent', 'reply_received', 'counter_received'],
      ['counter_received', 'escalated', 'escalated'],
    ]);
    expect(s.outbox).toHaveLength(1);
    expect(s.inbound[0]?.processedAt).not.toBeNull();
    expect(s.audits.map((a) => a.action)).toEqual(['outreach_queued', 'reply_received+escalated']);
    const alert = await escalationAlert(h, id);
    expect(alert?.data).toMatchObject({ kind: 'escalation', negotiationId: id });
  });

  it('records an ask in another currency with that currency, and escalates it without answering', async () => {
    const { id } = await seedNegotiation(h.db);
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    const ask = await addReply(h.db, id, 'My rate for this would be €900.00.');
    await h.finished(await h.step({ negotiationId: id, kind: 'reply', gmailMessageId: ask }));
    const s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'escalated', escalationReason: 'reply names EUR, the campaign is in USD', lastAskMinor: 90_000 });
    // The timeline reads askedCurrency to show 90,000 minor units as €900.00, not $900.00.
    expect(s.transitions[1]?.details).toMatchObject({ intent: 'counter', askedMinor: 90_000, askedCurrency: 'EUR', decision: 'escalate', messages: [ask] });
    expect(s.outbox.map((o) => o.kind)).toEqual(['opening']);
  });

  it('counts escalations under a bounded reason label', async () => {
    const { values } = await h.metrics.escalations.get();
    const byReason = Object.fromEntries(values.map((v) => [v.labels.reason, v.value]));
    expect(byReason).toEqual({ above_ceiling: 1, currency: 1, hostile: 1, unclear: 1 });
  });

  it('follows up after silence, at most maxFollowUps times, then goes stale', async () => {
    const { id } = await seedNegotiation(h.db);
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    // Gmail accepted the opening (what the send handler records).
    const opened = await h.db.negotiation.findUniqueOrThrow({ where: { id } });
    await withTx(h.db, (tx) => applyTransitions(tx, { negotiation: opened, events: ['email_delivered'], data: { lastMessageIdHdr: `<${id}.open@brand.test>` }, actor: 'agent', at: new Date() }));

    // What the send handler does once Gmail accepted the pending emails (no Gmail here).
    const markSent = () => withTx(h.db, (tx) => tx.outboxEmail.updateMany({ where: { negotiationId: id, status: 'pending' }, data: { status: 'sent', sentAt: new Date() } }));
    await markSent();

    const outcomes: unknown[] = [];
    for (const n of [1, 2, 3]) {
      outcomes.push(await h.finished(await h.step({ negotiationId: id, kind: 'follow_up' }, jobIds.followUp(id, n))));
      if (n === 1) {
        // A second sweep before the first nudge went out writes no second nudge.
        expect(await h.finished(await h.step({ negotiationId: id, kind: 'follow_up' }, `${jobIds.followUp(id, 2)}.early`))).toEqual({ outcome: 'skipped: our last email is not sent yet' });
      }
      await markSent();
    }
    expect(outcomes).toEqual([{ outcome: 'follow-up 1' }, { outcome: 'follow-up 2' }, { outcome: 'stale' }]);
    const s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'stale', followUps: 2, currentOfferMinor: 200_000 });
    expect(s.outbox.map((o) => [o.kind, o.inReplyTo])).toEqual([
      ['opening', null],
      ['follow_up', `<${id}.open@brand.test>`],
      ['follow_up', `<${id}.open@brand.test>`],
    ]);
    for (const o of s.outbox.slice(1)) {
      expect(o.subject).toBe('Re: Collaboration: Spring Launch');
      expect(o.body).toContain(formatMoney(200_000, 'USD'));
    }
    expect(s.transitions.map((t) => t.event)).toEqual(['outreach_queued', 'email_delivered', 'follow_up_queued', 'follow_up_queued', 'went_stale']);
  });

  it('drops a follow-up when a reply arrives while it is being drafted', async () => {
    const { id } = await seedNegotiation(h.db);
    await h.finished(await h.step({ negotiationId: id, kind: 'open' }));
    const opened = await h.db.negotiation.findUniqueOrThrow({ where: { id } });
    await withTx(h.db, (tx) => applyTransitions(tx, { negotiation: opened, events: ['email_delivered'], actor: 'agent', at: new Date() }));
    await withTx(h.db, (tx) => tx.outboxEmail.updateMany({ where: { negotiationId: id }, data: { status: 'sent', sentAt: new Date() } }));
    h.sandbox.reset();
    // The draft is held long enough that the reply is stored first even on a loaded machine.
    h.sandbox.faults([{ delayMs: 5_000 }]);
    const jobId = await h.step({ negotiationId: id, kind: 'follow_up' }, jobIds.followUp(id, 1));
    await waitFor('the follow-up draft requested', () => h.sandbox.calls().length >= 1);
    await addReply(h.db, id, 'Sorry for the delay! My rate would be $3,500.00.');
    expect(await h.finished(jobId)).toEqual({ outcome: 'skipped: a reply arrived' });
    const s = await snapshot(h.db, id);
    expect(s.negotiation).toMatchObject({ state: 'awaiting_reply', followUps: 0 });
    expect(s.outbox.map((o) => o.kind)).toEqual(['opening']);
  });
});
