import { sqlOf } from '@parley/db';
import { jobIds } from '@parley/queue';
import { createTestDatabase } from '../../../test/support/db';
import { createIngestWrites, INGEST_INSERT_ROWS, ingestBatchWriter, type IngestWrite } from './ingest.service';

const sync = (messageId: string, historyId: string, mailbox = 'deals@brand.example'): IngestWrite => ({
  deliveries: [{ queue: 'gmail-notifications', jobId: jobIds.mailboxSync(messageId), data: { mailbox, historyId, pubsubMessageId: messageId } }],
  highestNotified: { mailbox, historyId },
});
const ingest = (...items: string[]): IngestWrite => ({
  deliveries: items.map((historyItemId) => {
    const data = { webhookId: 'wh', taskId: 'task', event: 'taskStatusUpdated', historyItemId };
    return { queue: 'campaign-tasks' as const, jobId: jobIds.campaignIngest(data), data };
  }),
});

/** The ingress's batch write, on a real database. */
describe('ingestBatchWriter', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  /** One batch in one raw write transaction, as the group commit writes it. */
  const writeIngestBatch = (writes: IngestWrite[], now?: () => Date) => sqlOf(t.db).transaction((tx) => ingestBatchWriter(now)(tx, writes));
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('writes each delivery once and counts, per webhook, those recorded before or earlier in the batch', async () => {
    await writeIngestBatch([ingest('old')]);
    const seen = await writeIngestBatch([ingest('a', 'old'), ingest('b', 'b'), ingest('a'), ingest('c')]);
    expect(seen).toEqual([1, 1, 1, 0]);
    const rows = await t.db.webhookDelivery.findMany({ select: { id: true, queue: true, jobName: true, payload: true } });
    expect(rows.map((r) => r.id).sort()).toEqual(['old', 'a', 'b', 'c'].map((h) => jobIds.campaignIngest({ webhookId: 'wh', taskId: 'task', historyItemId: h })).sort());
    expect(rows.find((r) => r.id.endsWith('.c'))).toMatchObject({ queue: 'campaign-tasks', jobName: 'campaign-ingest', payload: { webhookId: 'wh', taskId: 'task', event: 'taskStatusUpdated', historyItemId: 'c' } });
  });

  it('writes rows Prisma reads as its own: the date compares with dates Prisma wrote, to the millisecond, and the payload is JSON', async () => {
    // The delivery sweep finds rows by a receivedAt range; on SQLite that is a comparison of
    // text, so a row in another date format would fall outside a range it belongs to.
    const at = new Date('2026-03-04T05:06:07.089Z');
    await t.db.webhookDelivery.create({ data: { id: 'by-prisma', queue: 'campaign-tasks', jobName: 'campaign-ingest', payload: { p: 1 }, receivedAt: new Date(at.getTime() - 1) } });
    await writeIngestBatch([ingest('raw')], () => at);
    const id = jobIds.campaignIngest({ webhookId: 'wh', taskId: 'task', historyItemId: 'raw' });
    const ids = async (receivedAt: Record<string, Date>) => (await t.db.webhookDelivery.findMany({ where: { receivedAt }, select: { id: true }, orderBy: { receivedAt: 'asc' } })).map((r) => r.id);
    expect(await ids({ gte: at, lte: at })).toEqual([id]);
    expect(await ids({ lt: at })).toEqual(['by-prisma']);
    expect(await ids({ gt: at })).toEqual([]);
    expect(await ids({ gte: new Date(at.getTime() - 1) })).toEqual(['by-prisma', id]);
    const row = await t.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
    expect(row).toEqual({ id, queue: 'campaign-tasks', jobName: 'campaign-ingest', payload: { webhookId: 'wh', taskId: 'task', event: 'taskStatusUpdated', historyItemId: 'raw' }, receivedAt: at });
  });

  it('writes a batch larger than one insert statement takes, skipping the rows recorded before', async () => {
    const many = Array.from({ length: INGEST_INSERT_ROWS * 2 + 7 }, (_, i) => `item-${i}`);
    await writeIngestBatch([ingest(...many.filter((_, i) => i % 3 === 0))]);
    const seen = await writeIngestBatch([ingest(...many), ingest(...many.slice(0, 10))]);
    expect(seen).toEqual([Math.ceil(many.length / 3), 10]);
    expect(await t.db.webhookDelivery.count()).toBe(many.length);
  });

  it("raises each mailbox's highest notified history id to the batch's maximum, never lowering it", async () => {
    await writeIngestBatch([sync('m0', '100')]);
    await writeIngestBatch([sync('m1', '90'), sync('m2', '150'), sync('m3', '120'), sync('m4', '7', 'other@brand.example'), sync('m5', '20', 'other@brand.example')]);
    const rows = await t.db.mailboxSync.findMany({ select: { mailbox: true, highestNotifiedHistoryId: true }, orderBy: { mailbox: 'asc' } });
    expect(rows).toEqual([
      { mailbox: 'deals@brand.example', highestNotifiedHistoryId: '150' },
      { mailbox: 'other@brand.example', highestNotifiedHistoryId: '20' },
    ]);
    await writeIngestBatch([sync('m6', '99')]);
    expect((await t.db.mailboxSync.findUnique({ where: { mailbox: 'deals@brand.example' } }))?.highestNotifiedHistoryId).toBe('150');
  });

  it('writes mailbox rows Prisma reads as its own: updatedAt as @updatedAt sets it, the other columns untouched', async () => {
    const created = new Date('2026-03-04T05:06:07.089Z');
    const raised = new Date('2026-03-04T05:06:08.001Z');
    await writeIngestBatch([sync('m0', '100')], () => created);
    expect(await t.db.mailboxSync.findUnique({ where: { mailbox: 'deals@brand.example' } })).toEqual({
      mailbox: 'deals@brand.example',
      historyCursor: null,
      highestNotifiedHistoryId: '100',
      watchExpiration: null,
      lastSyncAt: null,
      updatedAt: created,
    });
    await t.db.mailboxSync.update({ where: { mailbox: 'deals@brand.example' }, data: { historyCursor: '90', lastSyncAt: created } });
    await writeIngestBatch([sync('m1', '101')], () => raised);
    expect(await t.db.mailboxSync.findUnique({ where: { mailbox: 'deals@brand.example' } })).toMatchObject({ historyCursor: '90', highestNotifiedHistoryId: '101', lastSyncAt: created, updatedAt: raised });
    // Not raised: the row is not written at all.
    await writeIngestBatch([sync('m2', '7')], () => new Date(raised.getTime() + 1000));
    expect((await t.db.mailboxSync.findUnique({ where: { mailbox: 'deals@brand.example' } }))?.updatedAt).toEqual(raised);
  });

  it('refuses a delivery whose payload breaks its queue contract before writing anything', async () => {
    const bad: IngestWrite = { deliveries: [{ queue: 'campaign-tasks', jobId: 'x', data: { webhookId: '', taskId: 't', event: 'e', historyItemId: 'h' } }] };
    await expect(writeIngestBatch([ingest('fine'), bad])).rejects.toThrow();
    expect(await t.db.webhookDelivery.count()).toBe(0);
  });

  it('through the group commit, a bad webhook fails alone and the others of its batch are written', async () => {
    const writes = createIngestWrites(t.db);
    const bad: IngestWrite = { deliveries: [{ queue: 'campaign-tasks', jobId: 'x', data: { webhookId: '', taskId: 't', event: 'e', historyItemId: 'h' } }] };
    const settled = await Promise.allSettled([writes.run(ingest('p')), writes.run(bad), writes.run(ingest('q'))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await t.db.webhookDelivery.count()).toBe(2);
    expect(writes.stats()).toMatchObject({ isolatedRetries: 1 });
  });
});
