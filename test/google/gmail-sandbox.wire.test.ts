import { buildMime, createGoogleAuth } from '@parley/google';
import { startGoogleSandbox, type GoogleSandbox } from '@parley/sandbox/google';
import { gmail as gmailApi, type gmail_v1 } from 'googleapis/build/src/apis/gmail';

/** The sandbox's Gmail wire format as googleapis itself sees it (formats, paging, filters). */
let sandbox: GoogleSandbox;
let api: gmail_v1.Gmail;
let threadId: string;
let inboundId: string;
let start: string;

beforeAll(async () => {
  sandbox = await startGoogleSandbox({ mailbox: 'deals@brand.test', historyStart: 9_100_000_000 });
  api = gmailApi({ version: 'v1', auth: createGoogleAuth(sandbox.env()), rootUrl: sandbox.url, retry: false, fetchImplementation: fetch });
  start = sandbox.currentHistoryId();
  const sent = await api.users.messages.send({
    userId: 'me',
    requestBody: { raw: buildMime({ from: 'deals@brand.test', to: 'ana@influencer.test', subject: 'Offer', body: 'Offer $1.00', messageIdHdr: '<w-1@parley.test>' }) },
  });
  threadId = sent.data.threadId ?? '';
  for (let i = 0; i < 3; i++) {
    inboundId = sandbox.deliverInbound({ threadId, from: 'Ana <ana@influencer.test>', subject: 'Re: Offer', text: `Reply ${i}\n\nOn Mon, Brand wrote:\n> Offer $1.00`, inReplyTo: '<w-1@parley.test>' }).id;
  }
});
afterAll(async () => {
  await sandbox.close();
});

describe('Gmail wire format of the sandbox', () => {
  it('serves messages in full, metadata, minimal and raw formats', async () => {
    const full = (await api.users.messages.get({ userId: 'me', id: inboundId, format: 'full' })).data;
    expect(full).toMatchObject({ id: inboundId, threadId, labelIds: ['INBOX', 'UNREAD'], internalDate: expect.stringMatching(/^\d{13}$/), historyId: expect.stringMatching(/^\d+$/) });
    expect(full.payload?.mimeType).toBe('multipart/alternative');
    expect(full.payload?.body).toEqual({ size: 0 });
    const [plain, html] = full.payload?.parts ?? [];
    expect(plain).toMatchObject({ partId: '0', mimeType: 'text/plain' });
    expect(html).toMatchObject({ partId: '1', mimeType: 'text/html' });
    expect(plain?.body?.data).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(plain?.body?.data ?? '', 'base64url').toString('utf8')).toBe('Reply 2\n\nOn Mon, Brand wrote:\n> Offer $1.00'.replace(/\n/g, '\r\n'));
    expect(full.snippet).toContain('Reply 2');

    const metadata = (await api.users.messages.get({ userId: 'me', id: inboundId, format: 'metadata', metadataHeaders: ['Subject', 'In-Reply-To'] })).data;
    expect(metadata.payload?.headers).toEqual([
      { name: 'In-Reply-To', value: '<w-1@parley.test>' },
      { name: 'Subject', value: 'Re: Offer' },
    ]);
    expect(metadata.payload?.parts).toBeUndefined();

    const minimal = (await api.users.messages.get({ userId: 'me', id: inboundId, format: 'minimal' })).data;
    expect(minimal.payload).toBeUndefined();

    const raw = (await api.users.messages.get({ userId: 'me', id: inboundId, format: 'raw' })).data;
    expect(Buffer.from(raw.raw ?? '', 'base64url').toString('latin1')).toMatch(/^MIME-Version: 1\.0\r\n/);
  });

  it('pages history with maxResults and filters by labelId and historyTypes', async () => {
    const first = await api.users.history.list({ userId: 'me', startHistoryId: start, historyTypes: ['messageAdded'], maxResults: 3 });
    expect(first.data.history).toHaveLength(3);
    expect(first.data.nextPageToken).toBeTruthy();
    const ids = (first.data.history ?? []).map((r) => Number(r.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids[0]).toBeGreaterThan(9_100_000_000);
    const second = await api.users.history.list({ userId: 'me', startHistoryId: start, historyTypes: ['messageAdded'], maxResults: 3, pageToken: first.data.nextPageToken ?? '' });
    expect(second.data.history).toHaveLength(1);
    expect(second.data.nextPageToken).toBeUndefined();
    expect(second.data.historyId).toBe(sandbox.currentHistoryId());

    const inbox = await api.users.history.list({ userId: 'me', startHistoryId: start, labelId: 'INBOX' });
    expect(inbox.data.history?.map((r) => r.messagesAdded?.[0]?.message?.labelIds)).toEqual([
      ['INBOX', 'UNREAD'],
      ['INBOX', 'UNREAD'],
      ['INBOX', 'UNREAD'],
    ]);
    const labelsOnly = await api.users.history.list({ userId: 'me', startHistoryId: start, historyTypes: ['labelAdded'] });
    expect(labelsOnly.data.history).toBeUndefined();
  });

  it('lists messages, threads them, and enforces the mailbox user', async () => {
    const list = await api.users.messages.list({ userId: 'deals@brand.test', q: 'rfc822msgid:<w-1@parley.test>' });
    expect(list.data.messages).toEqual([{ id: threadId, threadId }]);
    const none = await api.users.messages.list({ userId: 'me', q: 'rfc822msgid:missing@parley.test' });
    expect(none.data).toEqual({ resultSizeEstimate: 0 });

    const thread = await api.users.threads.get({ userId: 'me', id: threadId, format: 'metadata' });
    expect(thread.data.messages).toHaveLength(4);

    await expect(api.users.getProfile({ userId: 'someone@else.test' })).rejects.toMatchObject({ status: 403 });
  });

  it('pushes notifications for every label when a watch has no label filter', async () => {
    const seen: string[] = [];
    const stop = sandbox.onHistory((n) => seen.push(n.historyId));
    try {
      await api.users.watch({ userId: 'me', requestBody: { topicName: 'projects/p/topics/t' } });
      await api.users.messages.send({
        userId: 'me',
        requestBody: { raw: buildMime({ from: 'deals@brand.test', to: 'ana@influencer.test', subject: 'Second', body: 'x', messageIdHdr: '<w-2@parley.test>' }) },
      });
      expect(seen).toEqual([sandbox.currentHistoryId()]);
      await api.users.stop({ userId: 'me' });
      expect(sandbox.watch()).toBeNull();
    } finally {
      stop();
    }
  });
});
