import http from 'node:http';
import { buildMime, createGmailClient, createGoogleAuth, GMAIL_MAX_RESPONSE_BYTES, HistoryExpiredError } from '@parley/google';
import { PermanentError, RateLimitedError, TransientError } from '@parley/queue';
import { failure, startGoogleHarness, type GoogleHarness } from './google.harness';

const TOPIC = 'projects/parley-test/topics/gmail';
let h: GoogleHarness;

beforeEach(async () => {
  h = await startGoogleHarness({ mailbox: 'deals@brand.test' });
});
afterEach(async () => {
  await h.sandbox.close();
});

function outreach(n: number, extra: Partial<Parameters<typeof buildMime>[0]> = {}) {
  return buildMime({
    from: 'Brand Deals <deals@brand.test>',
    to: `Creator ${n} <creator${n}@influencer.test>`,
    subject: `Collaboration with Brand #${n}`,
    body: `Hi!\n\nWe would love to work with you. Our offer is $1,250.00 for one video.\n\nBest,\nBrand`,
    messageIdHdr: `<neg-${n}.open@parley.brand.test>`,
    ...extra,
  });
}

describe('Gmail client against the sandbox', () => {
  it('refreshes an access token and registers the INBOX watch for 7 days', async () => {
    const before = Date.now();
    const watch = await h.gmail.watch(TOPIC);
    expect(watch.historyId).toMatch(/^\d{10,}$/);
    expect(Number(watch.historyId)).toBeGreaterThanOrEqual(9_000_000_000);
    expect(watch.expiration.getTime()).toBeGreaterThanOrEqual(before + 7 * 24 * 3600 * 1000 - 1000);
    expect(watch.expiration.getTime()).toBeLessThanOrEqual(Date.now() + 7 * 24 * 3600 * 1000);
    expect(h.sandbox.watch()).toMatchObject({ topicName: TOPIC, labelIds: ['INBOX'], labelFilterBehavior: 'INCLUDE' });
    expect(h.sandbox.state().tokensIssued).toBe(1);
  });

  it('sends, finds the email by its Message-ID, and keeps replies in the thread', async () => {
    const first = await h.gmail.send(outreach(1));
    expect(first.threadId).toBe(first.id);
    await expect(h.gmail.findByMessageIdHeader('<neg-1.open@parley.brand.test>')).resolves.toEqual(first);
    await expect(h.gmail.findByMessageIdHeader('neg-1.open@parley.brand.test')).resolves.toEqual(first);
    await expect(h.gmail.findByMessageIdHeader('<neg-1.open@parley.brand.tes>')).resolves.toBeNull();

    const inbound = h.sandbox.deliverInbound({
      threadId: first.threadId,
      from: 'Creator 1 <creator1@influencer.test>',
      subject: 'Re: Collaboration with Brand #1',
      text: 'Thanks for reaching out! My rate for this would be $2,000.00.',
      inReplyTo: '<neg-1.open@parley.brand.test>',
    });
    const counter = await h.gmail.send(
      outreach(1, { subject: 'Re: Collaboration with Brand #1', messageIdHdr: 'neg-1.r1@parley.brand.test', inReplyTo: inbound.messageIdHdr, references: '<neg-1.open@parley.brand.test>', body: 'We can do $1,500.00.' }),
      first.threadId,
    );
    expect(counter.threadId).toBe(first.threadId);

    const thread = await h.gmail.getThread(first.threadId);
    expect(thread.map((m) => m.id)).toEqual([first.id, inbound.id, counter.id]);
    expect(thread[2]).toMatchObject({
      labelIds: ['SENT'],
      from: 'deals@brand.test',
      to: 'creator1@influencer.test',
      messageIdHdr: '<neg-1.r1@parley.brand.test>',
      inReplyTo: inbound.messageIdHdr,
      references: `<neg-1.open@parley.brand.test> ${inbound.messageIdHdr}`,
      text: 'We can do $1,500.00.',
    });
    expect(thread[1]).toMatchObject({ labelIds: ['INBOX', 'UNREAD'], from: 'creator1@influencer.test', inReplyTo: '<neg-1.open@parley.brand.test>' });
    expect(h.sandbox.sent().map((m) => m.messageIdHdr)).toEqual(['<neg-1.open@parley.brand.test>', '<neg-1.r1@parley.brand.test>']);
  });

  it('starts a new thread when the subject does not match the requested thread, like Gmail', async () => {
    const first = await h.gmail.send(outreach(2));
    const other = await h.gmail.send(outreach(2, { subject: 'Something else', messageIdHdr: '<neg-2.x@parley.brand.test>' }), first.threadId);
    expect(other.threadId).not.toBe(first.threadId);
  });

  it('reads an inbound reply as its own words, without quoted history or signature', async () => {
    const sent = await h.gmail.send(outreach(3));
    const inbound = h.sandbox.deliverInbound({
      threadId: sent.threadId,
      from: '"Zoë Müller" <Zoe@Influencer.test>',
      subject: 'Re: Collaboration with Brand #3 ✨',
      text: 'That works for me, happy to accept $1,250.00.\n\n-- \nZoë\n\nOn Tue, 4 Nov 2025 10:00:00 GMT, Brand Deals <deals@brand.test> wrote:\n> Our offer is $1,250.00 for one video.\n> Best,\n',
      inReplyTo: '<neg-3.open@parley.brand.test>',
    });
    const message = await h.gmail.getMessage(inbound.id);
    expect(message).toMatchObject({
      id: inbound.id,
      threadId: sent.threadId,
      from: 'zoe@influencer.test',
      to: 'deals@brand.test',
      subject: 'Re: Collaboration with Brand #3 ✨',
      messageIdHdr: inbound.messageIdHdr,
      inReplyTo: '<neg-3.open@parley.brand.test>',
      references: '<neg-3.open@parley.brand.test>',
      text: 'That works for me, happy to accept $1,250.00.',
    });
    expect(message.internalDate.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('reads a message too large to fetch whole by its headers only, as unreadable; a thread holding one falls back message by message', async () => {
    // Delivered before any request: building it blocks the in-process sandbox for seconds, long
    // enough for a keep-alive socket left idle meanwhile to be reset under the next request.
    const huge = h.sandbox.deliverInbound({
      from: 'Creator 6 <creator6@influencer.test>',
      subject: 'Re: Collaboration with Brand #6',
      // Over the limit once base64url-encoded in the answer (as Gmail sends an inline part).
      text: `My rate is $9,000.00.\n${'lorem ipsum '.repeat(Math.ceil(GMAIL_MAX_RESPONSE_BYTES / 12))}`,
      inReplyTo: '<neg-6.open@parley.brand.test>',
    });
    const small = h.sandbox.deliverInbound({ threadId: huge.threadId, from: 'Creator 6 <creator6@influencer.test>', subject: 'Re: Collaboration with Brand #6', text: 'Happy to accept $1,250.00.', inReplyTo: huge.messageIdHdr });
    const before = h.sandbox.requests().length;
    const message = await h.gmail.getMessage(huge.id);
    expect(message).toMatchObject({
      id: huge.id,
      threadId: huge.threadId,
      from: 'creator6@influencer.test',
      messageIdHdr: huge.messageIdHdr,
      inReplyTo: '<neg-6.open@parley.brand.test>',
      text: '',
      problem: `unparseable: too large (over ${GMAIL_MAX_RESPONSE_BYTES} bytes as Gmail sends it)`,
    });
    // The whole message once (cut off at the limit), then its headers.
    expect(h.sandbox.requests().slice(before).filter((r) => r.path.includes('/messages/')).map((r) => new URLSearchParams(r.query).get('format'))).toEqual(['full', 'metadata']);

    const thread = await h.gmail.getThread(huge.threadId);
    expect(thread.map((m) => [m.id, m.problem])).toEqual([
      [huge.id, expect.stringMatching(/^unparseable: too large/)],
      [small.id, null],
    ]);
    expect(thread[1]?.text).toBe('Happy to accept $1,250.00.');
  });

  it('lists added messages across history pages and returns the newest history id', async () => {
    const watch = await h.gmail.watch(TOPIC);
    const sent = await h.gmail.send(outreach(4));
    const delivered = [];
    for (let i = 0; i < 1100; i++) {
      delivered.push(h.sandbox.deliverInbound({ threadId: sent.threadId, from: `c${i}@influencer.test`, subject: 'Re: Collaboration with Brand #4', text: `reply ${i}` }));
    }
    const history = await h.gmail.listHistory(watch.historyId);
    expect(history.added).toHaveLength(1101);
    expect(history.added[0]).toEqual({ id: sent.id, threadId: sent.threadId, labelIds: ['SENT'] });
    expect(history.added.slice(1).map((m) => m.id)).toEqual(delivered.map((d) => d.id));
    expect(history.historyId).toBe(h.sandbox.currentHistoryId());
    expect(h.sandbox.requests().filter((r) => r.path.endsWith('/history'))).toHaveLength(3);

    // Caught up: nothing new, the same cursor back.
    await expect(h.gmail.listHistory(history.historyId)).resolves.toEqual({ added: [], historyId: history.historyId });
  });

  it('turns a history.list 404 (cursor older than retained history) into HistoryExpiredError', async () => {
    const watch = await h.gmail.watch(TOPIC);
    const sent = await h.gmail.send(outreach(5));
    h.sandbox.expireHistoryBefore(h.sandbox.currentHistoryId());
    const error = await failure(h.gmail.listHistory(watch.historyId));
    expect(error).toBeInstanceOf(HistoryExpiredError);
    expect(error).toBeInstanceOf(PermanentError);
    // A cursor inside the retained window still works.
    const recent = await h.gmail.listHistory(h.sandbox.currentHistoryId());
    expect(recent.added).toEqual([]);
    expect(sent.id).toBeTruthy();
  });

  it('maps a 500 to TransientError after exactly one request (googleapis retries are off)', async () => {
    const sent = await h.gmail.send(outreach(6));
    h.sandbox.failNext(1, { status: 500 });
    const error = await failure(h.gmail.getMessage(sent.id));
    expect(error).toBeInstanceOf(TransientError);
    expect(h.sandbox.requests().filter((r) => r.path.includes('/messages/') && r.method === 'GET').map((r) => r.status)).toEqual([500]);
    await expect(h.gmail.getMessage(sent.id)).resolves.toMatchObject({ id: sent.id });
  });

  it('maps a 429 to RateLimitedError with the Retry-After wait, or 30 s without one', async () => {
    h.sandbox.failNext(1, { status: 429, retryAfter: 7 });
    const withHeader = await failure(h.gmail.send(outreach(7)));
    expect(withHeader).toBeInstanceOf(RateLimitedError);
    expect((withHeader as RateLimitedError).waitMs).toBe(7000);
    expect((withHeader as RateLimitedError).source).toBe('gmail');

    h.sandbox.failNext(1, { status: 429 });
    const without = await failure(h.gmail.listHistory(h.sandbox.currentHistoryId()));
    expect(without).toBeInstanceOf(RateLimitedError);
    expect((without as RateLimitedError).waitMs).toBe(30_000);
    expect(h.sandbox.requests().filter((r) => r.status === 429)).toHaveLength(2);

    // Gmail also signals per-user quota with 403 userRateLimitExceeded: a wait, not a refusal.
    // (google-auth-library refreshes the token once on a 401/403 and repeats the call first.)
    h.sandbox.failNext(2, { status: 403 });
    await expect(h.gmail.getThread('abc')).rejects.toBeInstanceOf(RateLimitedError);
    expect(h.sandbox.requests().filter((r) => r.status === 403)).toHaveLength(2);
    expect(h.sandbox.sent()).toHaveLength(0);
  });

  it('maps an unknown message (404) to a permanent not_found', async () => {
    const error = await failure(h.gmail.getMessage('0123456789abcdef'));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).reason).toBe('not_found');
  });

  it('maps a timeout to TransientError', async () => {
    // Answers the token endpoint at once, then never answers the API call.
    const hanging = http.createServer((req, res) => {
      if (req.url === '/token') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'ya29.x', expires_in: 3599, token_type: 'Bearer' }));
      }
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = hanging.address() as { port: number };
      const auth = createGoogleAuth({ ...h.sandbox.env(), GOOGLE_TOKEN_URL: `http://127.0.0.1:${port}/token` });
      const slow = createGmailClient({ auth, rootUrl: `http://127.0.0.1:${port}/`, timeoutMs: 200 });
      const error = await failure(slow.getMessage('abc'));
      expect(error).toBeInstanceOf(TransientError);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });

  it('gives up a token refresh that never answers after GMAIL_TIMEOUT_MS, and a send whose signal aborts while it waits for one', async () => {
    // A token endpoint that takes the request and never answers.
    const hanging = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = hanging.address() as { port: number };
      const env = { ...h.sandbox.env(), GOOGLE_TOKEN_URL: `http://127.0.0.1:${port}/token` };
      const refreshBounded = createGmailClient({ auth: createGoogleAuth({ ...env, GMAIL_TIMEOUT_MS: 200 }), rootUrl: h.sandbox.url, timeoutMs: 60_000 });
      expect(await failure(refreshBounded.getProfile())).toBeInstanceOf(TransientError);

      // The refresh would wait a minute; the send's own deadline ends it, and no send is made.
      const sentBefore = h.sandbox.sent().length;
      const deadline = createGmailClient({ auth: createGoogleAuth({ ...env, GMAIL_TIMEOUT_MS: 60_000 }), rootUrl: h.sandbox.url, timeoutMs: 60_000 });
      const raw = buildMime({ from: 'me@parley.test', to: 'someone@example.com', subject: 'Hello', body: 'Hi', messageIdHdr: '<deadline@parley.test>' });
      const error = await failure(deadline.send(raw, undefined, { signal: AbortSignal.timeout(200) }));
      expect(error).toBeInstanceOf(TransientError);
      expect(h.sandbox.sent()).toHaveLength(sentBefore);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });

  it('maps a refused connection to TransientError', async () => {
    const port = h.sandbox.port;
    await h.sandbox.close();
    const offline = createGmailClient({ auth: h.auth, rootUrl: `http://127.0.0.1:${port}/` });
    const error = await failure(offline.getThread('abc'));
    expect(error).toBeInstanceOf(TransientError);
    h = await startGoogleHarness();
  });
});
