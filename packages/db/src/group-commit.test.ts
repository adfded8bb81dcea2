import { createTestDatabase } from '../../../test/support/db';
import { withTx, type Tx } from './client';
import { createGroupCommit } from './group-commit';

type Work = (tx: Tx) => Promise<unknown>;
/** Items that are pieces of work, run one after the other in the shared transaction. */
const runWorks = async (tx: Tx, works: Work[]) => {
  const out: unknown[] = [];
  for (const work of works) out.push(await work(tx));
  return out;
};

/** Real database (SQLite file, or PostgreSQL with TEST_DATABASE=postgres): the group commit's contract. */
describe('group commit', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const entry = (action: string) => ({ actor: 'system', action });
  const prismaTx = () => <T>(fn: (tx: Tx) => Promise<T>) => withTx(t.db, fn);

  it('runs work submitted together in fewer transactions, each caller getting its own result after the commit', async () => {
    const writes = createGroupCommit(prismaTx(), runWorks);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        writes.run(async (tx) => {
          const row = await tx.auditEntry.create({ data: entry(`a${i}`) });
          return row.action;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
    // Committed, and visible to anyone once the callers have their answers.
    expect(await t.db.auditEntry.count()).toBe(50);
    const { transactions, items, isolatedRetries } = writes.stats();
    expect(items).toBe(50);
    expect(isolatedRetries).toBe(0);
    // Submitted in one turn of the event loop: one transaction.
    expect(transactions).toBe(1);
  });

  it('caps a transaction at maxBatch items', async () => {
    const writes = createGroupCommit(prismaTx(), runWorks, 10);
    await Promise.all(Array.from({ length: 41 }, (_, i) => writes.run((tx) => tx.auditEntry.create({ data: entry(`b${i}`) }))));
    expect(writes.stats()).toEqual({ transactions: 5, items: 41, isolatedRetries: 0, waiting: 0, writing: 0 }); // 10+10+10+10+1
    expect(await t.db.auditEntry.count()).toBe(41);
  });

  it('fails only the piece that failed: the rest of its batch commits once, with no trace of the failed one', async () => {
    const writes = createGroupCommit(prismaTx(), runWorks);
    const runs = new Map<string, number>();
    const piece = (action: string, fail = false) =>
      writes.run(async (tx) => {
        runs.set(action, (runs.get(action) ?? 0) + 1);
        await tx.auditEntry.create({ data: entry(action) });
        if (fail) throw new Error(`bad piece ${action}`);
        return action;
      });
    await piece('first');
    const settled = await Promise.allSettled([piece('c1'), piece('c2', true), piece('c3'), piece('c4')]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(settled[1]).toMatchObject({ reason: new Error('bad piece c2') });
    const rows = await t.db.auditEntry.findMany({ select: { action: true } });
    expect(rows.map((r) => r.action).sort()).toEqual(['c1', 'c3', 'c4', 'first']);
    expect(writes.stats().isolatedRetries).toBe(1);
    // The batch ran once together (rolled back), then each piece alone.
    expect(runs.get('c1')).toBe(2);
    expect(runs.get('first')).toBe(1);
  });

  it('a piece that reads what an earlier piece of the same batch wrote sees it', async () => {
    const writes = createGroupCommit(prismaTx(), runWorks);
    const counts = await Promise.all([1, 2, 3].map(() => writes.run(async (tx) => {
      await tx.auditEntry.create({ data: entry('same') });
      return tx.auditEntry.count({ where: { action: 'same' } });
    })));
    expect(writes.stats().transactions).toBe(1);
    expect(counts).toEqual([1, 2, 3]);
  });

  it('keeps working after a failed transaction', async () => {
    const writes = createGroupCommit(prismaTx(), runWorks);
    await expect(writes.run(async () => Promise.reject(new Error('alone')))).rejects.toThrow('alone');
    await expect(writes.run((tx) => tx.auditEntry.create({ data: entry('after') }))).resolves.toMatchObject({ action: 'after' });
  });

  it('refuses a writer that does not answer one result per item, failing each caller and keeping none of its writes', async () => {
    const writes = createGroupCommit(prismaTx(), async (tx, items: number[]) => {
      for (const i of items) await tx.auditEntry.create({ data: entry(`lost-${i}`) });
      return items.slice(1);
    });
    const settled = await Promise.allSettled([writes.run(1), writes.run(2)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(settled[0]).toMatchObject({ reason: new Error('group commit: the writer answered 0 results for 1 items') });
    // Refused inside the transaction: nothing it wrote was kept.
    expect(await t.db.auditEntry.count()).toBe(0);
  });
});
