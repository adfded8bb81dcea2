import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pipeline, Transform } from 'node:stream';
import { z } from 'zod';
import type { Db, DatabaseEngine } from '@parley/db';
import { optionValues, type Command } from '../command';
import { CommandError, EXIT } from '../errors';
import { table } from '../output';
import { databaseFile } from '../sqlite-files';
import {
  appliedMigrations,
  engineName,
  headerSchema,
  migrationDifference,
  newDigest,
  INSERT_BATCH,
  PROBE_ROW,
  rowLineSchema,
  tablesCoverSchema,
  trailerSchema,
  transferTables,
  type ExportHeader,
  type Reader,
  type Table,
} from './db-transfer';

const options = z.object({
  from: z.string({ message: 'is required: the file parley db export wrote' }).min(1),
});

/** How long the import transaction may take (every row of the database goes through it). */
const WRITE_TIMEOUT_MS = 6 * 3600_000;

/** A JSON escape of the NUL character that is not itself an escaped backslash followed by `u0000`. */
const NUL_ESCAPE = /(?<!\\)(?:\\\\)*\\u0000/;

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return `${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`;
}

/**
 * The longest line an export may hold (one row as JSON; an email body is bounded far below it at
 * ingest). A longer run without a newline is refused before it is buffered whole.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The file's lines; a line over MAX_LINE_BYTES fails the stream with a CommandError naming it. */
function lines(file: string): readline.Interface {
  let run = 0;
  let line = 1;
  const bounded = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        run = 0;
        line += 1;
        start = nl + 1;
      }
      run += chunk.length - start;
      if (run > MAX_LINE_BYTES) done(new CommandError(`${file} line ${line}: longer than ${MAX_LINE_BYTES} bytes, so not a row parley db export wrote; nothing was imported`));
      else done(null, chunk);
    },
  });
  // pipeline: an error of the file (or of the bound) ends the stream readline reads, which
  // rejects the loop reading its lines.
  const input = pipeline(fs.createReadStream(file), bounded, () => undefined);
  return readline.createInterface({ input: input.setEncoding('utf8'), crlfDelay: Infinity });
}

interface CheckedFile {
  header: ExportHeader;
  rows: number;
  sha256: string;
}

/**
 * Reads the whole file once without touching any database: every line parses (header, rows,
 * end line, each through zod), the tables come in order, the counts match the header, and the
 * SHA-256 matches the end line's. Throws a CommandError naming the line at fault.
 */
async function checkFile(file: string, tables: readonly Table[], target: DatabaseEngine): Promise<CheckedFile> {
  const size = fs.statSync(file).size;
  if (size === 0) throw new CommandError(`${file} is empty: it is not a file parley db export wrote`);
  const last = Buffer.alloc(1);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, last, 0, 1, size - 1);
  } finally {
    fs.closeSync(fd);
  }
  const bad = (line: number, what: string) => new CommandError(`${file} line ${line}: ${what}; nothing was imported`);
  const header = headerSchema(tables);
  const digest = newDigest();
  const counts = new Map<string, number>();
  let parsedHeader: ExportHeader | undefined;
  let trailer: z.infer<typeof trailerSchema> | undefined;
  let position = 0;
  let n = 0;
  for await (const line of lines(file)) {
    n += 1;
    if (trailer) throw bad(n, 'text after the end line');
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw bad(n, `not JSON (${(error as Error).message})`);
    }
    if (n === 1) {
      const result = header.safeParse(value);
      if (!result.success) throw bad(n, `not the header of a parley db export: ${describeIssue(result.error)}`);
      parsedHeader = result.data;
      digest.update(`${line}\n`);
      continue;
    }
    if (typeof value === 'object' && value !== null && 'end' in value) {
      const result = trailerSchema.safeParse(value);
      if (!result.success) throw bad(n, `a malformed end line: ${describeIssue(result.error)}`);
      trailer = result.data;
      continue;
    }
    digest.update(`${line}\n`);
    const row = rowLineSchema.safeParse(value);
    if (!row.success) throw bad(n, `not a row line: ${describeIssue(row.error)}`);
    const index = tables.findIndex((t) => t.model === row.data.table);
    const spec = tables[index];
    if (!spec) throw bad(n, `unknown table ${JSON.stringify(row.data.table)}`);
    if (index < position) throw bad(n, `${spec.model} row after the ${tables[position]?.model ?? ''} rows: the rows are out of order`);
    position = index;
    const problem = spec.problem(row.data.row);
    if (problem !== null) throw bad(n, `${spec.model} row not valid: ${problem}`);
    if (target === 'postgres' && NUL_ESCAPE.test(line)) throw bad(n, `${spec.model} row holds a NUL character, which PostgreSQL text cannot store`);
    counts.set(spec.model, (counts.get(spec.model) ?? 0) + 1);
  }
  if (!parsedHeader) throw new CommandError(`${file} holds no header; nothing was imported`);
  if (last[0] !== 0x0a || !trailer) throw new CommandError(`${file} ends at line ${n} without its end line: the file is truncated; nothing was imported`);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (trailer.rows !== total) throw new CommandError(`${file}: the end line says ${trailer.rows} rows, the file holds ${total}; nothing was imported`);
  const sha256 = digest.digest('hex');
  if (sha256 !== trailer.sha256) throw new CommandError(`${file}: the content does not match the SHA-256 in its end line: the file was changed or damaged; nothing was imported`);
  for (const t of tables) {
    const expected = parsedHeader.tables[t.model] ?? 0;
    const found = counts.get(t.model) ?? 0;
    if (expected !== found) throw new CommandError(`${file}: the header says ${expected} ${t.model} rows, the file holds ${found}; nothing was imported`);
  }
  return { header: parsedHeader, rows: total, sha256 };
}

/** Rows per table, the readiness probe's own IntegrationHealth row not counted. */
async function dataRows(db: Reader, tables: readonly Table[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const t of tables) {
    let rows = await t.count(db);
    if (t.model === 'IntegrationHealth' && (await db.integrationHealth.count({ where: { name: PROBE_ROW } })) > 0) rows -= 1;
    if (rows > 0) counts.set(t.model, rows);
  }
  return counts;
}

function notEmpty(counts: Map<string, number>): string {
  return [...counts].map(([model, rows]) => `${model} ${rows}`).join(', ');
}

/** Opens the target without writing to it: the migrations are checked before anything else. */
async function openTarget(url: string): Promise<{ db: Db; engine: DatabaseEngine; label: string }> {
  const { databaseEngine, openDatabase, withoutCredentials } = await import('@parley/db');
  const engine = databaseEngine(url);
  let label = withoutCredentials(url);
  if (engine === 'sqlite') {
    const file = databaseFile(url);
    label = file;
    // Opening would create an empty file: the target is created (and migrated) by parley db migrate.
    if (!fs.existsSync(file)) throw new CommandError(`no database at ${file} (DATABASE_URL): create it with \`parley db migrate\` first; nothing was imported`);
  }
  const db = openDatabase(url);
  try {
    if (engine === 'sqlite') {
      await db.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
      await db.$queryRawUnsafe('PRAGMA foreign_keys = ON');
    } else {
      await db.$queryRawUnsafe('SELECT 1');
    }
  } catch (error) {
    await db.$disconnect().catch(() => undefined);
    throw new CommandError(`cannot reach the ${engineName(engine)} database at DATABASE_URL: ${withoutCredentials((error as Error).message)}`);
  }
  return { db, engine, label };
}

export const dbImport: Command = {
  path: ['db', 'import'],
  usage: 'parley db import --from FILE',
  summary: 'load a file parley db export wrote into an empty, migrated database',
  help: [
    'Loads FILE into the database at DATABASE_URL (PostgreSQL or SQLite; either engine can be the',
    'source of the export). Refused, with nothing written:',
    '  - a target not migrated to exactly this program\'s migrations (run parley db migrate on it first);',
    '  - a target that holds any row (the readiness probe\'s own IntegrationHealth row aside): import',
    '    into a new database, or drop and re-create it;',
    '  - a file that is not a whole export: every line is checked (zod) before the first insert, and the',
    '    error names the line; a file cut short or altered fails its end line\'s row count or SHA-256;',
    '  - an export made at other migrations than this program\'s.',
    '',
    'Rows are inserted in foreign-key order, in batches, inside ONE transaction: a failure leaves the',
    'target empty. Before committing, every table\'s count is checked against the file\'s header. Rows',
    'keep their ids, versions and timestamps. Then start the API and the workers with this DATABASE_URL.',
    '',
    '  --from FILE   the export to load',
    '',
    'Needs DATABASE_URL only.',
  ].join('\n'),
  options: { from: { type: 'string' } },
  positionals: [],
  async run(ctx, { values }) {
    const opts = optionValues(this, options, values);
    const started = Date.now();
    const url = ctx.settings().DATABASE_URL;
    const { Prisma, SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS, WRITE_LOCK_KEY, withoutCredentials } = await import('@parley/db');
    const tables = transferTables(Prisma);
    tablesCoverSchema(tables, Prisma);
    const expectedFor = (engine: DatabaseEngine): readonly string[] => (engine === 'postgres' ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS);

    const file = path.resolve(opts.from);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new CommandError(`${file}: no such file`);

    const { db, engine, label } = await openTarget(url);
    try {
      const difference = migrationDifference(await appliedMigrations(db), expectedFor(engine));
      if (difference !== null) {
        throw new CommandError(`the target ${engineName(engine)} database ${difference}: run \`parley db migrate\` with this DATABASE_URL first; nothing was imported`);
      }
      const present = await dataRows(db, tables);
      if (present.size > 0) {
        throw new CommandError(`the target ${engineName(engine)} database is not empty (${notEmpty(present)}): import into a new database; nothing was imported`);
      }

      const checked = await checkFile(file, tables, engine);
      const { header } = checked;
      const sourceDifference = migrationDifference(header.migrations, expectedFor(header.engine));
      if (sourceDifference !== null) {
        throw new CommandError(
          `${file} was exported from a ${engineName(header.engine)} database that ${sourceDifference} compared with this program: import it with the program version that exported it; nothing was imported`,
        );
      }

      const byModel = new Map(tables.map((t) => [t.model as string, t]));
      try {
        await db.$transaction(
          async (tx) => {
            // No process writes meanwhile on PostgreSQL: every write transaction takes this lock first.
            if (engine === 'postgres') await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`);
            const now = await dataRows(tx, tables);
            if (now.size > 0) throw new CommandError(`the target database is no longer empty (${notEmpty(now)}): another process writes to it; nothing was imported`);
            await tx.integrationHealth.deleteMany({ where: { name: PROBE_ROW } });

            const digest = newDigest();
            let batch: unknown[] = [];
            let batchTable: Table | undefined;
            const flush = async () => {
              if (batchTable && batch.length > 0) await batchTable.insert(tx, batch);
              batch = [];
            };
            let n = 0;
            for await (const line of lines(file)) {
              n += 1;
              if (n === 1) {
                digest.update(`${line}\n`);
                continue;
              }
              const value: unknown = JSON.parse(line);
              if (typeof value === 'object' && value !== null && 'end' in value) break;
              digest.update(`${line}\n`);
              const row = rowLineSchema.parse(value);
              const spec = byModel.get(row.table);
              if (!spec) throw new CommandError(`${file} line ${n}: unknown table ${row.table}`);
              if (spec !== batchTable) {
                await flush();
                batchTable = spec;
              }
              batch.push(row.row);
              if (batch.length >= INSERT_BATCH) await flush();
            }
            await flush();
            if (digest.digest('hex') !== checked.sha256) throw new CommandError(`${file} changed while it was being imported`);
            for (const t of tables) {
              const rows = await t.count(tx);
              const expected = header.tables[t.model] ?? 0;
              if (rows !== expected) throw new CommandError(`${t.model}: ${rows} rows after the import, the export's header says ${expected}`);
            }
          },
          { maxWait: 10_000, timeout: WRITE_TIMEOUT_MS },
        );
      } catch (error) {
        const reason = error instanceof CommandError ? error.message : withoutCredentials((error as Error).message).split('\n').filter(Boolean).slice(-3).join(' ');
        throw new CommandError(`import failed and was rolled back, the target is as it was: ${reason}`);
      }

      ctx.out.line(
        `imported ${checked.rows} rows from ${file} (exported from ${engineName(header.engine)} at ${header.exportedAt}) into the ${engineName(engine)} database ${label} in ${Date.now() - started} ms; every table's count matches the export`,
      );
      for (const line of table(tables.map((t) => [`  ${t.model}`, String(header.tables[t.model] ?? 0)]))) ctx.out.line(line);
      ctx.out.line('Start the API and the workers with this DATABASE_URL.');
      return EXIT.ok;
    } finally {
      await db.$disconnect().catch(() => undefined);
    }
  },
};
