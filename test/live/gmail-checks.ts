import { randomBytes } from 'node:crypto';
import { buildMime, type GmailClient } from '@parley/google';
import { waitFor } from '../support/wait';

/**
 * The Gmail shapes the mailbox sync and the send path rely on, checked through the product's
 * own client: the live check runs these against a real test mailbox, and the offline test runs
 * them against the sandbox so the checks themselves are known to work.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
const DIGITS = /^\d{1,20}$/;
/** Gmail message and thread ids: hex strings. */
const GMAIL_ID = /^[0-9a-f]{1,32}$/i;

export interface WatchResult {
  historyId: string;
  expiration: Date;
}

/** users.watch: a numeric historyId and an expiration within Gmail's 7 days; the profile's historyId is not behind it. */
export async function checkWatch(gmail: GmailClient, topic: string): Promise<WatchResult> {
  const before = Date.now();
  const watched = await gmail.watch(topic);
  expect(watched.historyId).toMatch(DIGITS);
  expect(Number.isNaN(watched.expiration.getTime())).toBe(false);
  expect(watched.expiration.getTime()).toBeGreaterThan(before);
  // Gmail's watch lasts 7 days; the maintenance job renews it well before (docs/google.md).
  expect(watched.expiration.getTime()).toBeLessThanOrEqual(Date.now() + 7 * DAY_MS + 60 * 60 * 1000);
  const profile = await gmail.getProfile();
  expect(profile.historyId).toMatch(DIGITS);
  expect(BigInt(profile.historyId)).toBeGreaterThanOrEqual(BigInt(watched.historyId));
  return watched;
}

export interface HistoryCheckOptions {
  mailbox: string;
  /** How long to poll for Gmail to list the sent message (it records history shortly after a send). */
  timeoutMs: number;
  intervalMs: number;
}

/**
 * history.list from `startHistoryId`: the shape holds even when nothing happened; then a message
 * the mailbox sends to itself is listed as added with its thread and the SENT label, the history
 * id grows, and the message reads back (parsed) with the Message-ID the product set, which
 * findByMessageIdHeader finds. Returns a one-line summary without addresses or subjects.
 */
export async function checkHistory(gmail: GmailClient, startHistoryId: string, options: HistoryCheckOptions): Promise<string> {
  const first = await gmail.listHistory(startHistoryId);
  expect(Array.isArray(first.added)).toBe(true);
  expect(first.historyId).toMatch(DIGITS);
  expect(BigInt(first.historyId)).toBeGreaterThanOrEqual(BigInt(startHistoryId));

  const domain = options.mailbox.slice(options.mailbox.lastIndexOf('@') + 1);
  const messageIdHdr = `<live-check.${randomBytes(8).toString('hex')}@${domain}>`;
  const subject = `Parley live check ${new Date().toISOString()}`;
  const raw = buildMime({ from: options.mailbox, to: options.mailbox, subject, body: 'This message was sent by the Parley live check to its own mailbox. It can be deleted.', messageIdHdr });
  const sent = await gmail.send(raw);
  expect(sent.id).toMatch(GMAIL_ID);
  expect(sent.threadId).toMatch(GMAIL_ID);

  const sentAt = Date.now();
  const later = await waitFor(
    'the sent message in history.list',
    async () => {
      const h = await gmail.listHistory(startHistoryId);
      return h.added.some((m) => m.id === sent.id) ? h : null;
    },
    options.timeoutMs,
    options.intervalMs,
  );
  const listedAfterMs = Date.now() - sentAt;
  const added = later.added.find((m) => m.id === sent.id);
  expect(added?.threadId).toBe(sent.threadId);
  expect(added?.labelIds).toEqual(expect.arrayContaining(['SENT']));
  for (const m of later.added) {
    expect(m.id).toMatch(GMAIL_ID);
    expect(m.threadId).toMatch(GMAIL_ID);
    expect(m.labelIds.every((l) => typeof l === 'string' && l !== '')).toBe(true);
  }
  expect(new Set(later.added.map((m) => m.id)).size).toBe(later.added.length);
  expect(BigInt(later.historyId)).toBeGreaterThan(BigInt(startHistoryId));

  const message = await gmail.getMessage(sent.id);
  expect(message.problem).toBeNull();
  expect(message.id).toBe(sent.id);
  expect(message.threadId).toBe(sent.threadId);
  expect(message.messageIdHdr).toBe(messageIdHdr);
  expect(message.subject).toBe(subject);
  expect(message.from).toBe(options.mailbox.toLowerCase());
  expect(message.labelIds).toEqual(expect.arrayContaining(['SENT']));
  // The search index behind rfc822msgid: lags a send too.
  const found = await waitFor('the sent message by its Message-ID', () => gmail.findByMessageIdHeader(messageIdHdr), options.timeoutMs, options.intervalMs);
  expect(found).toEqual({ id: sent.id, threadId: sent.threadId });

  return `history.list from ${startHistoryId}: ${later.added.length} added, historyId now ${later.historyId}; the sent message was listed after ${listedAfterMs} ms`;
}
