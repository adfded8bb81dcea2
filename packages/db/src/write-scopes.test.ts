import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '../../../test/support/db';
import { whileHeld } from '../../../test/support/pg-locks';
import { testDatabaseEngine } from '../../../test/support/test-database';
import { openDatabase, placeholder, sqlOf, withTx, type Db } from './client';
import { mailboxScope, negotiationScope, scopeLockKey, writeLockStatement, type Sql } from './sql';

/**
 * Scoped write transactions on PostgreSQL (docs/scaling.md): a transaction scoped to a negotiation
 * or a mailbox takes the database's advisory lock shared and its scope's exclusively, so it waits
 * for unscoped writers and its own scope's, and for nobody else. Two clients (two pools), as two
 * worker processes have; whether a transaction waits is read from pg_locks (test/support/pg-locks.ts).
 */
const onPostgres = testDatabaseEngine() === 'postgres' ? describe : describe.skip;

describe('write lock statements', () => {
  it('take the whole database on SQLite (BEGIN IMMEDIATE) whatever the scope, and a scope key on PostgreSQL', () => {
    expect(writeLockStatement('sqlite')).toBeNull();
    expect(writeLockStatement('sqlite', negotiationScope('n1'))).toBeNull();
    expect(writeLockStatement('postgres')).toBe('SELECT pg_advisory_xact_lock(727021001)');
    expect(writeLockStatement('postgres', negotiationScope('n1'))).toBe(`SELECT pg_advisory_xact_lock_shared(727021001), pg_advisory_xact_lock(727021002, ${scopeLockKey('negotiation:n1')})`);
  });

  it('key scopes by a 32-bit hash that tells negotiations and mailboxes apart', () => {
    // FNV-1a 32 of "a" is 0xe40c292c; as a signed 32-bit integer, PostgreSQL's int4.
    expect(scopeLockKey('a')).toBe(0xe40c292c | 0);
    const keys = new Set(Array.from({ length: 1000 }, (_, i) => scopeLockKey(negotiationScope(`neg-${i}`))));
    expect(keys.size).toBe(1000);
    expect(scopeLockKey(negotiationScope('x@y'))).not.toBe(scopeLockKey(mailboxScope('x@y')));
    for (const key of keys) expect(Number.isInteger(key) && key >= -(2 ** 31) && key < 2 ** 31).toBe(true);
  });
});

onPostgres('scoped write transactions (PostgreSQL)', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  let other: Db;
  beforeEach(async () => {
    t = await createTestDatabase('scopes');
    other = openDatabase(t.url);
  });
  afterEach(async () => {
    await other.$disconnect();
    await t.cleanup();
  });

  const audit = (tx: Sql, action: string) => {
    const $ = (n: number) => placeholder(tx.engine, n);
    return tx.execute(`INSERT INTO "AuditEntry" ("id", "actor", "action", "at") VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)})`, randomUUID(), 'system', action, new Date());
  };

  it('commits transactions of two negotiations side by side', async () => {
    expect((await whileHeld(t.db, negotiationScope('n1'), () => sqlOf(other).transaction((tx) => audit(tx, 'second'), { scope: negotiationScope('n2') }))).outcome).toBe('committed');
    // A mailbox's sync beside a negotiation's step, through withTx as well.
    const step = () => withTx(other, (tx) => tx.auditEntry.create({ data: { actor: 'system', action: 'step' } }), { scope: negotiationScope('n1') });
    expect((await whileHeld(t.db, mailboxScope('team@example.com'), step)).outcome).toBe('committed');
  });

  it('makes a transaction wait for one of the same negotiation, and commit after it', async () => {
    const second = (order: string[]) =>
      sqlOf(other).transaction(async (tx) => {
        await audit(tx, 'second');
        order.push('second');
      }, { scope: negotiationScope('n1') });
    expect(await whileHeld(t.db, negotiationScope('n1'), second)).toEqual({ outcome: 'waiting', order: ['held', 'second'] });
  });

  it('makes an unscoped transaction wait for scoped ones, and scoped ones wait for an unscoped one', async () => {
    const unscoped = (order: string[]) =>
      withTx(other, async (tx) => {
        await tx.auditEntry.create({ data: { actor: 'system', action: 'unscoped' } });
        order.push('unscoped');
      });
    expect(await whileHeld(t.db, negotiationScope('n1'), unscoped)).toEqual({ outcome: 'waiting', order: ['held', 'unscoped'] });
    const scoped = (order: string[]) =>
      sqlOf(other).transaction(async (tx) => {
        await audit(tx, 'step');
        order.push('scoped');
      }, { scope: negotiationScope('n2') });
    expect(await whileHeld(t.db, undefined, scoped)).toEqual({ outcome: 'waiting', order: ['held', 'scoped'] });
  });

  // The mechanism a scoped read-then-write relies on: 20 read-then-write increments of one row,
  // all scoped to the same negotiation, from two clients, lose nothing; increments of another
  // negotiation's row run beside them and lose nothing either.
  it('loses no update among read-then-write transactions of the same scope', async () => {
    await withTx(t.db, async (tx) => {
      await tx.integrationHealth.create({ data: { name: 'n1', lastError: '0' } });
      await tx.integrationHealth.create({ data: { name: 'n2', lastError: '0' } });
    });
    const bump = (db: Db, name: string) =>
      sqlOf(db).transaction(async (tx) => {
        const $ = (n: number) => placeholder(tx.engine, n);
        const [row] = await tx.query<{ lastError: string }>(`SELECT "lastError" FROM "IntegrationHealth" WHERE "name" = ${$(1)}`, name);
        await new Promise((resolve) => setImmediate(resolve));
        await tx.execute(`UPDATE "IntegrationHealth" SET "lastError" = ${$(1)} WHERE "name" = ${$(2)}`, String(Number(row?.lastError) + 1), name);
      }, { scope: negotiationScope(name), attempts: 20 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => bump(i % 2 === 0 ? t.db : other, i % 4 < 2 ? 'n1' : 'n2')));
    const rows = await t.db.integrationHealth.findMany({ where: { name: { in: ['n1', 'n2'] } }, orderBy: { name: 'asc' } });
    expect(rows.map((r) => [r.name, r.lastError])).toEqual([
      ['n1', '20'],
      ['n2', '20'],
    ]);
  }, 60_000);
});
