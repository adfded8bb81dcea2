import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { migratePostgres, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from '@parley/db';
import { dropPostgresDatabase } from '../support/db';
import { describeWithPostgres, postgresUrl } from '../support/test-database';

const ROOT = path.resolve(__dirname, '../..');
const PRISMA_CLI = path.join(ROOT, 'node_modules/prisma/build/index.js');

function directories(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

describe('one data model for SQLite and PostgreSQL', () => {
  it('derives prisma/postgres/schema.prisma from prisma/schema.prisma (run scripts/prisma-schemas.mjs after a model change)', () => {
    const check = spawnSync(process.execPath, [path.join(ROOT, 'scripts/prisma-schemas.mjs'), '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('fails the check when the derived schema differs from its source', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-schemas-'));
    try {
      fs.mkdirSync(path.join(copy, 'scripts'));
      fs.cpSync(path.join(ROOT, 'prisma'), path.join(copy, 'prisma'), { recursive: true, filter: (src) => !src.includes('migrations') });
      fs.copyFileSync(path.join(ROOT, 'scripts/prisma-schemas.mjs'), path.join(copy, 'scripts/prisma-schemas.mjs'));
      fs.appendFileSync(path.join(copy, 'prisma/schema.prisma'), '\nmodel Extra {\n  id String @id\n}\n');
      const check = spawnSync(process.execPath, [path.join(copy, 'scripts/prisma-schemas.mjs'), '--check'], { encoding: 'utf8' });
      expect(check.status).toBe(1);
      expect(check.stderr).toMatch(/prisma\/postgres\/schema.prisma is stale/);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('lists in code exactly the migrations each engine has on disk', () => {
    expect([...SQLITE_MIGRATIONS]).toEqual(directories(path.join(ROOT, 'prisma/migrations')));
    expect([...POSTGRES_MIGRATIONS]).toEqual(directories(path.join(ROOT, 'prisma/postgres/migrations')));
  });
});

interface Catalog {
  columns: string[];
  indexes: string[];
  constraints: string[];
}

async function catalog(url: string): Promise<Catalog> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const columns = await client.query<{ line: string }>(
      `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS line
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' ORDER BY 1`,
    );
    const indexes = await client.query<{ line: string }>(`SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`);
    const constraints = await client.query<{ line: string }>(
      `SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS line FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '_prisma_migrations' ORDER BY 1`,
    );
    return { columns: columns.rows.map((r) => r.line), indexes: indexes.rows.map((r) => r.line), constraints: constraints.rows.map((r) => r.line) };
  } finally {
    await client.end();
  }
}

describeWithPostgres('PostgreSQL migrations against the data model', () => {
  const created: string[] = [];
  afterAll(() => {
    for (const url of created) dropPostgresDatabase(url);
  });
  const emptyDatabase = async (tag: string) => {
    const name = `parley_t_${Date.now().toString(36)}_${tag}_${process.pid}_${crypto.randomBytes(2).toString('hex')}`;
    const admin = new Client({ connectionString: postgresUrl('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`).finally(() => admin.end());
    created.push(postgresUrl(name));
    return postgresUrl(name);
  };

  // The committed migrations, applied in order, build the same tables, columns, defaults,
  // indexes and constraints as the schema itself asks for (Prisma's own from-empty script).
  it('build exactly the database prisma/postgres/schema.prisma describes', async () => {
    const migrated = await emptyDatabase('mig');
    await migratePostgres(migrated, path.join(ROOT, 'prisma/postgres/migrations'));
    const direct = await emptyDatabase('dir');
    const script = execFileSync(
      process.execPath,
      [PRISMA_CLI, 'migrate', 'diff', '--config', 'prisma/postgres/prisma.config.ts', '--from-empty', '--to-schema-datamodel', 'prisma/postgres/schema.prisma', '--script'],
      // migrate diff reads nothing from the database, but the config's adapter wants a URL.
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: direct } },
    );
    const client = new Client({ connectionString: direct });
    await client.connect();
    await client.query(script).finally(() => client.end());
    const [fromMigrations, fromSchema] = await Promise.all([catalog(migrated), catalog(direct)]);
    expect(fromMigrations.columns.length).toBeGreaterThan(50);
    expect(fromMigrations).toEqual(fromSchema);
  }, 60_000);
});

/** Every table's columns, indexes (with their columns in order) and foreign keys, as SQLite reports them. */
function sqliteCatalog(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    const lines: string[] = [];
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_prisma_migrations' ORDER BY name").all() as { name: string }[];
    for (const { name } of tables) {
      for (const c of db.pragma(`table_info("${name}")`) as { name: string; type: string; notnull: number; dflt_value: unknown; pk: number }[]) {
        lines.push(`${name}.${c.name} ${c.type} notnull=${c.notnull} default=${String(c.dflt_value)} pk=${c.pk}`);
      }
      for (const i of db.pragma(`index_list("${name}")`) as { name: string; unique: number }[]) {
        const columns = (db.pragma(`index_info("${i.name}")`) as { name: string }[]).map((c) => c.name).join(',');
        lines.push(`${name} index ${i.name} unique=${i.unique} (${columns})`);
      }
      for (const f of db.pragma(`foreign_key_list("${name}")`) as { table: string; from: string; to: string; on_update: string; on_delete: string }[]) {
        lines.push(`${name} fk ${f.from} -> ${f.table}.${f.to} update=${f.on_update} delete=${f.on_delete}`);
      }
    }
    return lines.sort();
  } finally {
    db.close();
  }
}

describe('SQLite migrations against the data model', () => {
  it('build exactly the database prisma/schema.prisma describes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-sqlite-schema-'));
    try {
      const migrated = new Database(path.join(dir, 'migrated.db'));
      for (const name of SQLITE_MIGRATIONS) migrated.exec(fs.readFileSync(path.join(ROOT, 'prisma/migrations', name, 'migration.sql'), 'utf8'));
      migrated.close();
      const script = execFileSync(process.execPath, [PRISMA_CLI, 'migrate', 'diff', '--from-empty', '--to-schema-datamodel', 'prisma/schema.prisma', '--script'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DATABASE_URL: `file:${path.join(dir, 'unused.db')}` },
      });
      const direct = new Database(path.join(dir, 'direct.db'));
      direct.exec(script);
      direct.close();
      const fromMigrations = sqliteCatalog(path.join(dir, 'migrated.db'));
      expect(fromMigrations.length).toBeGreaterThan(80);
      expect(fromMigrations).toEqual(sqliteCatalog(path.join(dir, 'direct.db')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
