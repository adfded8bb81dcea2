import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { dropPostgresDatabase } from '../../../test/support/db';
import { describeWithPostgres, postgresUrl } from '../../../test/support/test-database';
import { DatabaseError, openDatabase, prepareDatabase } from './client';
import { POSTGRES_MIGRATIONS } from './migrations';
import { appliedPostgresMigrations, migratePostgres, MigrationError } from './pg-migrate';

const MIGRATIONS = path.resolve(__dirname, '../../../prisma/postgres/migrations');

/** An empty database of this test's own on the test server; dropped by the test. */
async function emptyDatabase(): Promise<string> {
  const name = `parley_t_${Date.now().toString(36)}_mig_${process.pid}_${crypto.randomBytes(2).toString('hex')}`;
  const admin = new Client({ connectionString: postgresUrl('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return postgresUrl(name);
}

async function query<T extends object>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function migrationsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-migrations-'));
  for (const [name, sql] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

describeWithPostgres('PostgreSQL migrations', () => {
  const urls: string[] = [];
  const fresh = async () => {
    const url = await emptyDatabase();
    urls.push(url);
    return url;
  };
  afterAll(() => {
    for (const url of urls) dropPostgresDatabase(url);
  });

  it('applies every migration once, recorded as Prisma records them, and skips them on the next run', async () => {
    const url = await fresh();
    const first = await migratePostgres(url, MIGRATIONS);
    expect(first).toEqual({ applied: [...POSTGRES_MIGRATIONS], alreadyApplied: [] });
    const rows = await query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
      url,
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(rows.map((row) => row.migration_name)).toEqual([...POSTGRES_MIGRATIONS]);
    for (const row of rows) {
      const sql = fs.readFileSync(path.join(MIGRATIONS, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(crypto.createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
    }
    expect(await migratePostgres(url, MIGRATIONS)).toEqual({ applied: [], alreadyApplied: [...POSTGRES_MIGRATIONS] });
    expect(await appliedPostgresMigrations(url)).toEqual([...POSTGRES_MIGRATIONS]);
    const db = openDatabase(url);
    try {
      await expect(prepareDatabase(db)).resolves.toEqual({ wal: true, writable: true, foreignKeys: true });
      // Every session of the pool ends an abandoned transaction and stops waiting for a lock.
      const settings = await db.$queryRawUnsafe<{ idle: string; lock: string }[]>(
        "SELECT current_setting('idle_in_transaction_session_timeout') AS idle, current_setting('lock_timeout') AS lock",
      );
      expect(settings).toEqual([{ idle: '15s', lock: '10s' }]);
    } finally {
      await db.$disconnect();
    }
  });

  it('rolls a failing migration back whole and names it; the fixed one applies on the next run', async () => {
    const url = await fresh();
    const dir = migrationsDir({
      '0001_a': 'CREATE TABLE "A" ("id" TEXT PRIMARY KEY);',
      '0002_b': 'CREATE TABLE "B" ("id" TEXT PRIMARY KEY);\nINSERT INTO "Nowhere" VALUES (1);',
    });
    try {
      await expect(migratePostgres(url, dir)).rejects.toThrow(MigrationError);
      await expect(migratePostgres(url, dir)).rejects.toThrow(/migration 0002_b failed and was rolled back: relation "Nowhere" does not exist/);
      const tables = await query<{ name: string }>(url, `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
      expect(tables.map((t) => t.name)).toEqual(['A', '_prisma_migrations']);
      expect(await appliedPostgresMigrations(url)).toEqual(['0001_a']);
      fs.writeFileSync(path.join(dir, '0002_b', 'migration.sql'), 'CREATE TABLE "B" ("id" TEXT PRIMARY KEY);');
      expect(await migratePostgres(url, dir)).toEqual({ applied: ['0002_b'], alreadyApplied: ['0001_a'] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets two runs at once apply each migration exactly once (advisory lock)', async () => {
    const url = await fresh();
    const results = await Promise.all([migratePostgres(url, MIGRATIONS), migratePostgres(url, MIGRATIONS)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual([...POSTGRES_MIGRATIONS]);
    const rows = await query<{ n: string }>(url, 'SELECT count(*)::text AS n FROM "_prisma_migrations"');
    expect(rows[0]?.n).toBe(String(POSTGRES_MIGRATIONS.length));
  });

  it('refuses to start on a database without the migrations, saying what to run', async () => {
    const url = await fresh();
    const db = openDatabase(url);
    try {
      const error = await prepareDatabase(db).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as Error).message).toMatch(/lacks migrations 0001_init, 0002_outbox_attempted, 0003_outbox_by_negotiation: run `npx parley db migrate`/);
    } finally {
      await db.$disconnect();
    }
  });

  it('refuses an unreachable server with a clear error that never shows the password', async () => {
    const db = openDatabase('postgresql://parley:s3cret-pass@127.0.0.1:1/parley');
    try {
      const error = await prepareDatabase(db).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as Error).message).toMatch(/cannot reach the PostgreSQL database: .*Check DATABASE_URL/s);
      // Names where it looked (the driver adapter gives no words of its own for this).
      expect((error as Error).message).toMatch(/127\.0\.0\.1.*\b1\b/);
      expect((error as Error).message).not.toContain('s3cret-pass');
    } finally {
      await db.$disconnect();
    }
  });
});
