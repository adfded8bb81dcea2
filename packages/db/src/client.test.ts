import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase } from '../../../test/support/db';
import { checkDatabase, withTx, DatabaseError } from './client';

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
  // as a container's root would): the same outcome whoever runs the suite.
  it('refuses to start on a read-only database with a clear error', async () => {
    const t = await createTestDatabase();
    await t.db.$disconnect();
    const file = t.url.replace('file:', '');
    fs.chmodSync(file, 0o444);
    fs.chmodSync(t.dir, 0o555);
    const root = path.resolve(__dirname, '../../..');
    const unprivileged = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@parley/source', '--import', 'tsx', path.join(root, 'test/fixtures/prepare-database.ts')], {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: '/tmp', DATABASE_URL: t.url },
        timeout: 60_000,
        ...unprivileged,
      });
      const outcome = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean; name?: string; message?: string };
      expect(outcome).toMatchObject({ ok: false, name: new DatabaseError('').name });
      expect(outcome.message).toMatch(/writable/);
    } finally {
      fs.chmodSync(t.dir, 0o755);
      fs.chmodSync(file, 0o644);
      await t.cleanup();
    }
  }, 90_000);
});
