import { createClickUpClient } from '@parley/clickup';
import { createCampaignIngestHandler } from '@parley/engine';
import { createGoogleAuth, createSheetsClient } from '@parley/google';
import { jobIds, type JobContext } from '@parley/queue';
import { seedDemoCampaign, startClickUpSandbox, startGoogleSandbox, type ClickUpSandbox, type GoogleSandbox } from '@parley/sandbox';
import { createEngineHarness, MAILBOX, type EngineHarness } from './engine-harness';

jest.setTimeout(120_000);

/**
 * Campaign ingest against the ClickUp and Sheets stand-ins over HTTP, its handler run as the
 * worker runs it: a roster larger than one insert's chunk, a repeated ingest that adds rows.
 */
describe('campaign ingest', () => {
  let h: EngineHarness;
  let google: GoogleSandbox;
  let clickup: ClickUpSandbox;
  let ingest: ReturnType<typeof createCampaignIngestHandler>;
  beforeAll(async () => {
    h = await createEngineHarness('ingest');
    google = await startGoogleSandbox({ mailbox: MAILBOX });
    clickup = await startClickUpSandbox({ token: 'pk_ingest', webhookSecret: 'unused' });
    ingest = createCampaignIngestHandler({
      ...h.deps,
      clickup: createClickUpClient({ baseUrl: clickup.apiUrl, token: 'pk_ingest' }),
      sheets: createSheetsClient({ auth: createGoogleAuth(google.env()), rootUrl: google.url }),
      triggerStatus: 'ready',
    });
  });
  afterAll(async () => {
    await h?.close();
    await google?.close();
    await clickup?.close();
  });

  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => [`Creator ${from + i}`, `creator${from + i}@creators.test`, 'YouTube', '10,000', '1 video', '']);
  const run = (historyItemId: string) =>
    ingest({ webhookId: 'wh', taskId: 'big', event: 'taskStatusUpdated', historyItemId }, { queue: 'campaign-tasks', jobId: `ingest-${historyItemId}`, attempt: 1, log: h.log, note: async () => undefined } as unknown as JobContext) as Promise<Record<string, unknown>>;

  it('creates every row of a roster larger than one insert, each with its audit entry and its opening job, and only the new rows again', async () => {
    // 700 rows, and one that repeats row 2's address in capitals (the roster reports it).
    seedDemoCampaign({ google, clickup }, { taskId: 'big', sheetId: 'sheet-big', influencers: [], extraRows: [...rows(0, 700), ['Again', 'CREATOR0@creators.test', 'YouTube', '10,000', '1 video', '']] });
    expect(await run('1')).toMatchObject({ outcome: 'ingested', created: 700, skipped: 1 });

    // The sheet grows to 1,201 rows: the first 700 are known, 501 are new.
    seedDemoCampaign({ google, clickup }, { taskId: 'big', sheetId: 'sheet-big', influencers: [], extraRows: rows(0, 1201) });
    expect(await run('2')).toMatchObject({ outcome: 'ingested', created: 501, skipped: 0 });

    const campaign = await h.db.campaign.findUniqueOrThrow({ where: { clickupTaskId: 'big' }, include: { negotiations: true } });
    expect(campaign.negotiations).toHaveLength(1201);
    expect(new Set(campaign.negotiations.map((n) => n.influencerEmail))).toEqual(new Set(rows(0, 1201).map((r) => r[1])));
    expect(campaign.negotiations.every((n) => n.state === 'new' && n.currency === 'USD' && n.averageViews === 10_000 && n.version === 0)).toBe(true);

    // One audit entry per negotiation, naming it and its sheet row (the header is row 1).
    const audits = await h.db.auditEntry.findMany({ where: { campaignId: campaign.id, action: 'negotiation_created' } });
    expect(audits).toHaveLength(1201);
    const byNegotiation = new Map(audits.map((a) => [a.negotiationId, (a.details as { sheetRow: number }).sheetRow]));
    for (const n of campaign.negotiations) expect(byNegotiation.get(n.id)).toBe(Number(/\d+/.exec(n.influencerEmail)?.[0]) + 2);

    // Every negotiation's opening step is waiting, once, under its own id.
    const jobs = await h.queues['negotiation-steps'].getJobs(['waiting', 'prioritized', 'delayed'], 0, -1);
    expect(jobs.map((j) => j.id).sort()).toEqual(campaign.negotiations.map((n) => jobIds.negotiationStep(n.id)).sort());
  });
});
