import { withTx } from '@parley/db';
import { jobIds } from '@parley/queue';
import { createTestDatabase } from '../../../test/support/db';
import { createIngestWrites, writeIngestBatch, type IngestWrite } from './ingest.service';

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
describe('writeIngestBatch', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('writes each delivery once and counts, per webhook, those recorded before or earlier in the batch', async () => {
    await withTx(t.db, (tx) => writeIngestBatch(tx, [ingest('old')]));
    const seen = await withTx(t.db, (tx) => writeIngestBatch(tx, [ingest('a', 'old'), ingest('b', 'b'), ingest('a'), ingest('c')]));
    expect(seen).toEqual([1, 1, 1, 0]);
    const rows = await t.db.webhookDelivery.findMany({ select: { id: true, queue: true, jobName: true, payload: true } });
    expect(rows.map((r) => r.id).sort()).toEqual(['old', 'a', 'b', 'c'].map((h) => jobIds.campaignIngest({ webhookId: 'wh', taskId: 'task', historyItemId: h })).sort());
    expect(rows.find((r) => r.id.endsWith('.c'))).toMatchObject({ queue: 'campaign-tasks', jobName: 'campaign-ingest', payload: { webhookId: 'wh', taskId: 'task', event: 'taskStatusUpdated', historyItemId: 'c' } });
  });

  it("raises each mailbox's highest notified history id to the batch's maximum, never lowering it", async () => {
    await withTx(t.db, (tx) => writeIngestBatch(tx, [sync('m0', '100')]));
    await withTx(t.db, (tx) => writeIngestBatch(tx, [sync('m1', '90'), sync('m2', '150'), sync('m3', '120'), sync('m4', '7', 'other@brand.example'), sync('m5', '20', 'other@brand.example')]));
    const rows = await t.db.mailboxSync.findMany({ select: { mailbox: true, highestNotifiedHistoryId: true }, orderBy: { mailbox: 'asc' } });
    expect(rows).toEqual([
      { mailbox: 'deals@brand.example', highestNotifiedHistoryId: '150' },
      { mailbox: 'other@brand.example', highestNotifiedHistoryId: '20' },
    ]);
    await withTx(t.db, (tx) => writeIngestBatch(tx, [sync('m6', '99')]));
    expect((await t.db.mailboxSync.findUnique({ where: { mailbox: 'deals@brand.example' } }))?.highestNotifiedHistoryId).toBe('150');
  });

  it('refuses a delivery whose payload breaks its queue contract before writing anything', async () => {
    const bad: IngestWrite = { deliveries: [{ queue: 'campaign-tasks', jobId: 'x', data: { webhookId: '', taskId: 't', event: 'e', historyItemId: 'h' } }] };
    await expect(withTx(t.db, (tx) => writeIngestBatch(tx, [ingest('fine'), bad]))).rejects.toThrow();
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
