import { MAX_ROSTER_ROWS } from '@parley/engine';
import { SHEETS_MAX_RESPONSE_BYTES } from '@parley/google';
import { jobIds } from '@parley/queue';
import { DEMO_INFLUENCERS, seedDemoCampaign, type DemoInfluencer } from '@parley/sandbox';
import { waitFor } from '../support/wait';
import { createLoopHarness, type LoopHarness } from './loop-harness';

jest.setTimeout(240_000);

/** The demo's influencers under addresses of their own, so each campaign's mail is told apart. */
const rosterFor = (tag: string, n: number): DemoInfluencer[] => DEMO_INFLUENCERS.slice(0, n).map((i) => ({ ...i, email: i.email.replace('@', `+${tag}@`) }));

/**
 * A campaign starting from ClickUp, through the API's signed webhook, the worker's fetch of the
 * task and its Sheet roster (official SDKs against the sandbox), to the opening emails.
 */
describe('campaign intake from ClickUp and Sheets (API + 2 workers)', () => {
  let h: LoopHarness;

  const ingestJob = (taskId: string, historyItemId: string) => h.job('campaign-tasks', jobIds.campaignIngest({ webhookId: h.sandbox.clickup.webhookId, taskId, historyItemId }));
  const ingested = async (taskId: string, historyItemId: string) => {
    await waitFor(`ingest of ${taskId}/${historyItemId}`, async () => (await ingestJob(taskId, historyItemId))?.finishedOn !== undefined, 60_000, 100);
    const job = await ingestJob(taskId, historyItemId);
    expect(job?.failedReason).toBeUndefined();
    return job?.returnvalue as Record<string, unknown>;
  };
  const sentTo = (email: string) => h.sandbox.google.sent().filter((m) => m.to.toLowerCase().includes(email));

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'intake', env: { FOLLOW_UP_AFTER: '3600' } });
    await h.start(2);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates the negotiations once when ClickUp delivers the webhook three times (and sends another event)', async () => {
    const roster = rosterFor('redelivery', 3);
    seedDemoCampaign(h.sandbox, { taskId: 'intake-redelivered', sheetId: 'sheet-redelivered', influencers: roster });
    expect(await h.webhook('intake-redelivered', { historyItemId: '2001', times: 3 })).toEqual([200, 200, 200]);
    expect(await h.webhook('intake-redelivered', { event: 'taskUpdated', historyItemId: '2002' })).toEqual([200]);
    const [first, second] = [await ingested('intake-redelivered', '2001'), await ingested('intake-redelivered', '2002')];
    expect([first, second].map((r) => r.outcome)).toEqual(['ingested', 'ingested']);
    expect([first, second].map((r) => r.created).sort()).toEqual([0, 3]);

    await waitFor('the opening emails', async () => (await h.db.outboxEmail.count({ where: { status: 'sent', negotiation: { campaign: { clickupTaskId: 'intake-redelivered' } } } })) === 3, 120_000, 200);
    await h.waitForIdle();
    const campaigns = await h.db.campaign.findMany({ where: { clickupTaskId: 'intake-redelivered' }, include: { negotiations: { include: { outbox: true } } } });
    expect(campaigns).toHaveLength(1);
    expect(campaigns[0]?.negotiations.map((n) => n.influencerEmail).sort()).toEqual(roster.map((i) => i.email).sort());
    expect(campaigns[0]?.negotiations.every((n) => n.outbox.length === 1 && n.state === 'awaiting_reply')).toBe(true);
    for (const i of roster) expect(sentTo(i.email)).toHaveLength(1);
    // Three identical deliveries are one recorded delivery (one job); the other event is its own.
    expect(await h.db.webhookDelivery.count({ where: { queue: 'campaign-tasks', id: { contains: 'intake-redelivered' } } })).toBe(2);
    expect(await h.db.auditEntry.count({ where: { action: 'campaign_created', campaignId: campaigns[0]?.id } })).toBe(1);
  });

  it('starts the good rows of a roster and reports the two bad ones by row number', async () => {
    const roster = rosterFor('roster', 3);
    seedDemoCampaign(h.sandbox, {
      taskId: 'intake-bad-rows',
      sheetId: 'sheet-bad-rows',
      influencers: roster,
      extraRows: [
        ['Nora Noaddress', '', 'YouTube', '10,000', '1 video', ''],
        ['Vic Vague', 'vic+roster@creators.test', 'TikTok', 'lots', '2 videos', ''],
      ],
    });
    expect(await h.webhook('intake-bad-rows', { historyItemId: '3001' })).toEqual([200]);
    expect(await ingested('intake-bad-rows', '3001')).toMatchObject({ outcome: 'ingested', created: 3, skipped: 2 });

    const campaign = await h.db.campaign.findUniqueOrThrow({ where: { clickupTaskId: 'intake-bad-rows' }, include: { negotiations: true } });
    expect(campaign.negotiations.map((n) => n.influencerEmail).sort()).toEqual(roster.map((i) => i.email).sort());
    const audit = await h.db.auditEntry.findFirstOrThrow({ where: { campaignId: campaign.id, action: 'roster_rows_skipped' } });
    const problems = (audit.details as { problems: { row: number; problem: string }[] }).problems;
    // Row 1 holds the headers; the three good rows are 2-4.
    expect(problems.map((p) => p.row)).toEqual([5, 6]);
    expect(problems[0]?.problem).toMatch(/email/);
    expect(problems[1]?.problem).toMatch(/average_views/);

    const alert = await h.job('alerts', jobIds.alert(`roster-${campaign.id}`));
    expect(alert?.data).toMatchObject({ kind: 'campaign_problem', campaignId: campaign.id });
    expect(alert?.data.title).toMatch(/2 row\(s\) skipped/);
    expect(alert?.data.text).toMatch(/row 5: .*email/);
    expect(alert?.data.text).toMatch(/row 6: .*average_views/);
    await waitFor('the alert delivered', async () => (await h.queues.alerts.getJobState(alert?.id ?? '')) === 'completed', 30_000, 100);
    await waitFor('the good rows opened', async () => (await h.db.outboxEmail.count({ where: { status: 'sent', negotiation: { campaignId: campaign.id } } })) === 3, 120_000, 200);
    expect(sentTo('vic+roster@creators.test')).toHaveLength(0);
  });

  it('starts nothing for a task in another status, and starts it once the task is ready', async () => {
    const roster = rosterFor('status', 2);
    seedDemoCampaign(h.sandbox, { taskId: 'intake-in-progress', sheetId: 'sheet-in-progress', influencers: roster, status: 'in progress' });
    expect(await h.webhook('intake-in-progress', { historyItemId: '4001' })).toEqual([200]);
    expect(await ingested('intake-in-progress', '4001')).toEqual({ outcome: 'ignored: status is not ready' });
    await h.waitForIdle();
    expect(await h.db.campaign.count({ where: { clickupTaskId: 'intake-in-progress' } })).toBe(0);
    expect(await h.db.negotiation.count({ where: { influencerEmail: { in: roster.map((i) => i.email) } } })).toBe(0);
    expect(h.sandbox.google.requests().some((r) => r.path.includes('sheet-in-progress'))).toBe(false);
    for (const i of roster) expect(sentTo(i.email)).toHaveLength(0);

    h.sandbox.clickup.setStatus('intake-in-progress', 'Ready');
    expect(await h.webhook('intake-in-progress', { historyItemId: '4002' })).toEqual([200]);
    expect(await ingested('intake-in-progress', '4002')).toMatchObject({ outcome: 'ingested', created: 2 });
  });

  it('starts nothing for a campaign with an invalid field, and says which field', async () => {
    const roster = rosterFor('invalid', 2);
    seedDemoCampaign(h.sandbox, { taskId: 'intake-invalid', sheetId: 'sheet-invalid', influencers: roster, fields: { 'CPM Ceiling': 'thirty dollars' } });
    expect(await h.webhook('intake-invalid', { historyItemId: '5001' })).toEqual([200]);
    const result = await ingested('intake-invalid', '5001');
    expect(result.outcome).toBe('rejected');
    expect(result.problems).toEqual([expect.stringMatching(/^CPM Ceiling: /)]);
    await h.waitForIdle();

    expect(await h.db.campaign.count({ where: { clickupTaskId: 'intake-invalid' } })).toBe(0);
    expect(await h.db.negotiation.count({ where: { influencerEmail: { in: roster.map((i) => i.email) } } })).toBe(0);
    for (const i of roster) expect(sentTo(i.email)).toHaveLength(0);
    const rejected = (await h.db.auditEntry.findMany({ where: { action: 'campaign_rejected' } })).filter((a) => (a.details as { taskId?: string }).taskId === 'intake-invalid');
    expect(rejected).toHaveLength(1);
    expect((rejected[0]?.details as { problems: string[] }).problems).toEqual([expect.stringMatching(/^CPM Ceiling: /)]);
    const alert = await h.job('alerts', jobIds.alert('campaign-intake-invalid-invalid'));
    expect(alert?.data).toMatchObject({ kind: 'campaign_problem' });
    expect(alert?.data.text).toMatch(/CPM Ceiling/);
  });

  it('refuses a roster over the row limit whole, with an alert, and starts nothing', async () => {
    const roster = rosterFor('huge', 1);
    const extraRows = Array.from({ length: MAX_ROSTER_ROWS }, (_, i) => [`Row ${i}`, `row${i}+huge@creators.test`, 'YouTube', '10,000', '1 video', '']);
    seedDemoCampaign(h.sandbox, { taskId: 'intake-huge', sheetId: 'sheet-huge', influencers: roster, extraRows });
    expect(await h.webhook('intake-huge', { historyItemId: '6001' })).toEqual([200]);
    const result = await ingested('intake-huge', '6001');
    expect(result.outcome).toBe('rejected');
    expect(result.problems).toEqual([expect.stringMatching(new RegExp(`holds ${MAX_ROSTER_ROWS + 2} rows; at most ${MAX_ROSTER_ROWS} influencers`))]);

    const campaign = await h.db.campaign.findUniqueOrThrow({ where: { clickupTaskId: 'intake-huge' } });
    expect(await h.db.negotiation.count({ where: { campaignId: campaign.id } })).toBe(0);
    expect(await h.db.auditEntry.count({ where: { campaignId: campaign.id, action: 'roster_too_large' } })).toBe(1);
    const alert = await h.job('alerts', jobIds.alert(`roster-${campaign.id}-too-large-${MAX_ROSTER_ROWS + 2}`));
    expect(alert?.data).toMatchObject({ kind: 'campaign_problem', campaignId: campaign.id, title: expect.stringMatching(/was not started/) });
  });

  it('dead-letters a roster answer over the byte limit without reading it whole, and the worker goes on', async () => {
    const roster = rosterFor('wide', 1);
    // About 1.5 times the limit, in cells no roster needs.
    const cell = 'x'.repeat(10_000);
    const extraRows = Array.from({ length: Math.ceil((SHEETS_MAX_RESPONSE_BYTES * 1.5) / cell.length) }, (_, i) => [`Wide ${i}`, `wide${i}+wide@creators.test`, 'YouTube', '10,000', cell, '']);
    seedDemoCampaign(h.sandbox, { taskId: 'intake-wide', sheetId: 'sheet-wide', influencers: roster, extraRows });
    expect(await h.webhook('intake-wide', { historyItemId: '7001' })).toEqual([200]);
    const job = () => ingestJob('intake-wide', '7001');
    await waitFor('the ingest to fail', async () => (await job())?.finishedOn !== undefined, 60_000, 100);
    expect((await job())?.failedReason).toMatch(new RegExp(`answered more than ${SHEETS_MAX_RESPONSE_BYTES} bytes; narrow the campaign's Roster Range`));
    await waitFor('its dead letter', async () => (await h.db.deadLetter.count({ where: { queue: 'campaign-tasks', jobId: (await job())?.id ?? '' } })) === 1, 30_000, 100);
    const campaign = await h.db.campaign.findUniqueOrThrow({ where: { clickupTaskId: 'intake-wide' } });
    expect(await h.db.negotiation.count({ where: { campaignId: campaign.id } })).toBe(0);
    // Permanent: asked once, not retried.
    expect(h.sandbox.google.requests().filter((r) => r.path.includes('sheet-wide')).length).toBe(1);
    // The workers still take campaigns.
    const next = rosterFor('after-wide', 1);
    seedDemoCampaign(h.sandbox, { taskId: 'intake-after-wide', sheetId: 'sheet-after-wide', influencers: next });
    expect(await h.webhook('intake-after-wide', { historyItemId: '7002' })).toEqual([200]);
    expect(await ingested('intake-after-wide', '7002')).toMatchObject({ outcome: 'ingested', created: 1 });
  });
});
