import fs from 'node:fs';
import { createTestDatabase } from '../../../test/support/db';
import { checkDatabase, openDatabase, prepareDatabase, withTx, DatabaseError } from './client';

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

  it('refuses to start on a read-only database with a clear error', async () => {
    const t = await createTestDatabase();
    await t.db.$disconnect();
    const file = t.url.replace('file:', '');
    fs.chmodSync(file, 0o444);
    fs.chmodSync(t.dir, 0o555);
    const db = openDatabase(t.url);
    try {
      // root ignores file modes; only assert when the OS enforces them.
      if (process.getuid?.() !== 0) await expect(prepareDatabase(db)).rejects.toThrow(DatabaseError);
      else await expect(prepareDatabase(db)).resolves.toBeDefined();
    } finally {
      await db.$disconnect();
      fs.chmodSync(t.dir, 0o755);
      fs.chmodSync(file, 0o644);
      await t.cleanup();
    }
  });
});
