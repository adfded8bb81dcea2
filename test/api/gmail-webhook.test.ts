import { AUDIENCE, MAILBOX, SERVICE_ACCOUNT, jobIdsIn, nothingRecorded, startApi, type ApiHarness } from './api-harness';
import { jobIds, mailboxLockKey } from '@parley/queue';

describe('POST /webhooks/gmail', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApi();
  });
  afterEach(async () => {
    await h.close();
  });

  const post = (body: string | Buffer | object, headers: Record<string, string> = {}) => h.pusher.pushRaw(body, headers);
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts a signed notification: 204, one delivery row, one job, the mailbox cursor target raised', async () => {
    const result = await h.pusher.push({ emailAddress: MAILBOX, historyId: '9876543210', messageId: '2070443601311540' });
    expect(result).toEqual({ status: 204, attempts: 1, messageId: '2070443601311540' });

    const jobId = jobIds.mailboxSync('2070443601311540');
    expect(await jobIdsIn(h.queues, 'gmail-notifications')).toEqual([jobId]);
    const job = await h.queues['gmail-notifications'].getJob(jobId);
    expect(job?.name).toBe('mailbox-sync');
    expect(job?.data).toMatchObject({ mailbox: MAILBOX, historyId: '9876543210', pubsubMessageId: '2070443601311540' });
    expect(typeof job?.data.publishTime).toBe('string');

    const row = await h.db.webhookDelivery.findUnique({ where: { id: jobId } });
    expect(row).toMatchObject({ queue: 'gmail-notifications', jobName: 'mailbox-sync', payload: job?.data });
    expect((await h.db.mailboxSync.findUnique({ where: { mailbox: MAILBOX } }))?.highestNotifiedHistoryId).toBe('9876543210');
  });

  it('enqueues no job while a sync of the mailbox holds its lock (the sync covers it), and one again once it is released', async () => {
    const lock = mailboxLockKey(h.prefix, MAILBOX);
    await h.redis.set(lock, 'job:pubsub.earlier:run', 'PX', 60_000);
    const during = await h.pusher.push({ emailAddress: MAILBOX, historyId: '500', messageId: 'during-sync' });
    expect(during.status).toBe(204);
    // Recorded and committed as the mailbox's highest notified id, which the holder reads
    // again after it releases the lock; no job of its own.
    expect(await h.db.webhookDelivery.findUnique({ where: { id: jobIds.mailboxSync('during-sync') } })).toMatchObject({ queue: 'gmail-notifications' });
    expect((await h.db.mailboxSync.findUnique({ where: { mailbox: MAILBOX } }))?.highestNotifiedHistoryId).toBe('500');
    expect(await jobIdsIn(h.queues, 'gmail-notifications')).toEqual([]);
    // Another mailbox's lock does not count.
    await h.redis.del(lock);
    await h.redis.set(mailboxLockKey(h.prefix, 'other@example.com'), 'job:x:run', 'PX', 60_000);
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: '501', messageId: 'after-sync' })).status).toBe(204);
    expect(await jobIdsIn(h.queues, 'gmail-notifications')).toEqual([jobIds.mailboxSync('after-sync')]);
  });

  it('reads message_id when messageId is absent', async () => {
    const envelope = h.pusher.envelope({ emailAddress: MAILBOX, historyId: '5' });
    const { messageId: _dropped, ...message } = envelope.message;
    const res = await post({ ...envelope, message: { ...message, message_id: 'snake-1' } }, { authorization: h.pusher.authorization() });
    expect(res.status).toBe(204);
    expect(await jobIdsIn(h.queues, 'gmail-notifications')).toEqual([jobIds.mailboxSync('snake-1')]);
  });

  it('accepts a token signed with the second served key (rotation)', async () => {
    const token = h.rotated.sign({ aud: AUDIENCE, email: SERVICE_ACCOUNT });
    const res = await post(h.pusher.envelope({ emailAddress: MAILBOX, historyId: 7 }), { authorization: `Bearer ${token}` });
    expect(res.status).toBe(204);
  });

  it('answers 503 (redeliver) when the signing certs cannot be fetched, and records nothing', async () => {
    await h.certs.close();
    const res = await post(h.pusher.envelope({ emailAddress: MAILBOX, historyId: '100' }), { authorization: h.pusher.authorization() });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: 'token verification unavailable', requestId: res.headers.get('x-request-id') });
    await nothingRecorded(h);
  });

  describe('refuses with 401 and records nothing', () => {
    const cases: [string, (h: ApiHarness) => Record<string, string>][] = [
      ['no Authorization header', () => ({})],
      ['a non-Bearer Authorization header', () => ({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` })],
      ['a token that is not a JWT', () => ({ authorization: 'Bearer not-a-jwt' })],
      ['a token forged with another key under the same kid', (x) => ({ authorization: `Bearer ${x.forger.sign({ aud: AUDIENCE, email: SERVICE_ACCOUNT })}` })],
      [
        'an expired token',
        (x) => ({ authorization: `Bearer ${x.signer.sign({ aud: AUDIENCE, email: SERVICE_ACCOUNT }, { issuedAt: now() - 7200, expiresInSec: 3600 })}` }),
      ],
      ['a token for another audience', (x) => ({ authorization: `Bearer ${x.signer.sign({ aud: 'https://elsewhere.example.com/push', email: SERVICE_ACCOUNT })}` })],
      ['a token for another service account', (x) => ({ authorization: `Bearer ${x.signer.sign({ aud: AUDIENCE, email: 'intruder@evil.example.com' })}` })],
      ['a token whose email is not verified', (x) => ({ authorization: `Bearer ${x.signer.sign({ aud: AUDIENCE, email: SERVICE_ACCOUNT, email_verified: false })}` })],
      ['a token from another issuer', (x) => ({ authorization: `Bearer ${x.signer.sign({ aud: AUDIENCE, email: SERVICE_ACCOUNT, iss: 'https://evil.example.com' })}` })],
    ];
    it.each(cases)('%s', async (_name, headers) => {
      const res = await post(h.pusher.envelope({ emailAddress: MAILBOX, historyId: '100' }), headers(h));
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: 'unauthorized', requestId: res.headers.get('x-request-id') });
      await nothingRecorded(h);
    });

    it('never writes the token to the log', async () => {
      const token = h.forger.sign({ aud: AUDIENCE, email: SERVICE_ACCOUNT });
      await post(h.pusher.envelope({ emailAddress: MAILBOX, historyId: '100' }), { authorization: `Bearer ${token}` });
      expect(h.logs()).toContain('bad signature');
      expect(h.logs()).not.toContain(token.split('.')[1]);
    });
  });

  describe('refuses malformed bodies with 400 and records nothing', () => {
    const data = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
    const message = (overrides: Record<string, unknown>) => ({ message: { data: data({ emailAddress: MAILBOX, historyId: '1' }), messageId: 'm-1', ...overrides }, subscription: 'projects/p/subscriptions/s' });
    const cases: [string, string | object][] = [
      ['malformed JSON', '{"message": {'],
      ['an empty body', ''],
      ['a JSON array', '[]'],
      ['no message', { subscription: 'projects/p/subscriptions/s' }],
      ['no message id', { message: { data: data({ emailAddress: MAILBOX, historyId: '1' }) } }],
      ['data that is not base64', message({ data: '!!!not base64***' })],
      ['data with an impossible base64 length', message({ data: 'abcde' })],
      ['data that decodes to non-JSON', message({ data: Buffer.from('hello there').toString('base64') })],
      ['data without historyId', message({ data: data({ emailAddress: MAILBOX }) })],
      ['a negative historyId', message({ data: data({ emailAddress: MAILBOX, historyId: -4 }) })],
      ['a non-numeric historyId', message({ data: data({ emailAddress: MAILBOX, historyId: '12ab' }) })],
      ['an emailAddress that is not an address', message({ data: data({ emailAddress: 'nobody', historyId: '3' }) })],
    ];
    it.each(cases)('%s', async (_name, body) => {
      const res = await post(body, { authorization: h.pusher.authorization() });
      expect(res.status).toBe(400);
      const answer = JSON.parse(res.body) as { error: string; requestId: string };
      expect(answer.requestId).toBe(res.headers.get('x-request-id'));
      expect(answer.error).not.toContain(MAILBOX);
      await nothingRecorded(h);
    });
  });

  it('answers 413 for a body over 1 MB and records nothing', async () => {
    const envelope = h.pusher.envelope({ emailAddress: MAILBOX, historyId: '1' });
    const body = JSON.stringify({ ...envelope, padding: 'x'.repeat(1024 * 1024 + 10) });
    const res = await post(body, { authorization: h.pusher.authorization() });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(JSON.parse(res.body)).toMatchObject({ error: 'payload too large' });
    await nothingRecorded(h);
  });

  it('acknowledges and ignores a notification for another mailbox', async () => {
    const result = await h.pusher.push({ emailAddress: 'someone-else@other.example.com', historyId: '50' });
    expect(result.status).toBe(204);
    await nothingRecorded(h);
    const ignored = await h.metrics.webhooks.get();
    expect(ignored.values.find((v) => v.labels.outcome === 'ignored')?.value).toBe(1);
  });

  it('collapses 5 concurrent deliveries of one message into one job and one row', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => h.pusher.push({ emailAddress: MAILBOX, historyId: '4242', messageId: 'dup-1' })));
    expect(results.map((r) => r.status)).toEqual([204, 204, 204, 204, 204]);
    expect(await jobIdsIn(h.queues, 'gmail-notifications')).toEqual([jobIds.mailboxSync('dup-1')]);
    expect(await h.db.webhookDelivery.count()).toBe(1);
    const counted = await h.metrics.webhooks.get();
    const total = counted.values.filter((v) => v.labels.source === 'gmail').reduce((n, v) => n + v.value, 0);
    expect(total).toBe(5);
    expect(counted.values.find((v) => v.labels.outcome === 'accepted')?.value).toBe(1);
  });

  it('enqueues 5 distinct messages as 5 jobs, fetching the certs once', async () => {
    const ids = ['d-1', 'd-2', 'd-3', 'd-4', 'd-5'];
    const results = await Promise.all(ids.map((messageId, i) => h.pusher.push({ emailAddress: MAILBOX, historyId: String(100 + i), messageId })));
    expect(results.every((r) => r.status === 204)).toBe(true);
    expect(await jobIdsIn(h.queues, 'gmail-notifications')).toEqual(ids.map(jobIds.mailboxSync).sort());
    expect(await h.db.webhookDelivery.count()).toBe(5);
    // A cold burst shares one certs fetch, and the keys are then cached for their max-age.
    expect(h.certs.hits()).toBe(1);
  });

  it('keeps the highest notified historyId whatever the delivery order, comparing as 64-bit integers', async () => {
    // 9 > 10 as strings, and 2^63-ish ids lose precision as numbers: only BigInt gets this right.
    const order = ['10', '9', '18446744073709551000', '18446744073709550999', '11'];
    for (const [i, historyId] of order.entries()) {
      expect((await h.pusher.push({ emailAddress: MAILBOX, historyId, messageId: `o-${i}` })).status).toBe(204);
    }
    expect((await h.db.mailboxSync.findUnique({ where: { mailbox: MAILBOX } }))?.highestNotifiedHistoryId).toBe('18446744073709551000');
    // Concurrent and shuffled too.
    await Promise.all(['18446744073709551615', '3', '18446744073709551614'].map((historyId, i) => h.pusher.push({ emailAddress: MAILBOX, historyId, messageId: `c-${i}` })));
    expect((await h.db.mailboxSync.findUnique({ where: { mailbox: MAILBOX } }))?.highestNotifiedHistoryId).toBe('18446744073709551615');
  });

  it('accepts historyId as a string and as a number', async () => {
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: '123456', messageId: 's-1' })).status).toBe(204);
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: 123457, messageId: 'n-1' })).status).toBe(204);
    const job = await h.queues['gmail-notifications'].getJob(jobIds.mailboxSync('n-1'));
    expect(job?.data.historyId).toBe('123457');
    expect((await h.db.mailboxSync.findUnique({ where: { mailbox: MAILBOX } }))?.highestNotifiedHistoryId).toBe('123457');
  });

  it('matches the mailbox without regard to case and keys the cursor under the configured spelling', async () => {
    expect((await h.pusher.push({ emailAddress: MAILBOX.toUpperCase(), historyId: '77' })).status).toBe(204);
    expect(await h.db.mailboxSync.findMany({ select: { mailbox: true } })).toEqual([{ mailbox: MAILBOX }]);
  });
});
