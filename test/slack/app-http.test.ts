import { jobIds, replayJobId } from '@parley/queue';
import { jobIdsIn } from '../api/api-harness';
import { seedCampaign, seedDeadLetter, seedNegotiation, seedOutbox } from '../admin/seed';
import { waitFor } from '../support/wait';
import { OPERATOR, OTHER_OPERATOR, OUTSIDER, startSlackApp, type SlackAppHarness } from './app-harness';
import { withAnswer } from './command-answer';

/** Generous: Slack's budget is 3 s; a loaded 2-core machine still answers well inside it. */
const ACK_LIMIT_MS = 2900;

describe('Slack app in HTTP mode (POST /slack/events, signed form bodies)', () => {
  let h: SlackAppHarness;

  beforeAll(async () => {
    h = await startSlackApp({ mode: 'http', operators: `${OPERATOR},${OTHER_OPERATOR}` });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  async function deadLetterAlert() {
    const campaign = await seedCampaign(h.api.db, 'Slack Drop');
    const negotiationId = await seedNegotiation(h.api.db, campaign, { influencerName: 'Dana Dead' });
    const deadLetterId = await seedDeadLetter(h.api.db, { queue: 'negotiation-steps', jobId: jobIds.negotiationStep(negotiationId), payload: { negotiationId, kind: 'open' } });
    const alert = await h.postAlert({ kind: 'dead_letter', deadLetterId, negotiationId });
    return { negotiationId, deadLetterId, ...alert };
  }

  const updatesOf = (ts: string) => h.slack.calls('chat.update').filter((c) => c.params.ts === ts);
  const auditsFor = async (action: string, deadLetterId: string) =>
    (await h.api.db.auditEntry.findMany({ where: { action } })).filter((e) => (e.details as { deadLetterId?: string } | null)?.deadLetterId === deadLetterId);
  const ephemeralsFor = (user: string) => h.slack.ephemerals().filter((e) => e.user === user);
  const command = (input: { command: string; text: string; userId: string }) => withAnswer(h.slack, input.userId, () => h.http.command(input), (r) => r.body);

  it('Replay re-enqueues once, updates the alert and writes an audit entry naming the Slack user; pressed again it acts no more', async () => {
    const a = await deadLetterAlert();
    const press = { actionId: 'dead_letter_replay', value: a.deadLetterId, userId: OPERATOR, channelId: a.channel, messageTs: a.ts };
    // A double click: two presses at once.
    const [first, second] = await Promise.all([h.http.action(press), h.http.action(press)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(Math.max(first.ms, second.ms)).toBeLessThan(ACK_LIMIT_MS);

    const row = await waitFor('dead letter replayed', async () => {
      const r = await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } });
      return r.replayedAt ? r : null;
    });
    const jobId = replayJobId(row);
    expect(row).toMatchObject({ replayJobId: jobId, resolvedBy: `slack:${OPERATOR}`, discardedAt: null });
    expect((await h.api.queues['negotiation-steps'].getJob(jobId))?.data).toEqual({ negotiationId: a.negotiationId, kind: 'open' });
    await waitFor('both presses answered', () => ephemeralsFor(OPERATOR).filter((e) => e.channel === a.channel).length >= 2);
    await waitFor('alert updated', () => updatesOf(a.ts).length === 1);
    const updated = h.slack.messages(a.channel).find((m) => m.ts === a.ts);
    expect(updated?.text).toContain(OPERATOR);
    // The buttons are gone; a line says who did what.
    expect(JSON.stringify(updated?.blocks)).not.toContain('"actions"');
    expect(JSON.stringify(updated?.blocks)).toContain(`Replayed by <@${OPERATOR}>`);
    const msg = await h.api.db.slackMessage.findUniqueOrThrow({ where: { alertId: a.alertId } });
    expect(msg).toMatchObject({ actedBy: `slack:${OPERATOR}`, action: 'replayed' });

    // Later presses (the same operator, then another) change nothing.
    const toldBefore = ephemeralsFor(OPERATOR).length;
    await h.http.action(press);
    await h.http.action({ ...press, userId: OTHER_OPERATOR });
    await waitFor('the operator told it is done', () => ephemeralsFor(OPERATOR).length > toldBefore);
    await waitFor('the other operator told it is done', () => ephemeralsFor(OTHER_OPERATOR).some((e) => /already replayed by <@U0OPERATOR1>/.test(e.text)));
    expect(await jobIdsIn(h.api.queues, 'negotiation-steps')).toEqual([jobId]);
    const audits = await auditsFor('dead_letter_replayed', a.deadLetterId);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actor: `slack:${OPERATOR}`, negotiationId: a.negotiationId });
    expect(updatesOf(a.ts)).toHaveLength(1);
  }, 30_000);

  it('Discard marks the dead letter once; a replay after it adds nothing', async () => {
    const a = await deadLetterAlert();
    const press = { actionId: 'dead_letter_discard', value: a.deadLetterId, userId: OTHER_OPERATOR, channelId: a.channel, messageTs: a.ts };
    await Promise.all([h.http.action(press), h.http.action(press)]);
    const row = await waitFor('dead letter discarded', async () => {
      const r = await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } });
      return r.discardedAt ? r : null;
    });
    expect(row).toMatchObject({ resolvedBy: `slack:${OTHER_OPERATOR}`, replayedAt: null });
    await waitFor('alert updated', () => updatesOf(a.ts).length === 1);
    await h.http.action({ ...press, actionId: 'dead_letter_replay', userId: OPERATOR });
    await waitFor('operator told it was discarded', () => ephemeralsFor(OPERATOR).some((e) => /already discarded/.test(e.text)));
    expect((await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } })).replayedAt).toBeNull();
    expect(await h.api.queues['negotiation-steps'].getJob(replayJobId(row))).toBeUndefined();
    expect(await auditsFor('dead_letter_discarded', a.deadLetterId)).toHaveLength(1);
    expect(updatesOf(a.ts)).toHaveLength(1);
  }, 30_000);

  it('Claim pressed by two operators at once: one claim, one audit entry, the alert rewritten once naming the winner', async () => {
    const campaign = await seedCampaign(h.api.db, 'Claim Race');
    const negotiationId = await seedNegotiation(h.api.db, campaign, { influencerName: 'Rita Race', state: 'escalated', escalationReason: 'hostile: insults' });
    const a = await h.postAlert({ kind: 'escalation', negotiationId });
    const press = { actionId: 'negotiation_claim', value: negotiationId, channelId: a.channel, messageTs: a.ts };
    const answers = await Promise.all([h.http.action({ ...press, userId: OPERATOR }), h.http.action({ ...press, userId: OTHER_OPERATOR })]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(Math.max(...answers.map((r) => r.ms))).toBeLessThan(ACK_LIMIT_MS);

    const answered = (user: string) => ephemeralsFor(user).some((e) => e.text.includes(negotiationId) || e.text.includes('already claimed'));
    await waitFor('both operators answered', () => answered(OPERATOR) && answered(OTHER_OPERATOR));
    const n = await h.api.db.negotiation.findUniqueOrThrow({ where: { id: negotiationId } });
    expect(n.state).toBe('human_managed');
    const winner = n.claimedBySlackId ?? '';
    const loser = winner === OPERATOR ? OTHER_OPERATOR : OPERATOR;
    expect([OPERATOR, OTHER_OPERATOR]).toContain(winner);
    expect(n.claimedBy).toBe(`slack:${winner}`);
    expect(ephemeralsFor(winner).some((e) => e.text.startsWith(`You hold negotiation \`${negotiationId}\``))).toBe(true);
    expect(ephemeralsFor(loser).some((e) => e.text.includes(`already claimed by slack:${winner}`))).toBe(true);
    expect(await h.api.db.auditEntry.findMany({ where: { negotiationId, action: 'claimed' }, select: { actor: true } })).toEqual([{ actor: `human:slack:${winner}` }]);
    await waitFor('alert updated', () => updatesOf(a.ts).length === 1);
    expect(JSON.stringify(h.slack.messages(a.channel).find((m) => m.ts === a.ts)?.blocks)).toContain(`Claimed by <@${winner}>`);
    expect(await h.api.db.slackMessage.findUniqueOrThrow({ where: { alertId: a.alertId } })).toMatchObject({ action: 'claimed', actedBy: `slack:${winner}` });
    expect(updatesOf(a.ts)).toHaveLength(1);
  }, 30_000);

  it('Slack refusing the alert update after a replay leaves the replay done once, audited once; a later press acts no more', async () => {
    const a = await deadLetterAlert();
    h.slack.fault({ kind: 'error', error: 'message_not_found', method: 'chat.update', times: 5 });
    const press = { actionId: 'dead_letter_replay', value: a.deadLetterId, userId: OPERATOR, channelId: a.channel, messageTs: a.ts };
    await h.http.action(press);
    await waitFor('operator told it is replayed', () => ephemeralsFor(OPERATOR).some((e) => /^Replayed: /.test(e.text) && e.text.includes(`replay-${a.deadLetterId}`)));
    expect(updatesOf(a.ts).map((c) => c.error)).toEqual(['message_not_found']);
    const row = await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } });
    expect(row).toMatchObject({ resolvedBy: `slack:${OPERATOR}`, replayedAt: expect.any(Date) });
    h.slack.clearFaults();

    await h.http.action({ ...press, userId: OTHER_OPERATOR });
    await waitFor('the other operator told it is done', () => ephemeralsFor(OTHER_OPERATOR).some((e) => e.text.includes(`already replayed by <@${OPERATOR}>`) && e.text.includes(replayJobId(row))));
    expect((await jobIdsIn(h.api.queues, 'negotiation-steps')).filter((id) => id.includes(a.deadLetterId))).toEqual([replayJobId(row)]);
    expect(await auditsFor('dead_letter_replayed', a.deadLetterId)).toHaveLength(1);
    expect(await h.api.db.slackMessage.findUniqueOrThrow({ where: { alertId: a.alertId } })).toMatchObject({ action: 'replayed', actedBy: `slack:${OPERATOR}` });
  }, 30_000);

  it('a slow Slack does not hold the ack: no Web API call runs before it (auth.test is not asked per request)', async () => {
    const campaign = await seedCampaign(h.api.db, 'Slow Auth');
    const id = await seedNegotiation(h.api.db, campaign, { influencerName: 'Al Auth' });
    await waitFor('the bot identity looked up at start', () => h.slack.calls('auth.test').some((c) => c.ok));
    const authBefore = h.slack.calls('auth.test').length;
    h.slack.fault({ kind: 'slow', delayMs: 6000, method: 'auth.test', times: 5 });
    try {
      const claim = await command({ command: '/claim', text: id, userId: OPERATOR });
      expect(claim.ms).toBeLessThan(ACK_LIMIT_MS);
      expect(claim.answer).toContain(`You hold negotiation \`${id}\``);
      const resume = await command({ command: '/resume', text: id, userId: OPERATOR });
      expect(resume.ms).toBeLessThan(ACK_LIMIT_MS);
      expect(resume.answer).toContain('back with the agent');
      // The bot's identity was learned once, at start; requests never ask for it again.
      expect(h.slack.calls('auth.test').length - authBefore).toBe(0);
    } finally {
      h.slack.clearFaults();
    }
  }, 30_000);

  it('a bad signature or a timestamp older than 5 minutes gets 401 and changes nothing', async () => {
    const a = await deadLetterAlert();
    const press = { actionId: 'dead_letter_replay', value: a.deadLetterId, userId: OPERATOR, channelId: a.channel, messageTs: a.ts };
    const before = h.slack.calls().length;
    const forged = await h.http.action(press, { signWith: 'not-the-signing-secret' });
    const stale = await h.http.action(press, { ageSeconds: 6 * 60 });
    const staleCommand = await h.http.command({ command: '/claim', text: a.negotiationId, userId: OPERATOR }, { ageSeconds: 301 });
    expect([forged.status, stale.status, staleCommand.status]).toEqual([401, 401, 401]);
    // A request just inside the window is accepted (the boundary is 5 minutes, not less).
    const fresh = await h.http.command({ command: '/audit', text: a.negotiationId, userId: OPERATOR }, { ageSeconds: 240 });
    expect(fresh.status).toBe(200);
    const row = await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } });
    expect(row).toMatchObject({ replayedAt: null, resolvedBy: null, discardedAt: null });
    expect((await h.api.db.negotiation.findUniqueOrThrow({ where: { id: a.negotiationId } })).state).toBe('awaiting_reply');
    expect(await jobIdsIn(h.api.queues, 'negotiation-steps')).not.toContain(replayJobId(row));
    // Nothing was posted or updated (Bolt's lazy auth.test on the first accepted request aside).
    expect(h.slack.calls().slice(before).filter((c) => c.method.startsWith('chat.'))).toEqual([]);
  }, 30_000);

  it('answers Slack\'s url_verification and acks an event it has no listener for', async () => {
    const challenge = await h.http.event({ token: 'unused', type: 'url_verification', challenge: 'c-123' });
    expect(challenge.status).toBe(200);
    expect(challenge.body).toEqual({ challenge: 'c-123' });
    const event = await h.http.event({ type: 'event_callback', team_id: 'T0PARLEY', api_app_id: 'A0PARLEY', event_id: 'Ev1', event_time: 1, event: { type: 'app_mention', user: OUTSIDER, text: 'hi', ts: '1.0', channel: h.slack.channel } });
    expect(event.status).toBe(200);
    expect(event.ms).toBeLessThan(ACK_LIMIT_MS);
    expect((await h.http.event({ type: 'url_verification', challenge: 'x' }, { signWith: 'wrong' })).status).toBe(401);
  });

  it('a user outside SLACK_OPERATORS is refused privately and nothing changes', async () => {
    const a = await deadLetterAlert();
    await h.http.action({ actionId: 'dead_letter_replay', value: a.deadLetterId, userId: OUTSIDER, channelId: a.channel, messageTs: a.ts });
    await waitFor('refusal', () => ephemeralsFor(OUTSIDER).some((e) => /only Parley operators/.test(e.text)));
    const claim = await command({ command: '/claim', text: a.negotiationId, userId: OUTSIDER });
    expect(claim.status).toBe(200);
    expect(claim.body).toMatchObject({ response_type: 'ephemeral' });
    expect(claim.answer).toMatch(/only Parley operators/);
    expect(await h.api.db.deadLetter.findUniqueOrThrow({ where: { id: a.deadLetterId } })).toMatchObject({ replayedAt: null, resolvedBy: null });
    expect(await h.api.db.negotiation.findUniqueOrThrow({ where: { id: a.negotiationId } })).toMatchObject({ state: 'awaiting_reply', claimedBy: null });
    expect(await h.api.db.auditEntry.count({ where: { actor: { contains: OUTSIDER } } })).toBe(0);
    expect(updatesOf(a.ts)).toHaveLength(0);
    expect(await h.api.db.slackMessage.findUniqueOrThrow({ where: { alertId: a.alertId } })).toMatchObject({ actedAt: null });
  }, 30_000);

  it('/claim by email, /audit and /resume answer in the ack; /parley status sums up', async () => {
    const campaign = await seedCampaign(h.api.db, 'Command Drop');
    const id = await seedNegotiation(h.api.db, campaign, { influencerName: 'Cole Command', influencerEmail: 'cole@creator.example' });
    // Our opening went out: a resume then waits for the influencer instead of starting over.
    await seedOutbox(h.api.db, id, { key: 'open', status: 'sent' });
    // A command that needs no database answers in its ack itself.
    const help = await h.http.command({ command: '/parley', text: 'help', userId: OUTSIDER });
    expect(help.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('`/claim <email | Gmail thread id | negotiation id>`') });
    // The others answer in the ack too, unless their database work outlasts the ack budget.
    const claim = await command({ command: '/claim', text: 'Cole@Creator.example', userId: OPERATOR });
    expect(claim.status).toBe(200);
    expect(claim.ms).toBeLessThan(ACK_LIMIT_MS);
    expect(claim.body).toMatchObject({ response_type: 'ephemeral' });
    expect(claim.answer).toContain(`You hold negotiation \`${id}\``);
    expect(await h.api.db.negotiation.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'human_managed', claimedBy: `slack:${OPERATOR}`, claimedBySlackId: OPERATOR });

    const taken = await command({ command: '/claim', text: id, userId: OTHER_OPERATOR });
    expect(taken.answer).toMatch(/Nothing changed: already claimed by slack:U0OPERATOR1/);

    const audit = await command({ command: '/audit', text: id, userId: OUTSIDER });
    expect(audit.answer).toMatch(/awaiting_reply → claimed → human_managed/);
    expect(audit.answer).toContain(`human:slack:${OPERATOR}: claimed`);

    const resume = await command({ command: '/resume', text: id, userId: OPERATOR });
    expect(resume.answer).toMatch(/back with the agent \(state awaiting_reply\)/);
    expect(await h.api.db.negotiation.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'awaiting_reply', claimedBy: null, claimedBySlackId: null });

    const status = await command({ command: '/parley', text: 'status', userId: OUTSIDER });
    const text = status.answer;
    expect(text).toMatch(/Dead letters in the last 24 h: \d+/);
    expect(text).toContain('negotiation-steps:');
    expect(text).toMatch(/Stuck negotiations: \d+/);
  }, 30_000);
});
