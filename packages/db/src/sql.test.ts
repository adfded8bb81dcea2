import Database from 'better-sqlite3';
import { Client } from 'pg';
import { createTestDatabase } from '../../../test/support/db';
import { testDatabaseEngine } from '../../../test/support/test-database';
import { placeholder, sqlitePath, sqlOf, withTx } from './client';
import { isBusy } from './sql';

/** Raw SQL beside Prisma on one connection (SQLite file, or PostgreSQL with TEST_DATABASE=postgres). */
describe('sqlOf', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    t = await createTestDatabase('sql');
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const insertEntry = (action: string) => {
    const sql = sqlOf(t.db);
    const $ = (n: number) => placeholder(sql.engine, n);
    return (tx: typeof sql | Parameters<Parameters<typeof sql.transaction>[0]>[0]) =>
      tx.execute(`INSERT INTO "AuditEntry" ("id", "actor", "action", "at") VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)})`, `id-${action}`, 'system', action, new Date('2026-01-02T03:04:05.678Z'));
  };

  it('commits a transaction with its answer, and rolls back every statement of one that throws', async () => {
    const sql = sqlOf(t.db);
    expect(await sql.transaction(async (tx) => (await insertEntry('kept')(tx), 'done'))).toBe('done');
    const failed = sql.transaction(async (tx) => {
      await insertEntry('lost')(tx);
      throw new Error('after the insert');
    });
    await expect(failed).rejects.toThrow('after the insert');
    // Read back through Prisma: the row it wrote, its date bound as Prisma binds a DateTime.
    expect(await t.db.auditEntry.findMany({ select: { action: true, at: true } })).toEqual([{ action: 'kept', at: new Date('2026-01-02T03:04:05.678Z') }]);
    // The connection is usable after a rollback, by either.
    await withTx(t.db, (tx) => tx.auditEntry.create({ data: { actor: 'system', action: 'prisma' } }));
    expect((await sql.query<{ n: unknown }>('SELECT COUNT(*) AS "n" FROM "AuditEntry"')).map((r) => Number(r.n))).toEqual([2]);
  });

  it("says the database's own words when a statement fails", async () => {
    const error = await sqlOf(t.db)
      .query('SELECT "id" FROM "NoSuchTable"')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^TableDoesNotExist: .*NoSuchTable/);
  });

  it("waits for a Prisma transaction open in the same process instead of writing inside it", async () => {
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const held = withTx(t.db, async (tx) => {
      await tx.auditEntry.create({ data: { actor: 'system', action: 'prisma-first' } });
      entered();
      await new Promise<void>((resolve) => (release = resolve));
      throw new Error('rolled back');
    });
    await inside;
    const raw = sqlOf(t.db).transaction(insertEntry('raw-second'));
    // Had the raw transaction run on the held one's connection, it would be rolled back with it.
    release();
    await expect(held).rejects.toThrow('rolled back');
    await raw;
    expect((await t.db.auditEntry.findMany({ select: { action: true } })).map((r) => r.action)).toEqual(['raw-second']);
  });

  const actions = async () => (await t.db.auditEntry.findMany({ select: { action: true }, orderBy: { at: 'asc' } })).map((r) => r.action);

  it("gives the connection back when BEGIN IMMEDIATE meets another process's write lock", async () => {
    if (testDatabaseEngine() === 'postgres') return; // PostgreSQL's lock is taken inside the transaction (55P03, retried)
    const sql = sqlOf(t.db);
    // Set on the shared connection: each BEGIN IMMEDIATE gives up after 20 ms instead of 5 s.
    await sql.query('PRAGMA busy_timeout = 20');
    const other = new Database(sqlitePath(t.url));
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      await expect(sql.transaction(insertEntry('while-locked'), { attempts: 2 })).rejects.toThrow(/locked/);
      await expect(withTx(t.db, (tx) => tx.auditEntry.create({ data: { actor: 'system', action: 'prisma-while-locked' } }), 1)).rejects.toThrow(/locked|SocketTimeout/);
    } finally {
      other.prepare('COMMIT').run();
      other.close();
    }
    // Had a failed BEGIN kept the adapter's transaction mutex, neither would ever begin again.
    await sql.transaction(insertEntry('after'), { maxWaitMs: 1000 });
    await withTx(t.db, (tx) => tx.auditEntry.create({ data: { actor: 'system', action: 'prisma-after', at: new Date('2026-01-02T03:04:06Z') } }));
    expect(await actions()).toEqual(['after', 'prisma-after']);
  });

  it('fails a transaction that cannot begin within its wait, and ends it if it begins later', async () => {
    if (testDatabaseEngine() === 'postgres') return; // a pool of 10: the wait is for a free connection
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const held = withTx(t.db, async (tx) => {
      await tx.auditEntry.create({ data: { actor: 'system', action: 'held', at: new Date('2026-01-02T03:04:00Z') } });
      entered();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await inside;
    let ran = false;
    const waited = sqlOf(t.db).transaction(async (tx) => ((ran = true), insertEntry('too-late')(tx)), { maxWaitMs: 100 });
    await expect(waited).rejects.toThrow(/could begin within 100 ms/);
    release();
    await held;
    // The transaction that began after its caller gave up was ended at once: the next one begins.
    await sqlOf(t.db).transaction(insertEntry('next'), { maxWaitMs: 1000 });
    expect(ran).toBe(false);
    expect(await actions()).toEqual(['held', 'next']);
  });

  it('shares the connection Prisma uses, and $disconnect closes it', async () => {
    if (testDatabaseEngine() === 'postgres') {
      // PostgreSQL: one pool, closed by $disconnect even when only raw SQL opened it.
      const name = new URL(t.url).pathname.slice(1);
      const sessions = async () => {
        const admin = new Client({ connectionString: t.url.replace(`/${name}`, '/postgres') });
        await admin.connect();
        try {
          const { rows } = await admin.query<{ n: string }>('SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          return Number(rows[0]?.n);
        } finally {
          await admin.end();
        }
      };
      expect(await sessions()).toBeGreaterThan(0);
      await t.db.$disconnect();
      expect(await sessions()).toBe(0);
      return;
    }
    // A temporary table lives on the connection that made it: Prisma sees this one only on the same one.
    await sqlOf(t.db).execute('CREATE TEMP TABLE "probe" ("x" INTEGER)');
    await sqlOf(t.db).execute('INSERT INTO "probe" ("x") VALUES (?)', 7);
    const rows = await t.db.$queryRawUnsafe<{ x: bigint | number }[]>('SELECT "x" FROM temp."probe"');
    expect(rows.map((r) => Number(r.x))).toEqual([7]);
  });
});

describe('isBusy', () => {
  const adapterError = (cause: Record<string, unknown>) => Object.assign(new Error(String(cause.message ?? cause.kind)), { name: 'DriverAdapterError', cause });

  it('knows a lock conflict as each driver adapter reports it', () => {
    expect(isBusy(adapterError({ kind: 'SocketTimeout', originalCode: 'SQLITE_BUSY', originalMessage: 'database is locked' }))).toBe(true);
    expect(isBusy(adapterError({ kind: 'TransactionWriteConflict', originalCode: '40001' }))).toBe(true);
    expect(isBusy(adapterError({ kind: 'postgres', code: '55P03', message: 'canceling statement due to lock timeout' }))).toBe(true);
    expect(isBusy(adapterError({ kind: 'postgres', code: '40P01', message: 'deadlock detected' }))).toBe(true);
  });

  it('does not retry what another attempt cannot fix', () => {
    expect(isBusy(adapterError({ kind: 'UniqueConstraintViolation', originalCode: '23505' }))).toBe(false);
    expect(isBusy(adapterError({ kind: 'postgres', code: '42601', message: 'syntax error at or near "SELEC"' }))).toBe(false);
    expect(isBusy(new Error('after the insert'))).toBe(false);
  });
});
