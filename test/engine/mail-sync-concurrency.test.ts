import type { Redis } from 'ioredis';
import { aliasDatabase, sqlOf, withTx, type Db, type SqlArg, type SqlDb } from '@parley/db';
import { buildMime, createGmailClient, createGoogleAuth, type GmailClient } from '@parley/google';
import { createMailboxSyncHandler } from '@parley/engine';
import { createRedis, enqueue, mailboxLockKey, type JobContext } from '@parley/queue';
import { startGoogleSandbox, type GoogleSandbox } from '@parley/sandbox/google';
import { startGoogleGate, type GoogleGate } from '../e2e/google-gate';
import { waitFor } from '../support/wait';
import { createEngineHarness, MAILBOX, seedNegotiation, type EngineHarness } from './engine-harness';

jest.setTimeout(60_000);

const HISTORY_LIST = { method: 'GET', path: /^\/gmail\/v1\/users\/[^/]+\/history$/ };

/**
 * The mailbox sync with other work interleaved at chosen points. The lock when a sync's job is
 * lost (its host cut off or frozen past the job lock, the job running again elsewhere): Gmail is
 * reached through a gate that holds a history answer, so a sync is inside Gmail's call, holding
 * the lock, exactly when the test acts; the handler runs with the context the runtime gives it
 * (the job from Redis, an abort signal the test fires where the runtime would on
 * `lockRenewalFailed`). And a send recorded by another worker in the middle of a sync's reads.
 */
describe('mailbox sync under concurrency', () => {
  let h: EngineHarness;
  let google: GoogleSandbox;
  let gate: GoogleGate;
  let redis: Redis;
  let sync: ReturnType<typeof createMailboxSyncHandler>;
  /** Gmail through the gate (what the syncs use), and directly (the test's own sends). */
  let gmail: GmailClient;
  let direct: GmailClient;
  let key: string;

  beforeAll(async () => {
    h = await createEngineHarness('mailbox-lock');
    google = await startGoogleSandbox({ mailbox: MAILBOX });
    gate = await startGoogleGate(google.url);
    redis = createRedis(h.redisUrl, 'producer');
    gmail = createGmailClient({ auth: createGoogleAuth(google.env()), rootUrl: gate.url });
    direct = createGmailClient({ auth: createGoogleAuth(google.env()), rootUrl: google.url });
    sync = createMailboxSyncHandler({ ...h.deps, gmail, mailbox: MAILBOX, redis, prefix: h.prefix, lockTtlMs: 60_000 });
    key = mailboxLockKey(h.prefix, MAILBOX);
  });
  afterAll(async () => {
    await redis?.quit();
    await gate?.close();
    await google?.close();
    await h?.close();
  });

  const payload = (historyId: string) => ({ mailbox: MAILBOX, historyId, pubsubMessageId: `n-${historyId}` });

  /** The job in Redis (enqueued once per id; no worker takes it) and the context the runtime would build. */
  async function context(jobId: string, signal: AbortSignal): Promise<JobContext> {
    await enqueue(h.queues, 'gmail-notifications', payload('1'), { jobId });
    const job = await h.queues['gmail-notifications'].getJob(jobId);
    if (!job) throw new Error(`job ${jobId} not in Redis`);
    return { queue: 'gmail-notifications', jobId, attempt: 1, log: h.log, note: async () => undefined, job, signal };
  }

  /** What the API does for a notification before enqueuing it: raise the highest notified history id. */
  async function notified(historyId: string): Promise<void> {
    const row = await h.db.mailboxSync.findUnique({ where: { mailbox: MAILBOX } });
    const highest = row?.highestNotifiedHistoryId && BigInt(row.highestNotifiedHistoryId) > BigInt(historyId) ? row.highestNotifiedHistoryId : historyId;
    await h.db.mailboxSync.update({ where: { mailbox: MAILBOX }, data: { highestNotifiedHistoryId: highest } });
  }

  /** A negotiation whose opening went out through Gmail, with the cursor after it. */
  async function opened() {
    const n = await seedNegotiation(h.db);
    const messageIdHdr = `<${n.id}.open@brand.test>`;
    const raw = buildMime({ from: MAILBOX, to: n.influencerEmail, subject: 'Collab', body: 'Our offer is $2,000.00.', messageIdHdr });
    const sent = await direct.send(raw);
    await h.db.negotiation.update({ where: { id: n.id }, data: { gmailThreadId: sent.threadId, state: 'awaiting_reply', lastMessageIdHdr: messageIdHdr } });
    const cursor = google.currentHistoryId();
    await h.db.mailboxSync.upsert({ where: { mailbox: MAILBOX }, create: { mailbox: MAILBOX, historyCursor: cursor }, update: { historyCursor: cursor } });
    const reply = (text: string) => google.deliverInbound({ threadId: sent.threadId, from: `Someone <${n.influencerEmail}>`, subject: 'Re: Collab', text, inReplyTo: messageIdHdr });
    return { ...n, reply };
  }

  /** A sync of job `jobId` started and held inside Gmail's history call, with the signal the runtime would abort. */
  async function syncHeldInGmail(historyId: string, jobId: string) {
    const held = gate.hold(HISTORY_LIST);
    const lost = new AbortController();
    const run = sync(payload(historyId), await context(jobId, lost.signal));
    run.catch(() => undefined);
    await held.arrived;
    return { run, held, lost };
  }

  const recorded = async (negotiationId: string) => (await h.db.inboundMessage.findMany({ where: { negotiationId }, select: { gmailMessageId: true } })).map((m) => m.gmailMessageId).sort();

  it('reads the messages of a pass from Gmail several at a time: the next ones are asked for while one is still unanswered', async () => {
    const negotiations = [await opened(), await opened(), await opened()];
    const replies = negotiations.map((n, i) => n.reply(`Reply ${i}: that works for me, $2,000.00.`));
    const get = (id: string) => ({ method: 'GET', path: new RegExp(`^/gmail/v1/users/[^/]+/messages/${id}$`) });
    const first = gate.hold(get(replies[0]!.id));
    const last = gate.hold(get(replies[2]!.id));
    const latest = replies[2]!.historyId;
    await notified(latest);
    const run = sync(payload(latest), await context('fetch-ahead', new AbortController().signal));
    run.catch(() => undefined);
    // The third message is asked for while the first's answer is held: one at a time, its
    // request would never leave before the first is answered (and this would time out).
    await first.arrived;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      last.arrived,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the third message was not asked for while the first one\'s answer was held')), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
    last.release();
    first.release();
    await expect(run).resolves.toMatchObject({ outcome: 'synced' });
    for (const [i, n] of negotiations.entries()) expect(await recorded(n.id)).toEqual([replies[i]!.id]);
  });

  it('a run that lost its job gives the mailbox lock up at once, so the next notification syncs rather than counting itself covered', async () => {
    const n = await opened();
    const first = n.reply('First reply.');
    await notified(first.historyId);
    const { run: zombie, held, lost } = await syncHeldInGmail(first.historyId, 'lost-a');
    expect(await redis.get(key)).toMatch(/^job:lost-a:/);

    // Another worker runs the job now; this run hears so (the runtime aborts its signal).
    lost.abort('lock lost');
    await waitFor('the lost run to give the mailbox lock up', async () => (await redis.get(key)) === null, 10_000, 20);

    const second = n.reply('Second reply.');
    await notified(second.historyId);
    expect(await sync(payload(second.historyId), await context('next-a', new AbortController().signal))).toMatchObject({ outcome: 'synced' });
    expect(await recorded(n.id)).toEqual([first.id, second.id].sort());

    // The lost run, once Gmail answers it, stops before recording anything.
    held.release();
    await expect(zombie).rejects.toThrow(/no longer owns the job/);
    expect(await redis.get(key)).toBeNull();
  });

  it('a run that lost its job cannot renew or release the lock its job\'s new run took back; a notification meanwhile is left to the new run', async () => {
    const n = await opened();
    const reply = n.reply('A reply.');
    await notified(reply.historyId);
    const { run: old, held: heldOld, lost } = await syncHeldInGmail(reply.historyId, 'rerun-b');

    // The job runs again elsewhere (same id) while the first run is still inside Gmail's call.
    const heldNew = gate.hold(HISTORY_LIST);
    const rerun = sync(payload(reply.historyId), await context('rerun-b', new AbortController().signal));
    await heldNew.arrived;
    const token = await redis.get(key);
    expect(token).toMatch(/^job:rerun-b:/);
    expect(h.logs.some((l) => l.includes('mailbox lock taken back from an earlier run of this job') && l.includes('rerun-b'))).toBe(true);

    // The first run learns it lost the job, and Gmail answers it: it stops, and the new run's lock stays.
    lost.abort('lock lost');
    heldOld.release();
    await expect(old).rejects.toThrow(/no longer owns the job/);
    expect(await redis.get(key)).toBe(token);
    expect(await sync(payload(reply.historyId), await context('other-b', new AbortController().signal))).toMatchObject({ outcome: 'covered by the running sync' });

    heldNew.release();
    await expect(rerun).resolves.toMatchObject({ outcome: 'synced' });
    expect(await recorded(n.id)).toEqual([reply.id]);
    expect(await redis.get(key)).toBeNull();
  });

  it.each(['history', 'full resync'] as const)('reads a reply whose send another worker records between the sync\'s reads of the threads and of the unrecorded sends (%s)', async (path) => {
    // Gmail accepted the opening, but its worker died before recording it: the row is pending
    // and the negotiation has no thread yet. The influencer answers at once.
    const n = await seedNegotiation(h.db);
    const messageIdHdr = `<${n.id}.open@brand.test>`;
    const row = await h.db.outboxEmail.create({ data: { negotiationId: n.id, kind: 'opening', messageIdHdr, toAddress: n.influencerEmail, subject: 'Collab', body: 'Our offer is $2,000.00.' } });
    await h.db.negotiation.update({ where: { id: n.id }, data: { gmailThreadId: null, state: 'outreach_sent' } });
    const sent = await direct.send(buildMime({ from: MAILBOX, to: n.influencerEmail, subject: 'Collab', body: 'Our offer is $2,000.00.', messageIdHdr }));
    const cursor = google.currentHistoryId();
    await h.db.mailboxSync.update({ where: { mailbox: MAILBOX }, data: { historyCursor: cursor } });
    const answer = google.deliverInbound({ threadId: sent.threadId, from: `Someone <${n.influencerEmail}>`, subject: 'Re: Collab', text: 'That works for me.', inReplyTo: messageIdHdr });
    await notified(answer.historyId);
    // Gmail keeps no history from before the reply: the stored cursor answers 404, so the sync reads threads.
    if (path === 'full resync') google.expireHistoryBefore(answer.historyId);

    // The send's job, run again on another worker, records the send just as the sync reads the
    // unrecorded sends (the first outbox read of the sync; its read of the threads came before).
    const recordSend = () =>
      withTx(h.db, async (tx) => {
        await tx.outboxEmail.update({ where: { id: row.id }, data: { status: 'sent', gmailMessageId: sent.id, gmailThreadId: sent.threadId, sentAt: new Date() } });
        await tx.negotiation.update({ where: { id: n.id }, data: { gmailThreadId: sent.threadId, version: { increment: 1 } } });
      });
    const db = beforeFirstOutboxRead(h.db, recordSend);
    const racing = createMailboxSyncHandler({ ...h.deps, db, gmail, mailbox: MAILBOX, redis, prefix: h.prefix });
    expect(await racing(payload(answer.historyId), await context(`race-${path.replace(' ', '-')}`, new AbortController().signal))).toMatchObject({ outcome: 'synced' });
    expect(db.fired()).toBe(true);

    expect(await h.db.inboundMessage.findUnique({ where: { gmailMessageId: answer.id }, select: { negotiationId: true } })).toEqual({ negotiationId: n.id });
    expect((await h.db.mailboxSync.findUniqueOrThrow({ where: { mailbox: MAILBOX } })).historyCursor).toBe(answer.historyId);
  });
});

/**
 * `db` whose first read of the outbox (a raw statement on the OutboxEmail table, outside a
 * transaction) runs `before` (another worker's transaction, on the same database) and then the
 * read itself: an interleaving at a chosen point, not a stand-in.
 */
function beforeFirstOutboxRead(db: Db, before: () => Promise<unknown>): Db & { fired: () => boolean } {
  let fired = false;
  const raw = sqlOf(db);
  const watched: SqlDb = {
    ...raw,
    async query<T extends object>(statement: string, ...args: SqlArg[]): Promise<T[]> {
      if (!fired && /FROM "OutboxEmail"/.test(statement)) {
        fired = true;
        await before();
      }
      return raw.query<T>(statement, ...args);
    },
  };
  const wrapper = new Proxy(db, {
    get(target, prop) {
      if (prop === 'fired') return () => fired;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as Db & { fired: () => boolean };
  aliasDatabase(wrapper, db, watched);
  return wrapper;
}
