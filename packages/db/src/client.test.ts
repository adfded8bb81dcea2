import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { createTestDatabase } from '../../../test/support/db';
import { testDatabaseEngine } from '../../../test/support/test-database';
import { checkDatabase, openDatabase, valuesList, withTx, DatabaseError } from './client';

const root = path.resolve(__dirname, '../../..');

/** Runs test/fixtures/prepare-database.ts against `url` in a process of its own; its one-line outcome. */
async function prepareInProcess(url: string, user: { uid?: number; gid?: number } = {}): Promise<{ ok: boolean; name?: string; message?: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@parley/source', '--import', 'tsx', path.join(root, 'test/fixtures/prepare-database.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: '/tmp', DATABASE_URL: url },
    timeout: 60_000,
    ...user,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean; name?: string; message?: string };
}

describe('database', () => {
  it('runs in WAL mode with foreign keys and a working write', async () => {
    const t = await createTestDatabase();
    try {
      expect(await checkDatabase(t.db)).toEqual({ wal: true, writable: true, foreignKeys: true });
      await withTx(t.db, (tx) => tx.auditEntry.create({ data: { actor: 'system', action: 'test' } }));
      expect(await t.db.auditEntry.count()).toBe(1);
    } finally {
      await t.cleanup();
    }
  });

  // In a process of its own, as `nobody` when the suite runs as root (root ignores file modes,
  // as a container's root would): the same outcome whoever runs the suite. On PostgreSQL the
  // process connects as a role that may read Parley's tables but not write them.
  it('refuses to start on a read-only database with a clear error', async () => {
    const t = await createTestDatabase();
    await t.db.$disconnect();
    if (testDatabaseEngine() === 'postgres') {
      const role = `parley_ro_${process.pid}_${Date.now().toString(36)}`;
      const admin = new Client({ connectionString: t.url });
      await admin.connect();
      try {
        await admin.query(`CREATE ROLE ${role} LOGIN`);
        await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
        const url = new URL(t.url);
        url.username = role;
        const outcome = await prepareInProcess(url.toString());
        expect(outcome).toMatchObject({ ok: false, name: new DatabaseError('').name });
        expect(outcome.message).toMatch(/not writable/);
      } finally {
        await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
        await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
        await admin.end();
        await t.cleanup();
      }
      return;
    }
    const file = t.url.replace('file:', '');
    fs.chmodSync(file, 0o444);
    fs.chmodSync(t.dir, 0o555);
    try {
      const outcome = await prepareInProcess(t.url, process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {});
      expect(outcome).toMatchObject({ ok: false, name: new DatabaseError('').name });
      expect(outcome.message).toMatch(/writable/);
    } finally {
      fs.chmodSync(t.dir, 0o755);
      fs.chmodSync(file, 0o644);
      await t.cleanup();
    }
  }, 90_000);

  // The mechanism every read-then-write relies on: transactions read a counter and write it back
  // plus one, 20 at once with a pause between the read and the write. Serialised by withTx's
  // write lock, no increment is lost; without it (PostgreSQL's read committed) most would be.
  // PostgreSQL: two clients, each a pool of connections, as two processes would have. SQLite:
  // one client (a process has one connection; better-sqlite3 waits for a lock synchronously, so
  // a second client in the same process would block the one holding it).
  it('serialises read-then-write transactions across clients (no lost update)', async () => {
    const t = await createTestDatabase();
    const other = testDatabaseEngine() === 'postgres' ? openDatabase(t.url) : t.db;
    try {
      await withTx(t.db, (tx) => tx.integrationHealth.create({ data: { name: 'counter', lastError: '0' } }));
      const bump = (db: typeof t.db) =>
        withTx(db, async (tx) => {
          const row = await tx.integrationHealth.findUniqueOrThrow({ where: { name: 'counter' } });
          await new Promise((resolve) => setTimeout(resolve, 5));
          await tx.integrationHealth.update({ where: { name: 'counter' }, data: { lastError: String(Number(row.lastError) + 1) } });
        }, 20);
      await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 === 0 ? t.db : other)));
      const row = await t.db.integrationHealth.findUniqueOrThrow({ where: { name: 'counter' } });
      expect(row.lastError).toBe('20');
    } finally {
      if (other !== t.db) await other.$disconnect();
      await t.cleanup();
    }
  }, 60_000);

  // SQLite: the transaction holds the write lock from its BEGIN (IMMEDIATE), before any statement
  // of its own. Another job's read on the process's one connection that lands inside it cannot
  // open a snapshot which a write from another process then invalidates (SQLITE_BUSY at the
  // transaction's first write, and the whole transaction again).
  (testDatabaseEngine() === 'sqlite' ? it : it.skip)('holds the SQLite write lock from BEGIN: another process cannot write before the transaction\'s first statement', async () => {
    const t = await createTestDatabase();
    const otherProcess = new Database(t.url.replace(/^file:/, ''), { timeout: 0 });
    const tryWrite = (): string => {
      try {
        otherProcess.prepare(`UPDATE "IntegrationHealth" SET "lastError" = 'other' WHERE "name" = 'row'`).run();
        return 'written';
      } catch (error) {
        return String((error as { code?: unknown }).code ?? error);
      }
    };
    try {
      await withTx(t.db, (tx) => tx.integrationHealth.create({ data: { name: 'row', lastError: '0' } }));
      let runs = 0;
      await withTx(t.db, async (tx) => {
        runs += 1;
        await t.db.integrationHealth.findMany();
        expect(tryWrite()).toBe('SQLITE_BUSY');
        await tx.integrationHealth.update({ where: { name: 'row' }, data: { lastError: '1' } });
      });
      expect(runs).toBe(1);
      expect(tryWrite()).toBe('written');
    } finally {
      otherProcess.close();
      await t.cleanup();
    }
  });
});

describe('valuesList', () => {
  it('numbers PostgreSQL placeholders row by row with their casts, and writes ? on SQLite', () => {
    expect(valuesList('postgres', 2, ['', '::jsonb', ''])).toBe('($1, $2::jsonb, $3), ($4, $5::jsonb, $6)');
    expect(valuesList('sqlite', 2, ['', '::jsonb', ''])).toBe('(?, ?, ?), (?, ?, ?)');
    expect(valuesList('postgres', 1, [''])).toBe('($1)');
  });
});
