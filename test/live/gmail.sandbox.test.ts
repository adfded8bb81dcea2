import { createGmailClient, createGoogleAuth, type GmailClient } from '@parley/google';
import { startGoogleSandbox, type GoogleSandbox } from '@parley/sandbox';
import { checkHistory, checkWatch } from './gmail-checks';

/**
 * The live Gmail check's assertions, offline: run through the product's Gmail client against
 * the sandbox (so a broken check shows up here, not first on a real mailbox), and shown to
 * fail on the shapes they exist to catch.
 */

const TOPIC = 'projects/parley-test/topics/gmail';
const DAY_MS = 24 * 60 * 60 * 1000;

let google: GoogleSandbox;
let gmail: GmailClient;
let mailbox: string;

beforeAll(async () => {
  google = await startGoogleSandbox();
  const env = google.env();
  mailbox = env.GMAIL_MAILBOX ?? '';
  gmail = createGmailClient({
    auth: createGoogleAuth({ GOOGLE_CLIENT_ID: env.GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET: env.GOOGLE_CLIENT_SECRET, GOOGLE_REFRESH_TOKEN: env.GOOGLE_REFRESH_TOKEN, GOOGLE_TOKEN_URL: env.GOOGLE_TOKEN_URL }),
    rootUrl: env.GOOGLE_API_ROOT_URL,
  });
});
afterAll(async () => {
  await google.close();
});

const quick = () => ({ mailbox, timeoutMs: 5_000, intervalMs: 50 });

describe('the live Gmail checks against the sandbox', () => {
  it('pass: watch, then history.list from its historyId finds the message sent to itself', async () => {
    const watched = await checkWatch(gmail, TOPIC);
    const summary = await checkHistory(gmail, watched.historyId, quick());
    expect(summary).toMatch(new RegExp(`^history\\.list from ${watched.historyId}: [1-9]\\d* added, historyId now \\d+; the sent message was listed after \\d+ ms$`));
    expect(summary).not.toContain(mailbox);
  });

  it('fail on a watch past 7 days, a non-numeric historyId, or a profile behind the watch', async () => {
    const watched = await gmail.watch(TOPIC);
    await expect(checkWatch({ ...gmail, watch: async () => ({ historyId: watched.historyId, expiration: new Date(Date.now() + 30 * DAY_MS) }) }, TOPIC)).rejects.toThrow();
    await expect(checkWatch({ ...gmail, watch: async () => ({ historyId: 'abc', expiration: watched.expiration }) }, TOPIC)).rejects.toThrow();
    await expect(checkWatch({ ...gmail, getProfile: async () => ({ historyId: String(BigInt(watched.historyId) - 1n) }) }, TOPIC)).rejects.toThrow();
  });

  it('fail when the sent message never shows in history.list, or shows without the SENT label', async () => {
    const { historyId } = await gmail.getProfile();
    const silent: GmailClient = { ...gmail, listHistory: async () => ({ added: [], historyId }) };
    await expect(checkHistory(silent, historyId, { mailbox, timeoutMs: 300, intervalMs: 50 })).rejects.toThrow(/timed out after 300 ms waiting for the sent message in history\.list/);
    const unlabelled: GmailClient = {
      ...gmail,
      listHistory: async (start) => {
        const h = await gmail.listHistory(start);
        return { ...h, added: h.added.map((m) => ({ ...m, labelIds: m.labelIds.filter((l) => l !== 'SENT') })) };
      },
    };
    await expect(checkHistory(unlabelled, historyId, quick())).rejects.toThrow(/SENT/);
  });
});
