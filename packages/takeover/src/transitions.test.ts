import { engineOfTx, withTx, type Db } from '@parley/db';
import { seedCampaign, seedNegotiation } from '../../../test/admin/seed';
import { createTestDatabase } from '../../../test/support/db';
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

  it('writes nothing when another step changed the negotiation first', async () => {
    const campaignId = await seedCampaign(t.db);
    const id = await seedNegotiation(t.db, campaignId, { influencerName: 'Late', state: 'awaiting_reply' });
    const stale = { negotiation: { id, state: 'awaiting_reply', version: 7 }, events: ['reply_received' as const], actor: 'agent', at: new Date() };
    await expect(withTx(t.db, (tx) => applyTransitions(tx, stale))).rejects.toBeInstanceOf(VersionConflictError);
    expect(await trail(t.db, id)).toEqual({ transitions: [], audit: [] });
  });
});
