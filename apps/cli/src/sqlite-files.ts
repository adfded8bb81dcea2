import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CommandError } from './errors';

/** How long a statement waits for another process's lock (as the processes themselves do). */
const BUSY_TIMEOUT_MS = 5000;
/** The most pages better-sqlite3 lets one backup step transfer. */
const ALL_PAGES = 0x7fffffff;

/** `20261129T205800123Z`: sortable as text, no characters a filesystem dislikes. */
export function fileStamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

export const BACKUP_NAME = /^parley-\d{8}T\d{9}Z\.db$/;

export function backupName(at: Date): string {
  return `parley-${fileStamp(at)}.db`;
}

/** The SQLite file DATABASE_URL names (`file:` URLs only, as the config requires). */
export function databaseFile(databaseUrl: string): string {
  if (!databaseUrl.startsWith('file:')) {
    throw new CommandError('backup and restore copy a SQLite file, and DATABASE_URL is not one: on PostgreSQL use pg_dump and pg_restore, or the provider\'s backups (docs/scaling.md)');
  }
  const file = databaseUrl.replace(/^file:/, '').replace(/\?.*$/, '');
  if (file === ':memory:' || file === '') throw new CommandError('DATABASE_URL names no file to back up or restore');
  return path.resolve(file);
}

export interface DatabaseFileCheck {
  /** Migrations recorded as finished in `_prisma_migrations`. */
  migrations: number;
  negotiations: number;
}

/**
 * Opens a database file read-only and proves it whole and Parley's: `PRAGMA integrity_check`
 * answers ok and the migrations table exists with finished migrations. Throws a CommandError
 * that says what is wrong.
 */
export function checkDatabaseFile(file: string): DatabaseFileCheck {
  if (!fs.existsSync(file)) throw new CommandError(`${file}: no such file`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CommandError(`${file}: cannot be opened as SQLite: ${(error as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    let problems: string[];
    try {
      problems = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    } catch (error) {
      throw new CommandError(`${file}: not a usable SQLite database: ${(error as Error).message}`);
    }
    if (problems.length !== 1 || problems[0] !== 'ok') throw new CommandError(`${file}: integrity check failed: ${problems.slice(0, 5).join('; ')}`);
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").get();
    if (!table) throw new CommandError(`${file}: has no _prisma_migrations table; it is not a Parley database`);
    const migrations = (db.prepare('SELECT count(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL').get() as { n: number }).n;
    if (migrations === 0) throw new CommandError(`${file}: no finished migration; it is not a Parley database`);
    const hasNegotiations = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'Negotiation'").get();
    const negotiations = hasNegotiations ? (db.prepare('SELECT count(*) AS n FROM "Negotiation"').get() as { n: number }).n : 0;
    return { migrations, negotiations };
  } finally {
    db.close();
  }
}

/**
 * A consistent copy of a live database through SQLite's online backup API (other processes
 * keep reading and writing meanwhile; what is committed in the WAL is included). The copy is
 * then switched to the rollback journal, so it is one self-contained file that opening it
 * never adds `-wal`/`-shm` files to (the processes set WAL again when they open it).
 */
export async function onlineCopy(source: string, destination: string): Promise<void> {
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Every page in one step: a backup copied in slices starts over whenever another process
    // commits between two slices, so on a busy database it might never finish. One step reads
    // a single snapshot (under WAL, writers are not blocked meanwhile).
    await db.backup(destination, { progress: () => ALL_PAGES });
  } finally {
    db.close();
  }
  const copy = new Database(destination, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

/** Removes a file and its WAL companions, if present. */
export function removeWithCompanions(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) fs.rmSync(f, { force: true });
}
