import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { CommandError, EXIT } from '../errors';

/** The directory holding prisma/schema.prisma: the checkout's root, or /app in the worker image. */
export function schemaRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'prisma', 'schema.prisma'))) return dir;
    if (path.dirname(dir) === dir) throw new CommandError('no prisma/schema.prisma above this program: run the migrations from a checkout or the worker image');
  }
}

export const dbMigrate: Command = {
  path: ['db', 'migrate'],
  usage: 'parley db migrate',
  summary: 'apply the database migrations DATABASE_URL needs (SQLite or PostgreSQL)',
  help: [
    'SQLite (DATABASE_URL=file:...): runs `prisma migrate deploy` with prisma/migrations.',
    'PostgreSQL (DATABASE_URL=postgresql://...): applies prisma/postgres/migrations in order, each in one',
    'transaction, recorded in `_prisma_migrations` as Prisma records them, under an advisory lock so two',
    'runs never race. Applied migrations are skipped: running it again is safe.',
    '',
    'Needs DATABASE_URL only.',
  ].join('\n'),
  options: {},
  positionals: [],
  async run(ctx) {
    const url = ctx.settings().DATABASE_URL;
    const root = schemaRoot();
    const { databaseEngine, migratePostgres, withoutCredentials } = await import('@parley/db');
    if (databaseEngine(url) === 'postgres') {
      try {
        const result = await migratePostgres(url, path.join(root, 'prisma', 'postgres', 'migrations'), (line) => ctx.out.line(line));
        ctx.out.line(`PostgreSQL migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);
      } catch (error) {
        throw new CommandError(`migrating PostgreSQL failed: ${withoutCredentials((error as Error).message)}`);
      }
      return EXIT.ok;
    }
    const file = url.replace(/^file:/, '').replace(/\?.*$/, '');
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const prismaCli = require.resolve('prisma/build/index.js', { paths: [root] });
    try {
      const output = execFileSync(process.execPath, [prismaCli, 'migrate', 'deploy'], { cwd: root, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const summary = output.split('\n').filter((line) => /migrations? found|applied|No pending/i.test(line));
      for (const line of summary) ctx.out.line(line.trim());
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '') || (error as Error).message;
      throw new CommandError(`migrating SQLite failed: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
    }
    return EXIT.ok;
  },
};
