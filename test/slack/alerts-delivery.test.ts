import { withTx } from '@parley/db';
import { seedCampaign, seedNegotiation } from '../admin/seed';
import { waitFor } from '../support/wait';
import { buttonsOf, createAlertsHarness, PUBLIC_URL, type AlertsHarness } from './alerts-harness';

describe('Slack alerts (real worker runtime, Redis, SQLite, Slack stand-in)', () => {
  let a: AlertsHarness;
  beforeAll(async () => {
    a = await createAlertsHarness({ label: 'slack-alerts' });
  });
  afterAll(async () => {
    await a.close();
  });

  const posted = (alertId: string) => waitFor(`${alertId} posted`, async () => (await a.h.db.slackMessage.findUnique({ where: { alertId } }))?.ts ?? null, 20_000);

  it('a dead letter posts exactly one message with Replay and Discard, who it is about and links, no address', async () => {
    const campaignId = await seedCampaign(a.h.db, 'Summer Launch');
    const negotiationId = await seedNegotiation(a.h.db, campaignId, { influencerName: 'Ayesha Khan', influencerEmail: 'ayesha@creator.example' });
    await a.h.queues['negotiation-steps'].add('negotiation-step', { negotiationId, kind: 'open' }, { jobId: `step.${negotiationId}.open` });

    const deadLetter = await waitFor('dead letter row', () => a.h.db.deadLetter.findFirst({ where: { jobId: `step.${negotiationId}.open` } }), 20_000);
    const ts = await posted(`dl-${deadLetter.id}`);
    await waitFor('alert job completed', async () => (await a.alertState(`dl-${deadLetter.id}`)) === 'completed');

    const messages = a.channelMessages().filter((m) => m.metadata?.event_payload.alert_id === `dl-${deadLetter.id}`);
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message?.ts).toBe(ts);
    expect(buttonsOf(message)).toEqual([
      { action_id: 'dead_letter_replay', value: deadLetter.id },
      { action_id: 'dead_letter_discard', value: deadLetter.id },
    ]);
    const body = JSON.stringify(message?.blocks);
    expect(body).toContain('Dead letter on negotiation-steps');
    expect(body).toContain('PermanentError');
    expect(body).toContain('Attempts');
    expect(body).toContain('Ayesha Khan');
    expect(body).toContain('Summer Launch');
    expect(body).toContain(`${PUBLIC_URL}/admin/negotiations/${negotiationId}`);
    expect(body).toContain(`${PUBLIC_URL}/admin/dead-letters`);
    // The error message named the sender: only the domain reaches Slack.
    expect(body).toContain('***@creator.example');
    expect(JSON.stringify(message)).not.toContain('ayesha@');
    expect(await a.h.db.slackMessage.findUnique({ where: { alertId: `dl-${deadLetter.id}` } })).toMatchObject({
      kind: 'dead_letter',
      channel: a.slack.channel,
      negotiationId,
      deadLetterId: deadLetter.id,
      threadTs: null,
      postedAt: expect.any(Date),
    });
  });

  it('an escalation posts one Claim alert with the reason in numbers; a later alert on it goes into its thread', async () => {
    const campaignId = await seedCampaign(a.h.db, 'Autumn Drop');
    // Ceiling: CPM $25 x 52,000 views = $1,300.
    const negotiationId = await seedNegotiation(a.h.db, campaignId, {
      influencerName: 'Greedy Gus',
      state: 'escalated',
      round: 3,
      averageViews: 52_000,
      lastAskMinor: 450_000,
      currentOfferMinor: 130_000,
      escalationReason: 'ask above ceiling after the last round',
    });
    await a.enqueueAlert({ alertId: `esc-${negotiationId}`, kind: 'escalation', title: 'Negotiation needs a human', text: `Negotiation ${negotiationId} escalated`, negotiationId });
    const rootTs = await posted(`esc-${negotiationId}`);
    const root = a.channelMessages().find((m) => m.ts === rootTs);
    expect(buttonsOf(root)).toEqual([{ action_id: 'negotiation_claim', value: negotiationId }]);
    const body = JSON.stringify(root?.blocks);
    expect(body).toContain('asked $4,500, ceiling $1,300, after 3 rounds');
    expect(body).toContain('3 of 3');
    expect(body).toContain('$1,300');
    expect(body).toContain(`${PUBLIC_URL}/admin/negotiations/${negotiationId}`);
    expect(root?.thread_ts).toBeUndefined();

    // A reply on the escalated thread: same negotiation, so into the first alert's thread, and
    // the reply's words stay out of the channel.
    await a.enqueueAlert({ alertId: `fwd-${negotiationId}`, kind: 'escalation', title: 'New reply on a negotiation that is escalated', text: 'Greedy Gus wrote:\n\n> my secret rate is 9000', negotiationId });
    const replyTs = await posted(`fwd-${negotiationId}`);
    const reply = a.channelMessages().find((m) => m.ts === replyTs);
    expect(reply?.thread_ts).toBe(rootTs);
    expect(JSON.stringify(reply)).not.toContain('secret rate');
    expect(a.channelMessages().filter((m) => m.metadata?.event_payload.alert_id === `esc-${negotiationId}`)).toHaveLength(1);
  });

  it('a campaign problem lists the bad roster rows with their row numbers, without addresses', async () => {
    await a.enqueueAlert({
      alertId: 'roster-c1',
      kind: 'campaign_problem',
      title: 'Roster of "Winter": 2 row(s) skipped',
      text: "row 4: email 'bob@@creator' is not an address; row 7: average views 'lots' is not a number (mia@creator.example)",
      campaignId: 'c1',
    });
    const ts = await posted('roster-c1');
    const body = JSON.stringify(a.channelMessages().find((m) => m.ts === ts)?.blocks);
    expect(body).toContain('Row 4:');
    expect(body).toContain("Row 7: average views 'lots' is not a number");
    expect(body).not.toContain('mia@');
  });

  it('a takeover reply goes to the claimer by DM with the text, and nothing about it to the alert channel', async () => {
    const campaignId = await seedCampaign(a.h.db, 'Claimed Campaign');
    const negotiationId = await seedNegotiation(a.h.db, campaignId, { influencerName: 'Claire Creator', state: 'human_managed', claimedBy: 'slack:U0OPERATOR1', claimedBySlackId: 'U0OPERATOR1', gmailThreadId: 'thread-claimed-1' });
    const before = a.channelMessages().length;
    await a.enqueueAlert({
      alertId: 'fwd-gm-claimed-1',
      kind: 'takeover_reply',
      title: 'New reply on a claimed thread',
      text: `Claire Creator wrote on negotiation ${negotiationId}, claimed by slack:U0OPERATOR1:\n\n> Could we do $2,000 with two stories?`,
      negotiationId,
    });
    await posted('fwd-gm-claimed-1');
    const dm = a.slack.messages(a.slack.dmChannelOf('U0OPERATOR1'));
    expect(dm).toHaveLength(1);
    const body = JSON.stringify(dm[0]?.blocks);
    expect(body).toContain('Could we do $2,000 with two stories?');
    expect(body).toContain(`${PUBLIC_URL}/admin/negotiations/${negotiationId}`);
    expect(body).toContain('thread-claimed-1');
    expect(a.channelMessages()).toHaveLength(before);
    expect(a.slack.calls('conversations.open').at(-1)?.params).toMatchObject({ users: 'U0OPERATOR1' });
    // The text never reaches a log line.
    expect(a.h.logs.join('\n')).not.toContain('two stories');
  });

  it('a takeover reply on a thread claimed outside Slack goes to the alert channel, in the negotiation thread', async () => {
    const campaignId = await seedCampaign(a.h.db, 'Dashboard Claim');
    const negotiationId = await seedNegotiation(a.h.db, campaignId, { influencerName: 'Dan', state: 'human_managed', claimedBy: 'admin' });
    await a.enqueueAlert({ alertId: `esc-dash-${negotiationId}`, kind: 'info', title: 'Negotiation claimed', text: '', negotiationId });
    const rootTs = await posted(`esc-dash-${negotiationId}`);
    await a.enqueueAlert({ alertId: `fwd-dash-${negotiationId}`, kind: 'takeover_reply', title: 'New reply on a claimed thread', text: 'Dan wrote:\n\n> ok', negotiationId });
    const ts = await posted(`fwd-dash-${negotiationId}`);
    const message = a.channelMessages().find((m) => m.ts === ts);
    expect(message?.thread_ts).toBe(rootTs);
    // The shared channel never gets the email's text.
    expect(JSON.stringify(message)).not.toContain('> ok');
    expect(JSON.stringify(message)).toContain('Dan');
  });

  it('a takeover reply whose claimer left the workspace goes to the alert channel instead', async () => {
    const campaignId = await seedCampaign(a.h.db, 'Left Claimer');
    const negotiationId = await seedNegotiation(a.h.db, campaignId, { influencerName: 'Lena', state: 'human_managed', claimedBy: 'slack:U0GONE', claimedBySlackId: 'U0GONE' });
    await a.enqueueAlert({ alertId: `fwd-gone-${negotiationId}`, kind: 'takeover_reply', title: 'New reply on a claimed thread', text: 'Lena wrote:\n\n> still there?', negotiationId });
    const ts = await posted(`fwd-gone-${negotiationId}`);
    const message = a.channelMessages().find((m) => m.ts === ts);
    expect(message).toBeDefined();
    expect(JSON.stringify(message)).not.toContain('still there?');
    expect(a.slack.calls('conversations.open').at(-1)).toMatchObject({ params: { users: 'U0GONE' }, error: 'user_not_found' });
  });

  it('an alert whose negotiation thread was deleted in Slack starts a new thread instead of failing', async () => {
    const campaignId = await seedCampaign(a.h.db, 'Deleted Thread');
    const negotiationId = await seedNegotiation(a.h.db, campaignId, { influencerName: 'Theo', state: 'escalated', escalationReason: 'hostile: insults' });
    await withTx(a.h.db, (tx) => tx.slackMessage.create({ data: { alertId: `gone-root-${negotiationId}`, kind: 'escalation', channel: a.slack.channel, ts: '1000000000.000001', negotiationId, postedAt: new Date() } }));
    await a.enqueueAlert({ alertId: `esc-again-${negotiationId}`, kind: 'escalation', title: 'Negotiation needs a human', text: '', negotiationId });
    const ts = await posted(`esc-again-${negotiationId}`);
    expect(a.channelMessages().find((m) => m.ts === ts)?.thread_ts).toBeUndefined();
    expect(await a.h.db.slackMessage.findUnique({ where: { alertId: `esc-again-${negotiationId}` } })).toMatchObject({ threadTs: null, ts });
    expect(a.slack.calls('chat.postMessage').filter((c) => c.error === 'thread_not_found')).toHaveLength(1);
  });

  it('a lost answer after a successful post leaves exactly one message (found again by its metadata)', async () => {
    a.slack.fault({ kind: 'drop_after_accept', method: 'chat.postMessage' });
    const historyBefore = a.slack.calls('conversations.history').length;
    await a.enqueueAlert({ alertId: 'lost-answer-1', kind: 'campaign_problem', title: 'Campaign "Lost" was not started', text: 'ClickUp task t1: CPM ceiling is missing' });
    const ts = await posted('lost-answer-1');
    await waitFor('alert job completed', async () => (await a.alertState('lost-answer-1')) === 'completed');

    const copies = a.channelMessages().filter((m) => m.metadata?.event_payload.alert_id === 'lost-answer-1');
    expect(copies).toHaveLength(1);
    expect(copies[0]?.ts).toBe(ts);
    const posts = a.slack.calls('chat.postMessage').filter((c) => String(c.params.metadata).includes('lost-answer-1'));
    expect(posts.map((c) => c.status)).toEqual([0]);
    const lookups = a.slack.calls('conversations.history').slice(historyBefore);
    expect(lookups).toHaveLength(1);
    expect(lookups[0]?.params).toMatchObject({ channel: a.slack.channel, include_all_metadata: 'true' });
    const job = await a.h.queues.alerts.getJob('alert.lost-answer-1');
    expect(job?.attemptsMade).toBeGreaterThanOrEqual(1);
  });

  it('a retried alert whose message is not in Slack posts it then (the first attempt never reached Slack)', async () => {
    // A row without ts, as a crash between writing the row and posting leaves it.
    await withTx(a.h.db, (tx) => tx.slackMessage.create({ data: { alertId: 'crashed-before-post', kind: 'campaign_problem', channel: a.slack.channel } }));
    await a.enqueueAlert({ alertId: 'crashed-before-post', kind: 'campaign_problem', title: 'Campaign "Crash" was not started', text: 'ClickUp task t2: no roster' });
    await posted('crashed-before-post');
    expect(a.channelMessages().filter((m) => m.metadata?.event_payload.alert_id === 'crashed-before-post')).toHaveLength(1);
  });
});
