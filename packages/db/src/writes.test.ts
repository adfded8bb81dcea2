import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '../../../test/support/db';
import { sqlOf } from './client';
import { findMailboxSync, findSlackMessage, negotiationsOfThreads, pendingSendsWithoutThread, recordedInboundIds } from './reads';
import { createSlackMessageOnce, insertAuditEntries, insertAuditEntry, insertInboundMessage, insertNegotiations, recordMailboxCursor, type InboundRow } from './writes';

/**
 * The mailbox sync's raw writes and reads against the Prisma calls they replace (SQLite file,
 * or PostgreSQL with TEST_DATABASE=postgres): the same rows, read back through Prisma.
 */
describe("the mailbox sync's raw SQL", () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    t = await createTestDatabase('writes');
  });
  afterEach(async () => {
    await t.cleanup();
  });

  async function negotiation(email: string, gmailThreadId: string | null) {
    const campaign = await t.db.campaign.upsert({ where: { clickupTaskId: 'task-w' }, create: { clickupTaskId: 'task-w', name: 'W', cpmFloorMinor: 1000, cpmCeilingMinor: 2000, rosterSheetId: 's' }, update: {} });
    return t.db.negotiation.create({ data: { campaignId: campaign.id, influencerName: email, influencerEmail: email, platform: 'youtube', averageViews: 1000, deliverables: 'x', gmailThreadId } });
  }

  it('inserts an inbound message and an audit entry as Prisma creates them', async () => {
    const n = await negotiation('ada@example.test', 'thread-1');
    const row = (gmailMessageId: string, extra: Partial<InboundRow> = {}): InboundRow => ({
      gmailMessageId,
      negotiationId: n.id,
      gmailThreadId: 'thread-1',
      messageIdHdr: '<m@example.test>',
      fromDomain: 'example.test',
      subject: 'Re: hi ünï',
      text: 'line "one"\nline two',
      receivedAt: new Date('2026-11-30T10:00:00.123Z'),
      problem: 'foreign_sender',
      ...extra,
    });
    const nulls = { messageIdHdr: null, fromDomain: null, subject: null, problem: null };
    const before = Date.now();
    const rawId = await sqlOf(t.db).transaction((tx) => insertInboundMessage(tx, row('raw')));
    await sqlOf(t.db).transaction((tx) => insertInboundMessage(tx, row('raw-nulls', nulls)));
    await t.db.inboundMessage.create({ data: row('prisma') });
    await t.db.inboundMessage.create({ data: row('prisma-nulls', nulls) });
    const read = async (gmailMessageId: string) => {
      const { id, gmailMessageId: _g, createdAt, ...rest } = await t.db.inboundMessage.findUniqueOrThrow({ where: { gmailMessageId } });
      expect(createdAt).toBeInstanceOf(Date);
      expect(createdAt.getTime()).toBeGreaterThanOrEqual(before);
      return { id, rest };
    };
    expect((await read('raw')).rest).toEqual((await read('prisma')).rest);
    expect((await read('raw-nulls')).rest).toEqual((await read('prisma-nulls')).rest);
    expect((await read('raw')).id).toBe(rawId);
    // The same message twice is refused, as Prisma refuses it.
    await expect(sqlOf(t.db).transaction((tx) => insertInboundMessage(tx, row('raw')))).rejects.toThrow(/unique|UniqueConstraint/i);

    const details = { gmailMessageId: 'raw', problem: 'foreign_sender', fromDomain: null, nested: { list: [1, 'two'] } };
    await sqlOf(t.db).transaction((tx) => insertAuditEntry(tx, { negotiationId: n.id, actor: 'agent', action: 'raw', details }));
    await t.db.auditEntry.create({ data: { negotiationId: n.id, actor: 'agent', action: 'prisma', details } });
    await sqlOf(t.db).transaction((tx) => insertAuditEntry(tx, { negotiationId: null, actor: 'system', action: 'raw-bare' }));
    await t.db.auditEntry.create({ data: { actor: 'system', action: 'prisma-bare' } });
    const audit = async (action: string) => {
      const { id: _id, action: _a, at, ...rest } = await t.db.auditEntry.findFirstOrThrow({ where: { action } });
      expect(at.getTime()).toBeGreaterThanOrEqual(before);
      return rest;
    };
    expect(await audit('raw')).toEqual(await audit('prisma'));
    expect(await audit('raw')).toMatchObject({ details });
    expect(await audit('raw-bare')).toEqual(await audit('prisma-bare'));
    expect(await audit('raw-bare')).toMatchObject({ details: null, negotiationId: null });
  });

  it("inserts a roster's negotiations and their audit entries as createMany does", async () => {
    const campaign = await t.db.campaign.create({ data: { clickupTaskId: 'task-roster', name: 'R', currency: 'EUR', cpmFloorMinor: 1000, cpmCeilingMinor: 2000, rosterSheetId: 's' } });
    const row = (email: string) => ({ id: randomUUID(), campaignId: campaign.id, influencerName: `Ïnfluencer "${email}"`, influencerEmail: email, platform: 'youtube', averageViews: 123_456, deliverables: '1 video\n2 stories', currency: 'EUR' });
    const raw = [row('a@raw.test'), row('b@raw.test'), row('c@raw.test')];
    const prisma = [row('a@prisma.test'), row('b@prisma.test'), row('c@prisma.test')];
    const before = Date.now();
    await sqlOf(t.db).transaction(async (tx) => {
      await insertNegotiations(tx, raw);
      await insertAuditEntries(tx, [
        ...raw.map((n, i) => ({ negotiationId: n.id, campaignId: campaign.id, actor: 'agent', action: 'raw', details: { sheetRow: i + 2 } })),
        { negotiationId: null, campaignId: campaign.id, actor: 'agent', action: 'raw-bare' },
      ]);
      await insertNegotiations(tx, []);
      await insertAuditEntries(tx, []);
    });
    await t.db.negotiation.createMany({ data: prisma });
    await t.db.auditEntry.createMany({
      data: [
        ...prisma.map((n, i) => ({ negotiationId: n.id, campaignId: campaign.id, actor: 'agent', action: 'prisma', details: { sheetRow: i + 2 } })),
        { negotiationId: null, campaignId: campaign.id, actor: 'agent', action: 'prisma-bare' },
      ],
    });
    const negotiation = async (id: string) => {
      const { id: _id, influencerEmail: _e, influencerName: _n, createdAt, updatedAt, ...rest } = await t.db.negotiation.findUniqueOrThrow({ where: { id } });
      expect(createdAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(updatedAt.getTime()).toBe(createdAt.getTime());
      return rest;
    };
    for (const [i, n] of raw.entries()) {
      expect(await negotiation(n.id)).toEqual(await negotiation(prisma[i]!.id));
      expect(await t.db.negotiation.findUniqueOrThrow({ where: { id: n.id } })).toMatchObject({ influencerName: n.influencerName, influencerEmail: n.influencerEmail, state: 'new', round: 0, version: 0, currency: 'EUR' });
    }
    const audits = async (action: string) =>
      (await t.db.auditEntry.findMany({ where: { action }, orderBy: { details: 'asc' } })).map(({ id: _id, action: _a, negotiationId, at, ...rest }) => {
        expect(at.getTime()).toBeGreaterThanOrEqual(before);
        return { ...rest, negotiation: negotiationId === null ? null : raw.concat(prisma).findIndex((n) => n.id === negotiationId) % 3 };
      });
    expect(await audits('raw')).toEqual(await audits('prisma'));
    expect(await audits('raw')).toHaveLength(3);
    expect(await audits('raw-bare')).toEqual(await audits('prisma-bare'));
    // The same influencer twice in a campaign is refused, as Prisma refuses it.
    await expect(sqlOf(t.db).transaction((tx) => insertNegotiations(tx, [{ ...row('a@raw.test') }]))).rejects.toThrow(/unique|UniqueConstraint/i);
  });

  it("writes an alert's row as Prisma creates it, and keeps the first row of an alert", async () => {
    const sql = sqlOf(t.db);
    const data = (alertId: string, extra: Partial<Parameters<typeof createSlackMessageOnce>[1]> = {}) => ({ alertId, kind: 'escalation', channel: 'C1', threadTs: '1796157728.269000', negotiationId: 'n-1', deadLetterId: null, action: null, ...extra });
    const before = Date.now();
    const raw = await sql.transaction((tx) => createSlackMessageOnce(tx, data('raw')));
    const prisma = await t.db.slackMessage.create({ data: data('prisma') });
    const strip = ({ alertId: _a, createdAt, ...rest }: typeof raw) => {
      expect(createdAt.getTime()).toBeGreaterThanOrEqual(before);
      return rest;
    };
    expect(strip(raw)).toEqual(strip(prisma));
    expect(await findSlackMessage(sql, 'raw')).toEqual(raw);
    expect(await findSlackMessage(sql, 'prisma')).toEqual(await t.db.slackMessage.findUnique({ where: { alertId: 'prisma' } }));
    expect(await findSlackMessage(sql, 'none')).toBeNull();
    // A second run of the same alert gets the first row back, unchanged.
    await t.db.slackMessage.update({ where: { alertId: 'raw' }, data: { ts: '1796157729.000100', postedAt: new Date() } });
    const again = await sql.transaction((tx) => createSlackMessageOnce(tx, data('raw', { channel: 'D-elsewhere', action: 'folded', threadTs: null })));
    expect(again).toEqual(await t.db.slackMessage.findUnique({ where: { alertId: 'raw' } }));
    expect(again).toMatchObject({ channel: 'C1', ts: '1796157729.000100', action: null });
  });

  it('records the cursor as the upsert did: created on first sight, the other columns kept after', async () => {
    const sql = sqlOf(t.db);
    const first = new Date('2026-11-30T10:00:00.000Z');
    const before = Date.now();
    await sql.transaction((tx) => recordMailboxCursor(tx, 'deals@brand.test', '100', first));
    await t.db.mailboxSync.upsert({ where: { mailbox: 'prisma@brand.test' }, create: { mailbox: 'prisma@brand.test', historyCursor: '100', lastSyncAt: first }, update: { historyCursor: '100', lastSyncAt: first } });
    const strip = (row: Awaited<ReturnType<typeof findMailboxSync>>) => {
      const { mailbox: _m, updatedAt, ...rest } = row ?? { mailbox: '', updatedAt: new Date(0) };
      expect(updatedAt.getTime()).toBeGreaterThanOrEqual(before);
      return rest;
    };
    expect(strip(await findMailboxSync(sql, 'deals@brand.test'))).toEqual(strip(await t.db.mailboxSync.findUnique({ where: { mailbox: 'prisma@brand.test' } })));
    expect(await findMailboxSync(sql, 'deals@brand.test')).toEqual(await t.db.mailboxSync.findUnique({ where: { mailbox: 'deals@brand.test' } }));

    await t.db.mailboxSync.update({ where: { mailbox: 'deals@brand.test' }, data: { highestNotifiedHistoryId: '250', watchExpiration: first } });
    const second = new Date('2026-11-30T11:00:00.000Z');
    await sql.transaction((tx) => recordMailboxCursor(tx, 'deals@brand.test', '200', second));
    expect(await findMailboxSync(sql, 'deals@brand.test')).toMatchObject({ historyCursor: '200', lastSyncAt: second, highestNotifiedHistoryId: '250', watchExpiration: first });
    expect(await findMailboxSync(sql, 'nobody@brand.test')).toBeNull();
  });

  it('finds threads, recorded messages and unrecorded sends as the Prisma queries did', async () => {
    const a = await negotiation('a@example.test', 'thread-a');
    const b = await negotiation('b@example.test', null);
    await negotiation('c@example.test', 'thread-c');
    const sql = sqlOf(t.db);
    // More ids than one IN list holds, so the chunks are joined: one match in the first, one in the last.
    const many = ['thread-c', ...Array.from({ length: 1200 }, (_, i) => `nothing-${i}`), 'thread-a', 'thread-a'];
    const byId = (rows: { id: string }[]) => [...rows].sort((x, y) => x.id.localeCompare(y.id));
    expect(byId(await negotiationsOfThreads(sql, many))).toEqual(byId(await t.db.negotiation.findMany({ where: { gmailThreadId: { in: many } }, select: { id: true, gmailThreadId: true, influencerEmail: true } })));
    expect((await negotiationsOfThreads(sql, many)).map((n) => n.gmailThreadId).sort()).toEqual(['thread-a', 'thread-c']);
    expect((await negotiationsOfThreads(sql, many)).find((n) => n.gmailThreadId === 'thread-a')).toEqual({ id: a.id, gmailThreadId: 'thread-a', influencerEmail: 'a@example.test' });
    expect(await negotiationsOfThreads(sql, [])).toEqual([]);

    await t.db.inboundMessage.create({ data: { gmailMessageId: 'g-1', negotiationId: a.id, gmailThreadId: 'thread-a', text: 'x', receivedAt: new Date() } });
    expect([...(await recordedInboundIds(sql, ['g-0', 'g-1', ...many]))]).toEqual(['g-1']);

    const outbox = (id: string, negotiationId: string, status: string) => t.db.outboxEmail.create({ data: { id, negotiationId, kind: 'opening', messageIdHdr: `<${id}@brand.test>`, toAddress: 'x@example.test', subject: 's', body: 'b', status } });
    await outbox('b-pending', b.id, 'pending');
    await outbox('b-sent', b.id, 'sent');
    await outbox('a-pending', a.id, 'pending');
    const prisma = await t.db.outboxEmail.findMany({ where: { status: 'pending', negotiation: { gmailThreadId: null } }, select: { negotiationId: true, messageIdHdr: true, negotiation: { select: { influencerEmail: true } } } });
    expect(await pendingSendsWithoutThread(sql)).toEqual(prisma.map((r) => ({ negotiationId: r.negotiationId, messageIdHdr: r.messageIdHdr, influencerEmail: r.negotiation.influencerEmail })));
    expect(await pendingSendsWithoutThread(sql)).toEqual([{ negotiationId: b.id, messageIdHdr: '<b-pending@brand.test>', influencerEmail: 'b@example.test' }]);
  });
});
