import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { formatMoney } from '@parley/domain';
import { CHROMIUM, describeWithChromium } from '../support/browser';
import { ADMIN_TOKEN, startAdmin, type AdminHarness } from './admin-harness';
import { ago, MIN, seedCampaign, seedNegotiation, seedOutbox, seedTransition } from './seed';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
describeWithChromium('dashboard search, Claim and Resume in headless Chromium', () => {
  let h: AdminHarness;
  let browser: BrowserContext;
  let profile: string;
  let negotiationId: string;
  let euroId: string;

  beforeAll(async () => {
    h = await startAdmin();
    const campaign = await seedCampaign(h.db, 'Winter Capsule');
    // Lookalikes: the search must find the one with this address, not its neighbours.
    await seedNegotiation(h.db, campaign, { influencerName: 'Other Olga', influencerEmail: 'olga@elsewhere.example' });
    negotiationId = await seedNegotiation(h.db, campaign, { influencerName: 'Bea Browser', influencerEmail: 'bea.browser@creators.example', gmailThreadId: 'thread-bea-1' });
    await seedOutbox(h.db, negotiationId, { key: 'open', status: 'sent' });
    await seedTransition(h.db, negotiationId, { from: 'outreach_sent', event: 'sent', to: 'awaiting_reply', at: ago(30 * MIN) });
    // An ask made in euros on a dollar campaign (escalated, as the policy does).
    euroId = await seedNegotiation(h.db, campaign, {
      influencerName: 'Eli Euro',
      state: 'escalated',
      lastAskMinor: 54_700,
      currentOfferMinor: 100_000,
      escalationReason: 'reply names EUR, the campaign is in USD',
    });
    await seedTransition(h.db, euroId, { from: 'awaiting_reply', event: 'reply_received', to: 'counter_received', at: ago(5 * MIN), details: { intent: 'counter', askedMinor: 54_700, decision: 'escalate' } });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, httpCredentials: { username: 'ops', password: ADMIN_TOKEN } });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    await h?.close();
  });

  it('search by email -> the negotiation -> Claim (human_managed, audited as admin) -> Resume (back to the agent)', async () => {
    const page = await browser.newPage();
    expect((await page.goto(`${h.url}/admin/`))?.status()).toBe(200);
    await Promise.all([page.waitForURL(`${h.url}/admin/search`), page.getByRole('link', { name: 'Search' }).click()]);
    await page.getByRole('searchbox', { name: 'Search negotiations' }).fill('Bea.Browser@creators.example');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Search' }).click()]);
    // The address travelled in the form body, not the URL.
    expect(page.url()).toBe(`${h.url}/admin/search`);
    const hits = page.locator('table.hits tbody tr');
    await expect(hits.count()).resolves.toBe(1);
    await expect(hits.first().getAttribute('data-negotiation')).resolves.toBe(negotiationId);
    expect(await page.content()).not.toContain('bea.browser@creators.example');

    await Promise.all([page.waitForURL(`${h.url}/admin/negotiations/${negotiationId}`), hits.first().locator('a.timeline').click()]);
    await Promise.all([page.waitForURL(/\?done=claimed$/), page.locator('button.claim').click()]);
    await expect(page.getByRole('status').textContent()).resolves.toBe('Claimed by admin: the agent will not write on this negotiation until it is resumed.');
    await expect(page.locator('.state').textContent()).resolves.toBe('human_managed');
    expect(await h.db.negotiation.findUniqueOrThrow({ where: { id: negotiationId } })).toMatchObject({ state: 'human_managed', claimedBy: 'admin', claimedBySlackId: null });
    const claimAudit = await h.db.auditEntry.findMany({ where: { negotiationId, action: 'claimed' } });
    expect(claimAudit.map((a) => a.actor)).toEqual(['human:admin']);
    await expect(page.locator('tr[data-type="audit"]').last().textContent()).resolves.toContain('human:admin: claimed');

    await Promise.all([page.waitForURL(/\?done=resumed$/), page.locator('button.resume').click()]);
    await expect(page.getByRole('status').textContent()).resolves.toBe('Resumed: the agent has it again (state awaiting_reply).');
    expect(await h.db.negotiation.findUniqueOrThrow({ where: { id: negotiationId } })).toMatchObject({ state: 'awaiting_reply', claimedBy: null });
    expect((await h.db.auditEntry.findMany({ where: { negotiationId, action: 'resumed' } })).map((a) => a.actor)).toEqual(['human:admin']);
    await expect(page.locator('button.claim').count()).resolves.toBe(1);
    await page.close();
  }, 120_000);

  it('search by Gmail thread id and by campaign; an ask is shown in the currency it was made in', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.url}/admin/search`);
    await page.getByRole('searchbox', { name: 'Search negotiations' }).fill('thread-bea-1');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Search' }).click()]);
    await expect(page.locator('table.hits tbody tr').count()).resolves.toBe(1);
    await page.getByRole('searchbox', { name: 'Search negotiations' }).fill('Winter Cap');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Search' }).click()]);
    await expect(page.locator('table.hits tbody tr').count()).resolves.toBe(3);

    await page.goto(`${h.url}/admin/negotiations/${euroId}`);
    // Before: the campaign's currency, "$547.00", for an ask of €547.
    const ask = formatMoney(54_700, 'EUR');
    expect(ask).toMatch(/^EUR 547/);
    await expect(page.locator('.ask').textContent()).resolves.toBe(ask);
    expect(await page.locator('dd').allTextContents()).toContain(`${formatMoney(100_000, 'USD')} / ${ask} / -`);
    await page.close();
  }, 120_000);
});
