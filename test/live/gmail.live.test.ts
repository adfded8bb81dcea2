import { createGmailClient, createGoogleAuth, type GmailClient } from '@parley/google';
import { checkHistory, checkWatch, type WatchResult } from './gmail-checks';
import { describeLive, gmailLiveTarget } from './live-env';

/**
 * Live check: the product's Gmail client against a real test mailbox. users.watch on the
 * Pub/Sub topic, then history.list from the historyId it returned, asserting the shapes the
 * mailbox sync relies on (gmail-checks.ts; gmail.sandbox.test.ts runs the same checks offline).
 *
 * Side effects on the test mailbox: the watch replaces any earlier one, and each run sends one
 * short message to the mailbox itself. Runs only with the variables named in live-env.ts;
 * `npx jest test/live`.
 */

describeLive('live: Gmail watch and history through the product client', gmailLiveTarget(), (config) => {
  let gmail: GmailClient;
  let watched: WatchResult | undefined;

  beforeAll(() => {
    gmail = createGmailClient({ auth: createGoogleAuth(config.auth), ...(config.rootUrl ? { rootUrl: config.rootUrl } : {}) });
  });

  it('users.watch on the topic answers a numeric historyId and an expiration within 7 days', async () => {
    watched = await checkWatch(gmail, config.topic);
  });

  it('history.list from the watch historyId lists a message sent since, with its thread and labels, and a history id that grew', async () => {
    if (!watched) throw new Error('users.watch failed (see the test above): no historyId to list from');
    const summary = await checkHistory(gmail, watched.historyId, { mailbox: config.mailbox, timeoutMs: 90_000, intervalMs: 2_000 });
    // Ids and counts only: no address, subject or token.
    process.stdout.write(`[live] gmail: watch expires ${watched.expiration.toISOString()}; ${summary}\n`);
  }, 240_000);
});
