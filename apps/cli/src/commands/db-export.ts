import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Db } from '@parley/db';
import { optionValues, type Command } from '../command';
import { CommandError, EXIT } from '../errors';
import { table } from '../output';
import { databaseFile, fileStamp, onlineCopy, removeWithCompanions } from '../sqlite-files';
import {
  appliedMigrations,
  engineName,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  jsonLine,
  migrationDifference,
  newDigest,
  PAGE_SIZE,
  tablesCoverSchema,
  transferTables,
  type ExportHeader,
  type Reader,
  type TableCounts,
} from './db-transfer';

const options = z.object({
  to: z
    .string({ message: 'is required: the file the export is written to' })
    .min(1)
    .refine((v) => v !== '-', { message: 'must name a file: the export holds every email and address and is never written to stdout' }),
});

/** How long the PostgreSQL read transaction may stay open (it holds the snapshot). */
const READ_TIMEOUT_MS = 6 * 3600_000;

/** Writes to a file descriptor, waiting whenever the stream's buffer is full (memory stays bounded). */
class LineWriter {
  private readonly stream: fs.WriteStream;
  private readonly digest = newDigest();
  private failed: Error | undefined;
  bytes = 0;

  constructor(readonly fd: number) {
    this.stream = fs.createWriteStream('', { fd, autoClose: false });
    this.stream.on('error', (error) => (this.failed = error));
  }

  async write(line: string, hashed = true): Promise<void> {
    if (this.failed) throw this.failed;
    if (hashed) this.digest.update(line);
    this.bytes += Buffer.byteLength(line);
    if (!this.stream.write(line)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        this.stream.once('drain', () => {
          this.stream.off('error', onError);
          resolve();
        });
        this.stream.once('error', onError);
      });
    }
  }

  sha256(): string {
    return this.digest.digest('hex');
  }

  async finish(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.stream.end(() => (this.failed ? reject(this.failed) : resolve()));
    });
  }
}

/**
 * Runs `fn` on one consistent snapshot of the database. SQLite: an online backup to a
 * temporary file beside the export (the API and workers may keep writing to the live file),
 * read and then deleted. PostgreSQL: one REPEATABLE READ, READ ONLY transaction.
 */
async function withSnapshot<T>(url: string, scratch: string, fn: (reader: Reader) => Promise<T>): Promise<T> {
  const { databaseEngine, openDatabase, withoutCredentials } = await import('@parley/db');
  if (databaseEngine(url) === 'sqlite') {
    const source = databaseFile(url);
    if (!fs.existsSync(source)) throw new CommandError(`no database at ${source} (DATABASE_URL); nothing to export`);
    const copy = `${scratch}.snapshot.db`;
    let db: Db | undefined;
    try {
      await onlineCopy(source, copy);
      db = openDatabase(`file:${copy}`);
      return await fn(db);
    } finally {
      await db?.$disconnect().catch(() => undefined);
      removeWithCompanions(copy);
    }
  }
  const db = openDatabase(url);
  try {
    return await db.$transaction(
      async (tx) => {
        // The first statement of the transaction, so the snapshot is taken by the reads that follow.
        await tx.$executeRawUnsafe('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        return fn(tx);
      },
      { maxWait: 10_000, timeout: READ_TIMEOUT_MS },
    );
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(`reading the PostgreSQL database failed: ${withoutCredentials((error as Error).message)}`);
  } finally {
    await db.$disconnect().catch(() => undefined);
  }
}

export const dbExport: Command = {
  path: ['db', 'export'],
  usage: 'parley db export --to FILE',
  summary: 'write every row of the database to a file, from one consistent snapshot',
  help: [
    'Reads the database at DATABASE_URL as one consistent snapshot (SQLite: an online backup to a',
    'temporary file beside FILE, so the API and workers may keep running; PostgreSQL: one REPEATABLE',
    'READ, READ ONLY transaction) and writes it to FILE as JSON Lines: a header (format version, source',
    'engine, the migrations applied, rows per table), every row of every table (all columns; times as',
    'ISO 8601 UTC, JSON as JSON, null kept), then an end line with the row count and a SHA-256 of',
    'everything before it. Rows are streamed: memory stays small whatever the size of the database.',
    '',
    'The file is written as FILE.partial (mode 0600: it holds every email and address) and renamed to',
    'FILE once complete; an existing FILE is refused. Rows written after the snapshot are not in it:',
    'stop the API and the workers first when moving to another database (parley db import).',
    '',
    '  --to FILE   where the export goes (never stdout)',
    '',
    'Needs DATABASE_URL only.',
  ].join('\n'),
  options: { to: { type: 'string' } },
  positionals: [],
  async run(ctx, { values }) {
    const opts = optionValues(this, options, values);
    const started = Date.now();
    const url = ctx.settings().DATABASE_URL;
    const { databaseEngine, Prisma, SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS } = await import('@parley/db');
    const engine = databaseEngine(url);
    const tables = transferTables(Prisma);
    tablesCoverSchema(tables, Prisma);

    const final = path.resolve(opts.to);
    if (engine === 'sqlite' && final === databaseFile(url)) throw new CommandError('--to is the database itself');
    if (fs.existsSync(final)) throw new CommandError(`${final} exists already: choose another name or remove it first`);
    fs.mkdirSync(path.dirname(final), { recursive: true });
    const partial = `${final}.partial`;
    const scratch = `${final}.${fileStamp(new Date(started))}`;
    let fd: number;
    try {
      fd = fs.openSync(partial, 'wx', 0o600);
    } catch (error) {
      throw new CommandError(`cannot write ${partial}: ${(error as Error).message}${(error as NodeJS.ErrnoException).code === 'EEXIST' ? ' (another export to this file is running, or one was interrupted: remove it)' : ''}`);
    }

    let header: ExportHeader | undefined;
    let written = 0;
    let bytes = 0;
    try {
      const writer = new LineWriter(fd);
      await withSnapshot(url, scratch, async (db) => {
        const migrations = await appliedMigrations(db);
        const expected = engine === 'postgres' ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS;
        const difference = migrationDifference(migrations, expected);
        if (difference !== null) {
          throw new CommandError(`the ${engineName(engine)} database ${difference}: export it with the program version that matches it, or run \`parley db migrate\` first`);
        }
        const counts = {} as TableCounts;
        for (const t of tables) counts[t.model] = await t.count(db);
        header = { format: EXPORT_FORMAT, version: EXPORT_VERSION, engine, migrations, exportedAt: new Date(started).toISOString(), tables: counts };
        await writer.write(jsonLine(header));
        for (const t of tables) {
          let last: string | undefined;
          let rows = 0;
          for (;;) {
            const page = await t.page(db, last, PAGE_SIZE);
            for (const row of page) await writer.write(jsonLine({ table: t.model, row }));
            rows += page.length;
            if (page.length < PAGE_SIZE) break;
            last = String(page[page.length - 1]?.[t.key]);
          }
          // The snapshot does not move: a difference means the reading itself is wrong.
          if (rows !== counts[t.model]) throw new CommandError(`${t.model}: read ${rows} rows, the snapshot counted ${counts[t.model]}`);
          written += rows;
        }
      });
      await writer.write(jsonLine({ end: true, rows: written, sha256: writer.sha256() }), false);
      await writer.finish();
      bytes = writer.bytes;
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(partial, final);
    } catch (error) {
      try {
        fs.closeSync(fd);
      } catch {
        // Closed already.
      }
      fs.rmSync(partial, { force: true });
      throw error instanceof CommandError ? error : new CommandError(`export failed: ${(error as Error).message}`);
    }

    if (!header) throw new CommandError('export failed: no snapshot was read');
    const counts = header.tables;
    ctx.out.line(
      `export written: ${final} (${written} rows, ${bytes} bytes, from ${engineName(engine)} at migrations ${header.migrations.join(', ')}, ${Date.now() - started} ms)`,
    );
    for (const line of table(tables.map((t) => [`  ${t.model}`, String(counts[t.model])]))) ctx.out.line(line);
    return EXIT.ok;
  },
};
