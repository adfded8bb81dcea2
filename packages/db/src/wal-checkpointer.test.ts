import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase } from '../../../test/support/db';
import { describeOnEngine, testDatabaseEngine } from '../../../test/support/test-database';
import { sqlOf } from './client';
import { BACKSTOP_PAGES, startWalCheckpointer } from './wal-checkpointer';
import { insertAuditEntry } from './writes';

const autocheckpoint = async (db: Parameters<typeof sqlOf>[0]) =>
  Number(Object.values((await sqlOf(db).query<Record<string, unknown>>('PRAGMA wal_autocheckpoint'))[0] ?? {})[0]);

describeOnEngine('sqlite', 'the write-ahead log is SQLite\'s')('WAL checkpoint thread', () => {
  it('copies the log back from its own thread, and the process\'s commits keep only a backstop', async () => {
    const t = await createTestDatabase('checkpoint');
    const checkpointer = await startWalCheckpointer(t.db, 20);
    try {
      expect(checkpointer).not.toBeNull();
      expect(await autocheckpoint(t.db)).toBe(BACKSTOP_PAGES);
      const sql = sqlOf(t.db);
      for (let i = 0; i < 200; i += 1) await sql.transaction((tx) => insertAuditEntry(tx, { negotiationId: null, actor: 'system', action: 'checkpoint-test', details: { i } }));
      // The first checkpoint reported may have begun before the last commit; the second began after it.
      await checkpointer!.next();
      const after = await checkpointer!.next();
      // Every frame of the log is in the database file (nothing reads or writes meanwhile).
      expect(after.logFrames).toBeGreaterThan(0);
      expect(after.checkpointedFrames).toBe(after.logFrames);
      expect(checkpointer!.stats().lastError).toBeNull();
      expect(await t.db.auditEntry.count({ where: { action: 'checkpoint-test' } })).toBe(200);
    } finally {
      await checkpointer?.stop();
      await t.cleanup();
    }
  });

  it('is not started when its interval is 0, and SQLite keeps checkpointing inside commits', async () => {
    const t = await createTestDatabase('checkpoint-off');
    try {
      expect(await startWalCheckpointer(t.db, 0)).toBeNull();
      expect(await autocheckpoint(t.db)).toBe(1000);
    } finally {
      await t.cleanup();
    }
  });

  it('says when the thread cannot do its work, and commits keep their backstop', async () => {
    const t = await createTestDatabase('checkpoint-gone');
    const file = path.join(t.dir, 'parley.db');
    // The process's connection keeps the file open; the thread, opening it by name, finds none.
    fs.renameSync(file, `${file}.away`);
    const problems: string[] = [];
    let said: () => void = () => undefined;
    const saidOnce = new Promise<void>((resolve) => (said = resolve));
    const checkpointer = await startWalCheckpointer(t.db, 20, (p) => {
      problems.push(p);
      said();
    });
    try {
      await saidOnce;
      expect(problems[0]).toMatch(/^checkpoint thread (failed|ended)/);
      expect(await autocheckpoint(t.db)).toBe(BACKSTOP_PAGES);
      await sqlOf(t.db).transaction((tx) => insertAuditEntry(tx, { negotiationId: null, actor: 'system', action: 'still-writes' }));
    } finally {
      await checkpointer?.stop();
      fs.renameSync(`${file}.away`, file);
      await t.cleanup();
    }
  });

  it('stops: the thread ends and its connection closes', async () => {
    const t = await createTestDatabase('checkpoint-stop');
    const checkpointer = await startWalCheckpointer(t.db, 20);
    try {
      await checkpointer!.next();
      await checkpointer!.stop();
      const count = checkpointer!.stats().checkpoints;
      // Writes go on without it, and no checkpoint is reported after the stop.
      await sqlOf(t.db).transaction((tx) => insertAuditEntry(tx, { negotiationId: null, actor: 'system', action: 'after-stop' }));
      await new Promise((resolve) => setImmediate(resolve));
      expect(checkpointer!.stats().checkpoints).toBe(count);
    } finally {
      await t.cleanup();
    }
  });
});

describeOnEngine('postgres', 'PostgreSQL has no write-ahead log of SQLite\'s kind')('WAL checkpoint thread on PostgreSQL', () => {
  it('is not started', async () => {
    expect(testDatabaseEngine()).toBe('postgres');
    const t = await createTestDatabase('checkpoint-pg');
    try {
      expect(await startWalCheckpointer(t.db, 20)).toBeNull();
    } finally {
      await t.cleanup();
    }
  });
});
