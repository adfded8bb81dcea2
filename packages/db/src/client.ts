import fs from 'node:fs';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { Prisma, PrismaClient } from './generated/prisma/client';

export { Prisma, PrismaClient };
export type Db = PrismaClient;
export type Tx = Prisma.TransactionClient;

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/** Milliseconds a statement waits for another process's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export function sqlitePath(databaseUrl: string): string {
  return databaseUrl.replace(/^file:/, '');
}

/** Opens the SQLite database through Prisma's better-sqlite3 adapter (one connection per process). */
export function openDatabase(databaseUrl: string): Db {
  const file = sqlitePath(databaseUrl);
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  return new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: databaseUrl, timeout: BUSY_TIMEOUT_MS }) });
}

export interface DatabaseCheck {
  wal: boolean;
  writable: boolean;
  foreignKeys: boolean;
}

/**
 * Sets WAL, the busy timeout and foreign keys, and proves the file is writable.
 * Throws a DatabaseError that says what to fix when any of them fails.
 */
export async function prepareDatabase(db: Db): Promise<DatabaseCheck> {
  let mode: string;
  try {
    const rows = await db.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode = WAL');
    mode = String(rows[0]?.journal_mode ?? '');
    await db.$queryRawUnsafe(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    await db.$queryRawUnsafe('PRAGMA foreign_keys = ON');
    await db.$queryRawUnsafe('PRAGMA synchronous = NORMAL');
  } catch (error) {
    throw new DatabaseError(`cannot open the SQLite database: ${(error as Error).message}. Check DATABASE_URL and that the directory exists and is writable.`);
  }
  if (mode.toLowerCase() !== 'wal') {
    throw new DatabaseError(`SQLite refused WAL mode (journal_mode is "${mode}"). Put DATABASE_URL on a local disk volume that supports shared memory (not a network filesystem).`);
  }
  const check = await checkDatabase(db);
  if (!check.writable) {
    throw new DatabaseError('the SQLite database is not writable. Check the volume permissions for the user running Parley, and that migrations ran (npm run db:migrate).');
  }
  return check;
}

/** The readiness probe: WAL on, foreign keys on, and a real write succeeds. */
export async function checkDatabase(db: Db): Promise<DatabaseCheck> {
  const [journal] = await db.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode');
  const [fk] = await db.$queryRawUnsafe<{ foreign_keys: bigint | number }[]>('PRAGMA foreign_keys');
  let writable = true;
  try {
    await withTx(db, (tx) => tx.integrationHealth.upsert({ where: { name: 'db-probe' }, create: { name: 'db-probe' }, update: { lastError: null } }), 1);
  } catch {
    writable = false;
  }
  return { wal: String(journal?.journal_mode).toLowerCase() === 'wal', writable, foreignKeys: Number(fk?.foreign_keys ?? 0) === 1 };
}

function isBusy(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message} ${String((error as { code?: unknown }).code ?? '')}` : String(error);
  return /SQLITE_BUSY|database is locked|SocketTimeout|Timed out during query execution/i.test(text);
}

/**
 * Runs `fn` in a write transaction. The first statement takes SQLite's write lock at once
 * (the effect of BEGIN IMMEDIATE), so two processes never both read a snapshot and then
 * collide on the upgrade; a busy database is retried a few times before giving up.
 *
 * Every write goes through here: the adapter has one connection per process, and a write
 * issued outside a transaction could otherwise land inside another job's open transaction.
 */
export async function withTx<T>(db: Db, fn: (tx: Tx) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.$transaction(
        async (tx) => {
          await tx.$executeRawUnsafe('UPDATE "IntegrationHealth" SET "name" = "name" WHERE 0');
          return fn(tx);
        },
        { maxWait: 10_000, timeout: 30_000 },
      );
    } catch (error) {
      if (attempt >= attempts || !isBusy(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
    }
  }
}

/** True when a Prisma error is a unique-constraint violation (an idempotent duplicate). */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}
