import { engineOfTx, sqlOf, withTx, type Db } from '@parley/db';
import { seedCampaign, seedNegotiation } from '../../../test/admin/seed';
import { createTestDatabase } from '../../../test/support/db';
import { messageIdFor, outboxId, writeOutbox, type OutboxDraft } from './outbox';
import { applyTransitions, VersionConflictError } from './transitions';

/**
 * applyTransitions writes the trail (transitions, audit entry) in raw SQL inside withTx and
 * through Prisma's client in any other transaction. Both must leave the same rows, read back by
 * Prisma as its own: the dates compare with dates Prisma wrote to the millisecond (the
 * timeline's and the escalation alert's range queries depend on it) and the details are JSON.
 * Runs on the engine TEST_DATABASE names (both in CI).
 */
describe('applyTransitions', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    t = await createTestDatabase('transitions');
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const trail = async (db: Db, negotiationId: string) => ({
    transitions: (await db.transition.findMany({ where: { negotiationId }, orderBy: { at: 'asc' } })).map(({ id: _id, negotiationId: _n, ...rest }) => rest),
    audit: (await db.auditEntry.findMany({ where: { negotiationId }, orderBy: { at: 'asc' } })).map(({ id: _id, negotiationId: _n, ...rest }) => rest),
  });

  it('writes the same rows in raw SQL (withTx) as through Prisma, read back as Prisma wrote them', async () => {
    const campaignId = await seedCampaign(t.db);
    const raw = await seedNegotiation(t.db, campaignId, { influencerName: 'Raw', state: 'awaiting_reply' });
    const viaPrisma = await seedNegotiation(t.db, campaignId, { influencerName: 'Prisma', state: 'awaiting_reply' });
    const at = new Date('2026-05-06T07:08:09.123Z');
    const input = (id: string) => ({
      negotiation: { id, state: 'awaiting_reply', version: 0 },
      events: ['reply_received', 'counter_queued'] as const,
      data: { round: 1, currentOfferMinor: 120_000 },
      details: { intent: 'counter', askedMinor: 150_000, askedCurrency: 'USD', messages: ['m-1', 'm-2'], note: 'quote " and \\ and ünïcödé' },
      actor: 'agent',
      at,
    });

    let rawEngine: string | undefined;
    const rawState = await withTx(t.db, (tx) => {
      rawEngine = engineOfTx(tx);
      return applyTransitions(tx, { ...input(raw), events: [...input(raw).events] });
    });
    // Not through withTx: Prisma's own inserts.
    const prismaState = await t.db.$transaction((tx) => {
      expect(engineOfTx(tx)).toBeUndefined();
      return applyTransitions(tx, { ...input(viaPrisma), events: [...input(viaPrisma).events] });
    });
    expect(rawEngine).toBe(process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite');
    expect(rawState).toBe('counter_sent');
    expect(prismaState).toBe('counter_sent');

    const written = await trail(t.db, raw);
    expect(written).toEqual(await trail(t.db, viaPrisma));
    expect(written.transitions).toEqual([
      { fromState: 'awaiting_reply', event: 'reply_received', toState: 'counter_received', details: input(raw).details, at },
      { fromState: 'counter_received', event: 'counter_queued', toState: 'counter_sent', details: input(raw).details, at: new Date(at.getTime() + 1) },
    ]);
    expect(written.audit).toEqual([
      { campaignId: null, actor: 'agent', action: 'reply_received+counter_queued', details: { from: 'awaiting_reply', to: 'counter_sent', ...input(raw).details }, at },
    ]);

    // Range queries on the dates see the raw rows exactly where Prisma's are (on SQLite they
    // compare text: a date bound in another format, such as an ISO string, falls outside).
    const inRange = async (where: { gte?: Date; lte?: Date; lt?: Date }) =>
      (await t.db.transition.findMany({ where: { at: where }, select: { negotiationId: true }, orderBy: { negotiationId: 'asc' } })).map((r) => (r.negotiationId === raw ? 'raw' : 'prisma')).sort();
    const next = new Date(at.getTime() + 1);
    expect(await inRange({ gte: at, lte: at })).toEqual(['prisma', 'raw']);
    expect(await inRange({ gte: next, lte: next })).toEqual(['prisma', 'raw']);
    expect(await inRange({ lt: at })).toEqual([]);
    expect(await t.db.auditEntry.count({ where: { at: { gte: at, lte: at } } })).toBe(2);
    const row = await t.db.negotiation.findUniqueOrThrow({ where: { id: raw } });
    expect(row).toMatchObject({ state: 'counter_sent', version: 1, round: 1, currentOfferMinor: 120_000 });
  });

  it('changes the negotiation in a raw transaction exactly as through Prisma', async () => {
    const campaignId = await seedCampaign(t.db);
    const claimed = { claimedBy: 'ops@parley.test', claimedAt: new Date('2026-01-01T00:00:00.000Z'), claimedBySlackId: 'U1', lastOutboundAt: new Date('2026-05-01T00:00:00.000Z') };
    const raw = await seedNegotiation(t.db, campaignId, { influencerName: 'Raw', state: 'awaiting_reply', version: 3, ...claimed });
    const viaPrisma = await seedNegotiation(t.db, campaignId, { influencerName: 'Prisma', state: 'awaiting_reply', version: 3, ...claimed });
    const at = new Date('2026-05-06T07:08:09.123Z');
    // Every kind of change a step makes: numbers, a Date, a string, and columns set to null.
    const input = (id: string) => ({
      negotiation: { id, state: 'awaiting_reply', version: 3 },
      events: ['reply_received' as const, 'accepted' as const],
      data: { lastAskMinor: 90_000, agreedRateMinor: 90_000, currentOfferMinor: 90_000, lastInboundAt: new Date('2026-05-06T07:00:00.999Z'), lastMessageIdHdr: '<m@x.test>', claimedBy: null, claimedAt: null, claimedBySlackId: null },
      details: { intent: 'accept', messages: ['m-1'] },
      actor: 'agent',
      at,
    });
    const before = Date.now();
    let rawWasSql = false;
    expect(
      await sqlOf(t.db).transaction((tx) => {
        rawWasSql = engineOfTx(tx as never) === undefined;
        return applyTransitions(tx, input(raw));
      }),
    ).toBe('agreed');
    expect(rawWasSql).toBe(true);
    expect(await t.db.$transaction((tx) => applyTransitions(tx, input(viaPrisma)))).toBe('agreed');

    const row = async (id: string) => {
      const { id: _id, influencerName: _name, influencerEmail: _email, createdAt: _created, updatedAt, ...rest } = await t.db.negotiation.findUniqueOrThrow({ where: { id } });
      return { rest, updatedAt };
    };
    const written = await row(raw);
    expect(written.rest).toEqual((await row(viaPrisma)).rest);
    expect(written.rest).toMatchObject({ state: 'agreed', version: 4, agreedRateMinor: 90_000, lastInboundAt: new Date('2026-05-06T07:00:00.999Z'), claimedBy: null, claimedAt: null });
    // @updatedAt: the clock's time when written, as Prisma sets it.
    expect(written.updatedAt).toBeInstanceOf(Date);
    expect(written.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(written.updatedAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await trail(t.db, raw)).toEqual(await trail(t.db, viaPrisma));

    // A stale version changes nothing, and a column the list does not know is refused.
    const stale = sqlOf(t.db).transaction((tx) => applyTransitions(tx, { ...input(raw), negotiation: { id: raw, state: 'agreed', version: 3 }, events: [] }));
    await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
    const unknown = sqlOf(t.db).transaction((tx) => applyTransitions(tx, { ...input(raw), negotiation: { id: raw, state: 'agreed', version: 4 }, events: [], data: { version: 99 } as never }));
    await expect(unknown).rejects.toThrow('a transition cannot change version');
    expect((await row(raw)).rest).toEqual(written.rest);
  });

  it('writes the same outbox row in a raw transaction as through Prisma, and refuses a second one for the step', async () => {
    const campaignId = await seedCampaign(t.db);
    const id = await seedNegotiation(t.db, campaignId, { influencerName: 'Outbox' });
    const draft = (key: string, extra: Partial<OutboxDraft> = {}): OutboxDraft => ({
      negotiationId: id,
      key,
      kind: 'counter',
      toAddress: 'ada@example.test',
      subject: 'Re: Spring',
      body: 'line one\nline "two" ünï',
      inReplyTo: '<in@example.test>',
      references: '<a@example.test> <in@example.test>',
      gmailThreadId: 'thread-9',
      ...extra,
    });
    const before = Date.now();
    await sqlOf(t.db).transaction((tx) => writeOutbox(tx, draft('raw'), 'deals@brand.test'));
    await t.db.$transaction((tx) => writeOutbox(tx, draft('prisma'), 'deals@brand.test'));
    await sqlOf(t.db).transaction((tx) => writeOutbox(tx, draft('raw-nulls', { inReplyTo: null, references: null, gmailThreadId: null }), 'deals@brand.test'));
    await t.db.$transaction((tx) => writeOutbox(tx, draft('prisma-nulls', { inReplyTo: null, references: null, gmailThreadId: null }), 'deals@brand.test'));
    const read = async (key: string) => {
      const { id: rowId, messageIdHdr, createdAt, ...rest } = await t.db.outboxEmail.findUniqueOrThrow({ where: { id: outboxId(id, key) } });
      expect(rowId).toBe(outboxId(id, key));
      expect(messageIdHdr).toBe(messageIdFor(rowId, 'deals@brand.test'));
      expect(createdAt).toBeInstanceOf(Date);
      expect(createdAt.getTime()).toBeGreaterThanOrEqual(before);
      return rest;
    };
    expect(await read('raw')).toEqual(await read('prisma'));
    expect(await read('raw')).toMatchObject({ status: 'pending', gmailMessageId: null, sentAt: null, gmailThreadId: 'thread-9' });
    expect(await read('raw-nulls')).toEqual(await read('prisma-nulls'));
    await expect(sqlOf(t.db).transaction((tx) => writeOutbox(tx, draft('raw'), 'deals@brand.test'))).rejects.toThrow(/unique|UniqueConstraint/i);
    expect(await t.db.outboxEmail.count({ where: { negotiationId: id } })).toBe(4);
  });

  it('writes nothing when another step changed the negotiation first', async () => {
    const campaignId = await seedCampaign(t.db);
    const id = await seedNegotiation(t.db, campaignId, { influencerName: 'Late', state: 'awaiting_reply' });
    const stale = { negotiation: { id, state: 'awaiting_reply', version: 7 }, events: ['reply_received' as const], actor: 'agent', at: new Date() };
    await expect(withTx(t.db, (tx) => applyTransitions(tx, stale))).rejects.toBeInstanceOf(VersionConflictError);
    expect(await trail(t.db, id)).toEqual({ transitions: [], audit: [] });
  });
});
