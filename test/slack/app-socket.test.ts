import { jobIds, replayJobId } from '@parley/queue';
import { ACK_BUDGET_MS } from '../../apps/api/src/slack';
import { jobIdsIn } from '../api/api-harness';
import { seedCampaign, seedDeadLetter, seedNegotiation } from '../admin/seed';
import { waitFor } from '../support/wait';
import { OPERATOR, OUTSIDER, startSlackApp, type SlackAppHarness } from './app-harness';
import { withAnswer } from './command-answer';

/** Slack's budget is 3 s; the bound leaves no slack past it, whatever the machine's load. */
const ACK_LIMIT_MS = 3000;
/** Longer than the budget, so an ack that waited for it could not pass. */
const SLOW_MS = 6000;

describe('Slack app in Socket Mode (envelopes over a WebSocket)', () => {
  let h: SlackAppHarness;

  beforeAll(async () => {
    // Operators as a user group: membership comes from usergroups.users.list.
    h = await startSlackApp({ mode: 'socket', operators: 'S0OPERATORS' });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  /** A command over the socket with its answer, in the ack or (past the ack budget) after it. */
  const command = (input: { command: string; text: string; userId: string }) => withAnswer(h.slack, input.userId, () => h.socket.command(input), (r) => r.ackPayload);

  async function deadLetterAlert() {
    const campaign = await seedCampaign(h.api.db, 'Socket Drop');
    const negotiationId = await seedNegotiation(h.api.db, campaign, { influencerName: 'Sid Socket' });
    const deadLetterId = await seedDeadLetter(h.api.db, { queue: 'negotiation-steps', jobId: jobIds.negotiationStep(negotiationId), payload: { negotiationId, kind: 'open' } });
    return { negotiationId, deadLetterId, ...(await h.postAlert({ kind: 'dead_letter', deadLetterId, negotiationId })) };
  }

  it('a slow handler does not delay the ack: the answer comes later as an ephemeral', async () => {
    const campaign = await seedCampaign(h.api.db, 'Slow Drop');
    const id = await seedNegotiation(h.api.db, campaign, { influencerName: 'Sam Slow' });
    // The operator check has to ask Slack for the group's members, and Slack is slow.
    h.slack.fault({ kind: 'slow', delayMs: SLOW_MS, method: 'usergroups.users.list' });
    const started = Date.now();
    const delivery = await h.socket.command({ command: '/claim', text: id, userId: OPERATOR }, 10_000);
    // The ack comes when the handler's budget runs out (ACK_BUDGET_MS, under Slack's 3 s), not
    // when the slow call ends: bounded well under SLOW_MS, so a loaded machine's pause around the
    // budget's timer does not fail it.
    expect(ACK_BUDGET_MS).toBeLessThan(ACK_LIMIT_MS);
    expect(delivery.ackMs).toBeLessThan(SLOW_MS - 1000);
    expect(delivery.ackPayload).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/^Working on/) });
    const late = await waitFor('the late answer', () => h.slack.ephemerals().find((e) => e.user === OPERATOR && e.text.includes(`You hold negotiation \`${id}\``)), 20_000);
    expect(late).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(SLOW_MS);
    expect(await h.api.db.negotiation.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'human_managed', claimedBySlackId: OPERATOR });
  }, 40_000);

  it('Replay over the socket re-enqueues once and updates the alert; a slow Slack does not hold the ack', async () => {
    const a = await deadLetterAlert();
    // Every Web API call after the ack (the update, the private answer) takes longer than the budget.
    h.slack.fault({ kind: 'slow', delayMs: SLOW_MS, method: 'chat.update' });
    const press = { actionId: 'dead_letter_replay', value: a.deadLetterId, userId: OPERATOR, channelId: a.channel, messageTs: a.ts };
    const [first, second] = await Promise.all([h.socket.action(press), h.socket.action(press)]);
    expect(Math.max(first.ackMs, second.ackMs)).toBeLessThan(ACK_LIMIT_MS);
    const row = await waitFor('replayed', async () => {
      const r = await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } });
      return r.replayedAt ? r : null;
    });
    await waitFor('alert updated', () => h.slack.messages(a.channel).find((m) => m.ts === a.ts && m.edited), 20_000);
    // The losing press of the double click was told already; the third press is told again.
    const told = () => h.slack.ephemerals().filter((e) => e.user === OPERATOR && /already replayed/.test(e.text)).length;
    const toldBefore = told();
    await h.socket.action(press);
    await waitFor('third press told it is done', () => told() > toldBefore);
    expect(await jobIdsIn(h.api.queues, 'negotiation-steps')).toEqual([replayJobId(row)]);
    const audits = (await h.api.db.auditEntry.findMany({ where: { action: 'dead_letter_replayed' } })).filter((e) => (e.details as { deadLetterId?: string }).deadLetterId === a.deadLetterId);
    expect(audits.map((e) => e.actor)).toEqual([`slack:${OPERATOR}`]);
    expect(h.slack.calls('chat.update').filter((c) => c.params.ts === a.ts)).toHaveLength(1);
  }, 40_000);

  it('after the connection drops, and after Slack asks for a refresh, the next command still works (same process)', async () => {
    const campaign = await seedCampaign(h.api.db, 'Drop Drop');
    const first = await seedNegotiation(h.api.db, campaign, { influencerName: 'Dee Drop' });
    const second = await seedNegotiation(h.api.db, campaign, { influencerName: 'Ray Refresh' });
    const before = h.socket.connectionCount();

    h.socket.drop();
    await h.socket.waitForConnections(before + 1, 30_000);
    await waitFor('reconnected', () => h.app.connected() && h.socket.connected(), 10_000);
    const afterDrop = await command({ command: '/claim', text: first, userId: OPERATOR });
    expect(afterDrop.answer).toContain(`You hold negotiation \`${first}\``);

    h.socket.refresh();
    await h.socket.waitForConnections(before + 2, 30_000);
    await waitFor('reconnected', () => h.app.connected() && h.socket.connected(), 10_000);
    const afterRefresh = await command({ command: '/claim', text: second, userId: OPERATOR });
    expect(afterRefresh.answer).toContain(`You hold negotiation \`${second}\``);
    expect(await h.api.db.negotiation.count({ where: { id: { in: [first, second] }, state: 'human_managed' } })).toBe(2);
  }, 60_000);

  it('acks an Events API envelope it has no listener for', async () => {
    const delivery = await h.socket.send('events_api', { type: 'event_callback', team_id: 'T0PARLEY', api_app_id: 'A0PARLEY', event_id: 'Ev2', event_time: 1, event: { type: 'app_mention', user: OUTSIDER, text: 'hi', ts: '1.0', channel: h.slack.channel } });
    expect(delivery.ackMs).toBeLessThan(ACK_LIMIT_MS);
  });

  it('a user outside the operators group is refused and nothing changes', async () => {
    const a = await deadLetterAlert();
    const delivery = await command({ command: '/claim', text: a.negotiationId, userId: OUTSIDER });
    expect(delivery.ackPayload).toMatchObject({ response_type: 'ephemeral' });
    expect(delivery.answer).toMatch(/only Parley operators/);
    await h.socket.action({ actionId: 'dead_letter_discard', value: a.deadLetterId, userId: OUTSIDER, channelId: a.channel, messageTs: a.ts });
    await waitFor('refusal', () => h.slack.ephemerals().some((e) => e.user === OUTSIDER && /only Parley operators/.test(e.text)));
    expect(await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } })).toMatchObject({ discardedAt: null, resolvedBy: null });
    expect(await h.api.db.negotiation.findUniqueOrThrow({ where: { id: a.negotiationId } })).toMatchObject({ state: 'awaiting_reply', claimedBy: null });
  }, 30_000);
});
