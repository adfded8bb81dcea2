import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { migratePostgres } from '@parley/db';
import { dropPostgresDatabase } from '../support/db';
import { describeWithPostgres, postgresUrl } from '../support/test-database';

/**
 * The migration that adds OutboxEmail.attemptedAt marks the rows an earlier version may already
 * have handed to Gmail (pending or sent): a send finds its row unmarked only if it was never
 * sent, and skips the Message-ID lookup then. A pending row left unmarked by the upgrade would be
 * sent again if the old version died after Gmail accepted it.
 */
const ROOT = path.resolve(__dirname, '../..');
const sql = (engineDir: string, name: string) => fs.readFileSync(path.join(ROOT, engineDir, name, 'migration.sql'), 'utf8');

const CAMPAIGN = `INSERT INTO "Campaign" ("id", "clickupTaskId", "name", "cpmFloorMinor", "cpmCeilingMinor", "rosterSheetId", "updatedAt") VALUES ('c1', 't1', 'Spring', 1000, 2000, 's1', CURRENT_TIMESTAMP)`;
const NEGOTIATION = `INSERT INTO "Negotiation" ("id", "campaignId", "influencerName", "influencerEmail", "platform", "averageViews", "deliverables", "updatedAt") VALUES ('n1', 'c1', 'Ava', 'ava@creators.test', 'youtube', 1000, '1 video', CURRENT_TIMESTAMP)`;
const outbox = (id: string, status: string, sentAt: string) =>
  `INSERT INTO "OutboxEmail" ("id", "negotiationId", "kind", "messageIdHdr", "toAddress", "subject", "body", "status", "sentAt", "createdAt") VALUES ('${id}', 'n1', 'open', '<${id}@parley.test>', 'ava@creators.test', 's', 'b', '${status}', ${sentAt}, ${id === 'o-pending' ? "'2026-01-02 03:04:05'" : 'CURRENT_TIMESTAMP'})`;

describe('the attemptedAt migration on SQLite', () => {
  it('marks pending and sent rows, and leaves cancelled ones unmarked', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-attempted-'));
    const db = new Database(path.join(dir, 'old.db'));
    try {
      db.exec(sql('prisma/migrations', '0001_init'));
      db.exec(sql('prisma/migrations', '0002_slack_and_mail_problems'));
      for (const statement of [CAMPAIGN, NEGOTIATION, outbox('o-pending', 'pending', 'NULL'), outbox('o-sent', 'sent', "'2026-01-03 00:00:00'"), outbox('o-cancelled', 'cancelled', 'NULL')]) db.exec(statement);
      db.exec(sql('prisma/migrations', '0003_outbox_attempted'));
      const rows = db.prepare('SELECT "id", "attemptedAt" FROM "OutboxEmail" ORDER BY "id"').all();
      expect(rows).toEqual([
        { id: 'o-cancelled', attemptedAt: null },
        { id: 'o-pending', attemptedAt: '2026-01-02 03:04:05' },
        { id: 'o-sent', attemptedAt: '2026-01-03 00:00:00' },
      ]);
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeWithPostgres('the attemptedAt migration on PostgreSQL', () => {
  it('marks pending and sent rows, and leaves cancelled ones unmarked', async () => {
    const name = `parley_t_${Date.now().toString(36)}_attempted_${process.pid}_${crypto.randomBytes(2).toString('hex')}`;
    const admin = new Client({ connectionString: postgresUrl('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`).finally(() => admin.end());
    const url = postgresUrl(name);
    const before = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-attempted-'));
    try {
      // The database as the version before left it: the first migration only.
      fs.cpSync(path.join(ROOT, 'prisma/postgres/migrations/0001_init'), path.join(before, '0001_init'), { recursive: true });
      await migratePostgres(url, before);
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        for (const statement of [CAMPAIGN, NEGOTIATION, outbox('o-pending', 'pending', 'NULL'), outbox('o-sent', 'sent', "'2026-01-03 00:00:00'"), outbox('o-cancelled', 'cancelled', 'NULL')]) await client.query(statement);
        await migratePostgres(url, path.join(ROOT, 'prisma/postgres/migrations'));
        const { rows } = await client.query<{ id: string; attemptedAt: Date | null }>(`SELECT "id", "attemptedAt" FROM "OutboxEmail" ORDER BY "id"`);
        expect(rows.map((r) => [r.id, r.attemptedAt && r.attemptedAt.getTime()])).toEqual([
          ['o-cancelled', null],
          ['o-pending', new Date('2026-01-02T03:04:05').getTime()],
          ['o-sent', new Date('2026-01-03T00:00:00').getTime()],
        ]);
      } finally {
        await client.end();
      }
    } finally {
      fs.rmSync(before, { recursive: true, force: true });
      dropPostgresDatabase(url);
    }
  }, 60_000);
});
