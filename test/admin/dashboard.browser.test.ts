import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { jobIds, QUEUE_NAMES, replayJobId } from '@parley/queue';
import { CHROMIUM, describeWithChromium } from '../support/browser';
import { ADMIN_TOKEN, startAdmin, type AdminHarness } from './admin-harness';
import { ago, MIN, seedCampaign, seedDeadLetter, seedNegotiation, seedTransition } from './seed';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describeWithChromium('dashboard in a real headless Chromium', () => {
  let h: AdminHarness;
  let browser: BrowserContext;
  let profile: string;
  let negotiationId: string;
  let deadLetterId: string;

  beforeAll(async () => {
    h = await startAdmin();
    const campaign = await seedCampaign(h.db, 'Autumn Drop');
    negotiationId = await seedNegotiation(h.db, campaign, { influencerName: 'Browser Bea', state: 'new', lastOutboundAt: null });
    await seedTransition(h.db, negotiationId, { from: 'new', event: 'created', to: 'new', at: ago(40 * MIN) });
    deadLetterId = await seedDeadLetter(h.db, { queue: 'negotiation-steps', jobId: jobIds.negotiationStep(negotiationId), payload: { negotiationId, kind: 'open' }, failedAt: ago(20 * MIN) });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-chromium-'));
    // A persistent context is how Playwright takes a fresh --user-data-dir.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      httpCredentials: { username: 'ops', password: ADMIN_TOKEN },
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    await h?.close();
  });

  it('stuck page -> timeline -> dead letters -> replay, with the notice, and the job back in Redis', async () => {
    const page = await browser.newPage();
    const stuck = await page.goto(`${h.url}/admin/`);
    expect(stuck?.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toBe('Negotiations that need attention');
    const row = page.locator(`tr[data-kind="dead_letter"][data-negotiation="${negotiationId}"]`);
    await expect(row.locator('.kind').textContent()).resolves.toBe('dead letter');
    expect(await row.locator('td').first().textContent()).toMatch(/^2[01]m$/);

    await Promise.all([page.waitForURL(`${h.url}/admin/negotiations/${negotiationId}`), row.locator('a.timeline').click()]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Browser Bea · Autumn Drop');
    await expect(page.locator('tr[data-type="dead_letter"]').count()).resolves.toBe(1);
    await expect(page.locator('tr[data-type="transition"]').textContent()).resolves.toContain('new → created → new');

    await Promise.all([page.waitForURL(`${h.url}/admin/dead-letters`), page.getByRole('link', { name: 'Dead letters' }).click()]);
    const entry = page.locator(`tr[data-dead-letter="${deadLetterId}"]`);
    await expect(entry.locator('td.replayed').textContent()).resolves.toBe('no');

    await Promise.all([page.waitForURL(/\/admin\/dead-letters\?notice=replayed/), entry.locator('button.replay').click()]);
    const row2 = await h.db.deadLetter.findUniqueOrThrow({ where: { id: deadLetterId } });
    const jobId = replayJobId(row2);
    await expect(page.getByRole('status').textContent()).resolves.toBe(
      `Dead letter ${deadLetterId} (negotiation-steps job ${row2.jobId}) replayed: it is back on negotiation-steps as job ${jobId}.`,
    );
    await expect(entry.locator('button.replay').count()).resolves.toBe(0);

    const job = await h.queues['negotiation-steps'].getJob(jobId);
    expect(job?.data).toEqual({ negotiationId, kind: 'open' });
    expect(await job?.getState()).toBe('waiting');
    expect(row2.replayedAt).not.toBeNull();
    await page.close();
  }, 120_000);

  it('bull-board renders the six queues', async () => {
    const page = await browser.newPage();
    expect((await page.goto(`${h.url}/admin/queues`))?.status()).toBe(200);
    expect(QUEUE_NAMES).toHaveLength(6);
    // Each queue by name: the first to appear waits for the board's client to render, the rest are there.
    for (const name of QUEUE_NAMES) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 30_000 });
    await page.close();
  }, 120_000);
});
