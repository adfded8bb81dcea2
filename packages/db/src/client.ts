import fs from 'node:fs';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from './generated/prisma/client';
import { PrismaClient as PostgresPrismaClient } from './generated/prisma-pg/client';
import { POSTGRES_MIGRATIONS } from './migrations';
import { createSqlDb, retryWhileBusy, writeLockStatement, type DriverAdapter, type SqlDb, type TransactionOptions } from './sql';
import { cachedPrepare, type RawStatement } from './statement-cache';

export { Prisma, PrismaClient };
export type Db = PrismaClient;
export type Tx = Prisma.TransactionClient;

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/** Milliseconds a statement waits for another process's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/** Connections each process keeps to PostgreSQL (every open transaction holds one). */
export const POSTGRES_POOL_SIZE = 10;

/**
 * PostgreSQL ends a session left idle inside a transaction this long. A host cut off the network
 * mid-transaction holds the write lock (withTx) until its session ends, and without this the
 * server notices only when TCP keepalive gives up, hours later, while every other host's writes
 * wait (test/hosts/partitioned-transaction.e2e.test.ts). Parley's transactions never wait on
 * anything but the database, so a healthy one is never idle this long.
 */
export const POSTGRES_IDLE_IN_TRANSACTION_MS = 15_000;

/**
 * A statement waiting this long for a lock (the write lock included) fails with 55P03, which
 * withTx retries. Without it, sessions of a cut-off host queued behind the write lock would
 * each take it in turn and sit idle until the timeout above, holding every host's writes for
 * a multiple of it.
 */
export const POSTGRES_LOCK_TIMEOUT_MS = 10_000;

export type DatabaseEngine = 'sqlite' | 'postgres';

/** Which engine a DATABASE_URL names: `file:` is SQLite, `postgresql://` (or `postgres://`) PostgreSQL. */
export function databaseEngine(databaseUrl: string): DatabaseEngine {
  if (/^file:/.test(databaseUrl)) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return 'postgres';
  throw new DatabaseError('DATABASE_URL must be a SQLite file URL (file:./data/parley.db) or a PostgreSQL URL (postgresql://user:password@host:5432/parley)');
}

export function sqlitePath(databaseUrl: string): string {
  return databaseUrl.replace(/^file:/, '');
}

/** The driver's own words from a Prisma error (its "Message: `...`"), without the invocation noise. */
function driverMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const quoted = /Message: `([^`]*)`/.exec(text);
  return withoutCredentials((quoted?.[1] ?? text).trim());
}

/** A database URL or driver message with any password taken out, fit for a log line or an error. */
export function withoutCredentials(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@');
}

const engines = new WeakMap<object, DatabaseEngine>();
const sqlDbs = new WeakMap<object, SqlDb>();
const files = new WeakMap<object, string>();

/** The engine behind a client opened by openDatabase. */
export function engineOf(db: Db): DatabaseEngine {
  return engines.get(db) ?? 'sqlite';
}

/**
 * Raw SQL on the connection (SQLite) or pool (PostgreSQL) of a client opened by openDatabase,
 * without Prisma's client: no query compiler is loaded or run for it. Prisma loads its compiler
 * (WebAssembly, about 50 MiB of memory) at its first query, so a process that only ever speaks
 * through here (the API taking webhooks) never pays for it. Both share the one connection, its
 * pragmas and, on SQLite, the adapter's transaction mutex.
 */
export function sqlOf(db: Db): SqlDb {
  const sql = sqlDbs.get(db);
  if (!sql) throw new DatabaseError('sqlOf needs a client opened by openDatabase');
  return sql;
}

/**
 * Makes a wrapper of a client (a Proxy that watches or interleaves its calls, in a test) answer
 * for the client it wraps: its engine, and its raw SQL through `sql` (by default the client's own).
 */
export function aliasDatabase(alias: Db, of: Db, sql: SqlDb = sqlOf(of)): void {
  engines.set(alias, engineOf(of));
  sqlDbs.set(alias, sql);
}

interface AdapterFactory {
  connect(): Promise<DriverAdapter>;
}

/**
 * Makes the factory hand out one connection, opened on first use (by Prisma or by sqlOf), and
 * answers a way to close it whoever opened it. Prisma disposes the connection on $disconnect;
 * a connection it disposed is opened afresh on the next use.
 */
function shareConnection(factory: AdapterFactory): { connect: () => Promise<DriverAdapter>; close: () => Promise<void> } {
  const open = factory.connect.bind(factory);
  let current: Promise<DriverAdapter> | undefined;
  const connect = (): Promise<DriverAdapter> => {
    if (current) return current;
    const opening: Promise<DriverAdapter> = open().then(
      (adapter) => {
        const dispose = adapter.dispose.bind(adapter);
        let disposed: Promise<void> | undefined;
        adapter.dispose = () => {
          // A late dispose of this connection must not forget a newer one.
          if (current === opening) current = undefined;
          return (disposed ??= dispose());
        };
        return adapter;
      },
      (error: unknown) => {
        // Not kept: the next use tries again, as Prisma does.
        if (current === opening) current = undefined;
        throw error;
      },
    );
    current = opening;
    return opening;
  };
  factory.connect = connect;
  return { connect, close: async () => (current ? (await current).dispose() : undefined) };
}

/**
 * Opens the database DATABASE_URL names: SQLite through Prisma's better-sqlite3 adapter (one
 * connection per process), PostgreSQL through the pg adapter (a pool of POSTGRES_POOL_SIZE).
 * The connection is shared with sqlOf(db), and $disconnect closes it.
 *
 * Both clients are generated from one data model (prisma/schema.prisma; the PostgreSQL schema
 * is derived from it by scripts/prisma-schemas.mjs), so their model APIs are the same; the
 * PostgreSQL client is typed as the SQLite one, the only cast between the two.
 */
export function openDatabase(databaseUrl: string): Db {
  const engine = databaseEngine(databaseUrl);
  let db: Db;
  let shared: ReturnType<typeof shareConnection>;
  let sqliteFile: string | undefined;
  if (engine === 'postgres') {
    const adapter = new PrismaPg({
      connectionString: databaseUrl,
      max: POSTGRES_POOL_SIZE,
      idle_in_transaction_session_timeout: POSTGRES_IDLE_IN_TRANSACTION_MS,
      lock_timeout: POSTGRES_LOCK_TIMEOUT_MS,
      keepAlive: true,
    });
    shared = shareConnection(adapter);
    db = new PostgresPrismaClient({ adapter }) as unknown as Db;
  } else {
    const file = sqlitePath(databaseUrl);
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    sqliteFile = file === ':memory:' ? file : path.resolve(file);
    const adapter = new ImmediateBetterSQLite3({ url: databaseUrl, timeout: BUSY_TIMEOUT_MS });
    shared = shareConnection(adapter);
    db = new PrismaClient({ adapter });
  }
  const disconnect = db.$disconnect.bind(db);
  db.$disconnect = async () => {
    try {
      await disconnect();
    } finally {
      await shared.close();
    }
  };
  engines.set(db, engine);
  sqlDbs.set(db, createSqlDb(engine, shared.connect));
  if (sqliteFile !== undefined) files.set(db, sqliteFile);
  return db;
}

/** The SQLite file a database opened by openDatabase lives in (absolute); undefined for PostgreSQL. */
export function databaseFileOf(db: Db): string | undefined {
  return files.get(db);
}

/**
 * Prisma's better-sqlite3 adapter, its transactions begun with `BEGIN IMMEDIATE`: the write lock
 * is taken by the transaction's first statement (waiting up to the busy timeout for another
 * process's), so nothing can slip in before it. With the adapter's plain `BEGIN`, a read another
 * job ran on the process's one connection between the `BEGIN` and the transaction's own first
 * statement opened a snapshot inside the transaction; a write committed by another process after
 * that made the lock upgrade fail at once (SQLITE_BUSY, no wait helps) and the transaction ran
 * again: about one in twenty in a busy campaign (docs/benchmarks.md). The adapter prepares
 * exactly "BEGIN" on its connection (`client`) to start a transaction; an adapter that no longer
 * has that connection fails here, at the first connect, rather than silently losing the lock.
 *
 * The adapter takes its transaction mutex before it runs that `BEGIN` and does not release it
 * when the `BEGIN` throws: a `BEGIN IMMEDIATE` that waited out the busy timeout behind another
 * process's write lock would leave every later transaction of this process waiting for the
 * mutex. So the `BEGIN IMMEDIATE` keeps its error, the adapter gets its transaction, and
 * startTransaction releases the mutex through it and throws the error (SQLITE_BUSY: withTx and
 * SqlDb.transaction retry it).
 *
 * Every other statement is prepared once per SQL text and reused (statement-cache.ts).
 */
class ImmediateBetterSQLite3 extends PrismaBetterSQLite3 {
  override async connect(): ReturnType<PrismaBetterSQLite3['connect']> {
    const adapter = await super.connect();
    const client: unknown = (adapter as unknown as { client?: unknown }).client;
    if (typeof client !== 'object' || client === null || typeof (client as { prepare?: unknown }).prepare !== 'function') {
      throw new DatabaseError('the SQLite adapter has no better-sqlite3 connection where Parley expects one: check @prisma/adapter-better-sqlite3 (withTx needs its transactions to begin IMMEDIATE)');
    }
    const connection = client as { prepare: (sql: string) => unknown };
    const reuse = cachedPrepare(connection.prepare.bind(connection) as (sql: string) => RawStatement);
    // The outcome of the latest BEGIN. Read by the transaction that ran it, right after: it
    // holds the adapter's mutex from its BEGIN on, so no other BEGIN runs in between. (Cleared
    // when a transaction was entered, it could be cleared by a second transaction entering while
    // the first's failed BEGIN was still on its way back, which then went on with none open.)
    let beginFailed: { error: unknown } | undefined;
    const begin = {
      run: () => {
        try {
          const done = reuse('BEGIN IMMEDIATE').bind([]).run();
          beginFailed = undefined;
          return done;
        } catch (error) {
          beginFailed = { error };
          return undefined;
        }
      },
    };
    connection.prepare = (sql: string) => (sql === 'BEGIN' ? begin : reuse(sql));
    const start = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => {
      const tx = await start(isolationLevel);
      const failed = beginFailed as { error: unknown } | undefined;
      beginFailed = undefined;
      if (failed) {
        // No transaction is open: only the mutex to give back.
        await tx.rollback();
        throw sqliteError(failed.error);
      }
      return tx;
    };
    return adapter;
  }
}

/**
 * better-sqlite3's error as an Error of this realm, its message and code kept (isBusy reads
 * them). The driver makes its errors with the class it was first loaded with, which in a process
 * that loads the module more than once (a test runner's module registries) is not this one's.
 */
function sqliteError(error: unknown): Error {
  if (error instanceof Error) return error;
  const { message, code } = (typeof error === 'object' && error !== null ? error : {}) as { message?: unknown; code?: unknown };
  return Object.assign(new Error(typeof message === 'string' ? message : String(error), { cause: error }), { name: 'SqliteError', code });
}

export interface DatabaseCheck {
  wal: boolean;
  writable: boolean;
  foreignKeys: boolean;
}

/**
 * SQLite: sets WAL, the busy timeout and foreign keys, and proves the file is writable.
 * PostgreSQL: proves the server answers, every migration this code expects is applied, and a
 * write succeeds. Throws a DatabaseError that says what to fix when any of them fails.
 */
export async function prepareDatabase(db: Db): Promise<DatabaseCheck> {
  if (engineOf(db) === 'postgres') return preparePostgres(db);
  const sql = sqlOf(db);
  let mode: string;
  try {
    const rows = await sql.query<{ journal_mode: unknown }>('PRAGMA journal_mode = WAL');
    mode = String(rows[0]?.journal_mode ?? '');
    await sql.query(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    await sql.query('PRAGMA foreign_keys = ON');
    await sql.query('PRAGMA synchronous = NORMAL');
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

async function preparePostgres(db: Db): Promise<DatabaseCheck> {
  const sql = sqlOf(db);
  try {
    await sql.query('SELECT 1');
  } catch (error) {
    throw new DatabaseError(`cannot reach the PostgreSQL database: ${driverMessage(error)}. Check DATABASE_URL (host, port, database, user) and that the server accepts connections from this host.`);
  }
  let applied: string[];
  try {
    const rows = await sql.query<{ migration_name: unknown }>(
      'SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL',
    );
    applied = rows.map((row) => String(row.migration_name));
  } catch {
    applied = [];
  }
  const missing = POSTGRES_MIGRATIONS.filter((name) => !applied.includes(name));
  if (missing.length > 0) {
    throw new DatabaseError(`the PostgreSQL database lacks migration${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: run \`npx parley db migrate\` (or \`npm run db:migrate\`) with this DATABASE_URL first.`);
  }
  const check = await checkDatabase(db);
  if (!check.writable) throw new DatabaseError('the PostgreSQL database is not writable: check that the user in DATABASE_URL may write to Parley\'s tables.');
  return check;
}

/**
 * The readiness probe: a real write succeeds; on SQLite also WAL and foreign keys on. On
 * PostgreSQL both are inherent (it always logs ahead and enforces foreign keys): reported true.
 */
export async function checkDatabase(db: Db): Promise<DatabaseCheck> {
  const sql = sqlOf(db);
  if (sql.engine === 'postgres') return { wal: true, writable: await probeWrite(sql), foreignKeys: true };
  const [journal] = await sql.query<{ journal_mode: unknown }>('PRAGMA journal_mode');
  const [fk] = await sql.query<{ foreign_keys: unknown }>('PRAGMA foreign_keys');
  return { wal: String(journal?.journal_mode).toLowerCase() === 'wal', writable: await probeWrite(sql), foreignKeys: Number(fk?.foreign_keys ?? 0) === 1 };
}

/** Upserts the `db-probe` row of IntegrationHealth as Prisma's upsert would (updatedAt set on both paths). */
async function probeWrite(sql: SqlDb): Promise<boolean> {
  try {
    await sql.transaction(
      (tx) =>
        tx.execute(
          `INSERT INTO "IntegrationHealth" ("name", "updatedAt") VALUES ${valuesList(tx.engine, 1, ['', ''])} ON CONFLICT ("name") DO UPDATE SET "lastError" = NULL, "updatedAt" = excluded."updatedAt"`,
          'db-probe',
          new Date(),
        ),
      { attempts: 1 },
    );
    return true;
  } catch {
    return false;
  }
}

/** The `n`th parameter of a raw statement (from 1): `?` on SQLite, `$n` on PostgreSQL. */
export function placeholder(engine: DatabaseEngine, n: number): string {
  return engine === 'postgres' ? `$${n}` : '?';
}

/**
 * The VALUES list of a raw multi-row insert: `rows` tuples of `casts.length` placeholders, `?` on
 * SQLite, numbered `$n` on PostgreSQL with each column's cast (`::jsonb`; '' for none, and
 * ignored on SQLite), in row-major order as the parameters are passed.
 */
export function valuesList(engine: DatabaseEngine, rows: number, casts: readonly string[]): string {
  let n = 0;
  const tuple = () => `(${casts.map((cast) => `${placeholder(engine, (n += 1))}${engine === 'postgres' ? cast : ''}`).join(', ')})`;
  return Array.from({ length: rows }, tuple).join(', ');
}

const txEngines = new WeakMap<Tx, DatabaseEngine>();

/**
 * The engine of a transaction withTx opened, for raw SQL written in it (placeholders and casts
 * differ); undefined for a transaction opened any other way.
 */
export function engineOfTx(tx: Tx): DatabaseEngine | undefined {
  return txEngines.get(tx);
}

/**
 * Runs `fn` in a write transaction that holds the database's write lock from its start: on
 * SQLite the transaction begins IMMEDIATE (ImmediateBetterSQLite3), so two processes never both
 * read a snapshot and then collide on the upgrade; on PostgreSQL its first statement takes a
 * transaction-scoped advisory lock (`pg_advisory_xact_lock`), released at commit or rollback,
 * the same single-writer order across every process on every host. With a `scope` (the one
 * negotiation or mailbox its read-then-writes are confined to) it waits on PostgreSQL only for
 * unscoped writers and its own scope's (writeLockStatement). A busy database is retried a few
 * times before giving up.
 *
 * Every write goes through here: the SQLite adapter has one connection per process, and a
 * write issued outside a transaction could otherwise land inside another job's open transaction.
 */
export async function withTx<T>(db: Db, fn: (tx: Tx) => Promise<T>, attemptsOrOptions: number | Pick<TransactionOptions, 'attempts' | 'scope'> = 5): Promise<T> {
  const { attempts = 5, scope } = typeof attemptsOrOptions === 'number' ? { attempts: attemptsOrOptions } : attemptsOrOptions;
  const engine = engineOf(db);
  const takeLock = writeLockStatement(engine, scope);
  return retryWhileBusy(
    () =>
      db.$transaction(
        async (tx) => {
          txEngines.set(tx, engine);
          if (takeLock) await tx.$executeRawUnsafe(takeLock);
          return fn(tx);
        },
        { maxWait: 10_000, timeout: 30_000 },
      ),
    attempts,
  );
}

/** True when a Prisma error is a unique-constraint violation (an idempotent duplicate). */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/**
 * What names this database among others, for the fleet check (no URL, no secret): the engine and
 * the id Prisma gave the first migration when it was applied, random per database. Every process
 * on the same database (one SQLite file, one PostgreSQL database) reads the same value; a copy of
 * a SQLite file carries its original's.
 */
export async function databaseIdentity(db: Db): Promise<string> {
  const rows = await sqlOf(db).query<{ id: unknown }>('SELECT "id" FROM "_prisma_migrations" ORDER BY "started_at", "migration_name" LIMIT 1');
  const id = rows[0]?.id === undefined || rows[0].id === null ? undefined : String(rows[0].id);
  if (!id) throw new DatabaseError('the database has no applied migrations: run `npx parley db migrate` first');
  return `${engineOf(db)}:${id}`;
}
