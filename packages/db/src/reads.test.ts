import { createTestDatabase } from '../../../test/support/db';
import { placeholder, sqlOf } from './client';
import { findNegotiation, findNegotiationWithCampaign, findOutboxWithNegotiation, latestEscalation, negotiationState, stateWithPendingSends, threadSubject, unansweredInbound } from './reads';

/**
 * Each raw read against the Prisma call it replaces, on rows Prisma wrote (SQLite file, or
 * PostgreSQL with TEST_DATABASE=postgres): the same objects, Dates and nulls included.
 */
describe('raw reads answer as Prisma does', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    t = await createTestDatabase('reads');
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const at = (s: number) => new Date(Date.UTC(2026, 10, 30, 12, 0, s, 7 * s));

  /** One campaign, one negotiation with every optional column set and one with none. */
  async function seed() {
    const campaign = await t.db.campaign.create({ data: { clickupTaskId: 'task-1', name: 'Spring', currency: 'EUR', cpmFloorMinor: 1500, cpmCeilingMinor: 3000, maxRounds: 4, rosterSheetId: 'sheet', status: 'active' } });
    const full = await t.db.negotiation.create({
      data: {
        campaignId: campaign.id,
        influencerName: 'Ada',
        influencerEmail: 'ada@example.test',
        platform: 'youtube',
        averageViews: 120_000,
        deliverables: '1 video',
        currency: 'EUR',
        state: 'escalated',
        round: 2,
        currentOfferMinor: 250_000,
        lastAskMinor: 400_000,
        agreedRateMinor: 300_000,
        gmailThreadId: 'thread-1',
        lastMessageIdHdr: '<m1@example.test>',
        followUps: 1,
        lastOutboundAt: at(1),
        lastInboundAt: at(2),
        claimedBy: 'ops@parley.test',
        claimedAt: at(3),
        claimedBySlackId: 'U123',
        escalationReason: 'above ceiling',
        version: 7,
      },
    });
    const bare = await t.db.negotiation.create({ data: { campaignId: campaign.id, influencerName: 'Bo', influencerEmail: 'bo@example.test', platform: 'tiktok', averageViews: 5_000, deliverables: '2 posts' } });
    return { campaign, full, bare };
  }

  it('reads a negotiation with its campaign', async () => {
    const { full, bare } = await seed();
    for (const id of [full.id, bare.id]) {
      const prisma = await t.db.negotiation.findUnique({ where: { id }, include: { campaign: true } });
      expect(await findNegotiationWithCampaign(sqlOf(t.db), id)).toEqual(prisma);
      expect(await findNegotiation(sqlOf(t.db), id)).toEqual(await t.db.negotiation.findUnique({ where: { id } }));
    }
    const raw = await findNegotiationWithCampaign(sqlOf(t.db), full.id);
    // The types themselves, besides the values compared above.
    expect(raw?.lastInboundAt).toBeInstanceOf(Date);
    expect(raw?.campaign.createdAt).toBeInstanceOf(Date);
    expect(await findNegotiationWithCampaign(sqlOf(t.db), 'missing')).toBeNull();
    expect(await negotiationState(sqlOf(t.db), full.id)).toEqual({ state: 'escalated', escalationReason: 'above ceiling' });
    expect(await negotiationState(sqlOf(t.db), bare.id)).toEqual({ state: 'new', escalationReason: null });
    expect(await negotiationState(sqlOf(t.db), 'missing')).toBeNull();
  });

  it('reads an outbox row with its negotiation, the pending ids oldest first and the thread subject', async () => {
    const { full, bare } = await seed();
    const row = (id: string, createdAt: Date, status: string, extra: object = {}) =>
      t.db.outboxEmail.create({ data: { id, negotiationId: full.id, kind: 'counter', messageIdHdr: `<${id}@parley.test>`, toAddress: 'ada@example.test', subject: `Re: ${id}`, body: 'text', status, createdAt, ...extra } });
    await row('b-later', at(20), 'pending');
    await row('a-sent', at(10), 'sent', { inReplyTo: '<x@example.test>', references: '<w@example.test> <x@example.test>', gmailThreadId: 'thread-1', gmailMessageId: 'g-1', sentAt: at(11) });
    await row('c-first', at(5), 'cancelled');
    await row('d-pending', at(15), 'pending');
    for (const id of ['a-sent', 'b-later', 'c-first']) {
      expect(await findOutboxWithNegotiation(sqlOf(t.db), id)).toEqual(await t.db.outboxEmail.findUnique({ where: { id }, include: { negotiation: true } }));
    }
    expect((await findOutboxWithNegotiation(sqlOf(t.db), 'a-sent'))?.sentAt).toBeInstanceOf(Date);
    // The joined row's columns, selected under aliases, keep their types too.
    expect((await findOutboxWithNegotiation(sqlOf(t.db), 'a-sent'))?.negotiation.lastInboundAt).toBeInstanceOf(Date);
    expect(await findOutboxWithNegotiation(sqlOf(t.db), 'missing')).toBeNull();

    expect(await stateWithPendingSends(sqlOf(t.db), full.id)).toEqual({ state: 'escalated', escalationReason: 'above ceiling', pendingOutboxIds: ['d-pending', 'b-later'] });
    expect(await stateWithPendingSends(sqlOf(t.db), bare.id)).toEqual({ state: 'new', escalationReason: null, pendingOutboxIds: [] });
    expect(await stateWithPendingSends(sqlOf(t.db), 'missing')).toBeNull();
    const first = await t.db.outboxEmail.findFirst({ where: { negotiationId: full.id }, orderBy: { createdAt: 'asc' }, select: { subject: true } });
    expect(await threadSubject(sqlOf(t.db), full.id)).toBe(first?.subject);
    expect(await threadSubject(sqlOf(t.db), full.id)).toBe('Re: c-first');
    expect(await threadSubject(sqlOf(t.db), bare.id)).toBeNull();
  });

  it('reads the unanswered inbound messages in the order they arrived', async () => {
    const { full, bare } = await seed();
    const message = (id: string, receivedAt: Date, createdAt: Date, extra: object = {}) =>
      t.db.inboundMessage.create({ data: { gmailMessageId: id, negotiationId: full.id, gmailThreadId: 'thread-1', text: `text ${id}`, receivedAt, createdAt, ...extra } });
    await message('m-3', at(30), at(31));
    await message('m-1', at(10), at(40), { messageIdHdr: '<m-1@example.test>', fromDomain: 'example.test', subject: 'Re: hi', problem: 'foreign_sender' });
    // Received at the same instant as m-1 but stored earlier.
    await message('m-0', at(10), at(12));
    await message('m-done', at(5), at(6), { processedAt: at(7) });
    const prisma = await t.db.inboundMessage.findMany({ where: { negotiationId: full.id, processedAt: null }, orderBy: [{ receivedAt: 'asc' }, { createdAt: 'asc' }] });
    const raw = await unansweredInbound(sqlOf(t.db), full.id);
    expect(raw).toEqual(prisma);
    expect(raw.map((m) => m.gmailMessageId)).toEqual(['m-0', 'm-1', 'm-3']);
    expect(raw[0]?.receivedAt).toBeInstanceOf(Date);
    expect(await unansweredInbound(sqlOf(t.db), bare.id)).toEqual([]);
  });

  it('finds the latest escalation of a negotiation', async () => {
    const { full, bare } = await seed();
    const transition = (toState: string, s: number) => t.db.transition.create({ data: { negotiationId: full.id, fromState: 'replied', event: 'x', toState, at: at(s) } });
    await transition('escalated', 10);
    const latest = await transition('escalated', 30);
    await transition('human_managed', 40);
    await transition('escalated', 20);
    expect(await latestEscalation(sqlOf(t.db), full.id)).toEqual({ id: latest.id, at: at(30) });
    expect((await latestEscalation(sqlOf(t.db), full.id))?.at).toBeInstanceOf(Date);
    expect(await latestEscalation(sqlOf(t.db), bare.id)).toBeNull();
  });

  it('turns DateTime, Json and boolean columns into what Prisma returns', async () => {
    const entry = await t.db.auditEntry.create({ data: { actor: 'agent', action: 'x', details: { offerMinor: 100, nested: { list: [1, 'two', null] }, none: null }, at: at(9) } });
    const empty = await t.db.auditEntry.create({ data: { actor: 'agent', action: 'y', at: at(8) } });
    const sql = sqlOf(t.db);
    const $1 = placeholder(sql.engine, 1);
    for (const row of [entry, empty]) {
      const [raw] = await sql.query<{ details: unknown; at: unknown }>(`SELECT "details", "at" FROM "AuditEntry" WHERE "id" = ${$1}`, row.id);
      expect(raw).toEqual({ details: row.details, at: row.at });
      expect(raw?.at).toBeInstanceOf(Date);
    }
    // No model has a boolean column: a table of the test's own, in a transaction so PostgreSQL's
    // pool keeps it on one connection.
    const flags = await sql.transaction(async (tx) => {
      await tx.execute(`CREATE TEMPORARY TABLE "Flag" ("on" BOOLEAN)${sql.engine === 'postgres' ? ' ON COMMIT DROP' : ''}`);
      await tx.execute(`INSERT INTO "Flag" ("on") VALUES (${placeholder(sql.engine, 1)}), (${placeholder(sql.engine, 2)}), (NULL)`, true, false);
      const rows = await tx.query<{ on: unknown }>('SELECT "on" FROM "Flag"');
      if (sql.engine === 'sqlite') await tx.execute('DROP TABLE "Flag"');
      return rows.map((r) => r.on);
    });
    expect(flags).toEqual([true, false, null]);
  });
});
