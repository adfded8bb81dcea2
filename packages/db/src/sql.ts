import type { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import type { DatabaseEngine } from './client';

/** A connection as Prisma's driver adapters hand it out: the same interface for SQLite and PostgreSQL. */
export type DriverAdapter = Awaited<ReturnType<PrismaBetterSQLite3['connect']>>;
type DriverTransaction = Awaited<ReturnType<DriverAdapter['startTransaction']>>;
type DriverQuery = Parameters<DriverAdapter['queryRaw']>[0];
type ArgType = DriverQuery['argTypes'][number];

/** What a raw statement binds: a Date is bound as Prisma binds a DateTime on each engine. */
export type SqlArg = string | number | bigint | boolean | Date | null;

/** Raw statements on one engine: `?` placeholders on SQLite, `$n` on PostgreSQL. */
export interface Sql {
  readonly engine: DatabaseEngine;
  /**
   * The rows a statement answers, one object per row keyed by column name; a DateTime column's
   * values are Dates, a Json column's parsed, a boolean column's booleans, as Prisma's client
   * returns them (a column of an expression has no declared type on SQLite: as the driver gives it).
   */
  query<T extends object>(sql: string, ...args: SqlArg[]): Promise<T[]>;
  /** The number of rows a statement changed. */
  execute(sql: string, ...args: SqlArg[]): Promise<number>;
}

/** Raw SQL on a database opened by openDatabase, without Prisma's query compiler (see sqlOf). */
export interface SqlDb extends Sql {
  /**
   * Runs `fn` in a write transaction that holds the database's write lock from its start, and
   * retries a busy database a few times, exactly as withTx does for Prisma.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

export interface TransactionOptions {
  /** Tries in all when the database is busy (isBusy). @defaultValue 5 */
  attempts?: number;
  /**
   * The one scope the transaction's read-then-writes are confined to (`negotiationScope`: a
   * negotiation's rows; `mailboxScope`: a mailbox's). On PostgreSQL it then runs beside transactions of other
   * scopes and waits only for its own scope's and for unscoped ones; on SQLite it changes
   * nothing (one writer). Unset: the whole database's write lock.
   */
  scope?: string;
  /**
   * How long a transaction may wait to begin: for this process's other transaction on SQLite's
   * one connection, for a free connection of the PostgreSQL pool. @defaultValue TRANSACTION_MAX_WAIT_MS
   */
  maxWaitMs?: number;
}

/** As withTx's `maxWait`: past it the transaction fails instead of queueing without end. */
export const TRANSACTION_MAX_WAIT_MS = 10_000;

/**
 * The key of the advisory lock every PostgreSQL write transaction takes first. One key for the
 * whole database: an unscoped transaction takes it exclusively, so it sees no concurrent writer,
 * exactly as under SQLite's single writer; a scoped one takes it shared, then its scope's key
 * (SCOPE_LOCK_SPACE) exclusively, so it waits for unscoped writers and for its own scope only
 * (docs/scaling.md).
 */
export const WRITE_LOCK_KEY = 727_021_001;

/** The first key of a scope's two-key advisory lock (the second is the scope's hash). */
export const SCOPE_LOCK_SPACE = 727_021_002;

/** The scope of a negotiation's transactions: its own rows (the negotiation, its messages, outbox, trail). */
export function negotiationScope(negotiationId: string): string {
  return `negotiation:${negotiationId}`;
}

/** The scope of a mailbox's sync: its cursor, and the inbound messages it records. */
export function mailboxScope(mailbox: string): string {
  return `mailbox:${mailbox}`;
}

/** A scope's lock key: FNV-1a over its UTF-16 units, as a signed 32-bit integer (a collision only serialises two scopes). */
export function scopeLockKey(scope: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < scope.length; i += 1) {
    hash ^= scope.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/**
 * The statement a PostgreSQL write transaction starts with (null on SQLite: BEGIN IMMEDIATE takes
 * the lock). Scoped: the database's key shared, then the scope's exclusively, in that order in
 * every transaction, so no two scoped transactions wait for each other in a cycle.
 */
export function writeLockStatement(engine: DatabaseEngine, scope?: string): string | null {
  if (engine !== 'postgres') return null;
  if (scope === undefined) return `SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`;
  return `SELECT pg_advisory_xact_lock_shared(${WRITE_LOCK_KEY}), pg_advisory_xact_lock(${SCOPE_LOCK_SPACE}, ${scopeLockKey(scope)})`;
}

/**
 * True when a write failed only because another writer held the lock, so running it again may
 * succeed. SQLite: SQLITE_BUSY (the adapters report it as a socket timeout). PostgreSQL:
 * serialization failure (40001), deadlock (40P01), lock not available (55P03), Prisma's
 * write-conflict code (P2034). The driver adapters put the database's own code in the error's
 * cause; Prisma's errors carry it in the message or `code`.
 */
export function isBusy(error: unknown): boolean {
  const cause = error instanceof Error && typeof error.cause === 'object' && error.cause !== null ? (error.cause as Record<string, unknown>) : {};
  const text =
    error instanceof Error
      ? [error.message, (error as { code?: unknown }).code, cause.kind, cause.code, cause.originalCode].map((part) => String(part ?? '')).join(' ')
      : String(error);
  return /SQLITE_BUSY|database is locked|SocketTimeout|Timed out during query execution|TransactionWriteConflict|\b40001\b|\b40P01\b|\b55P03\b|\bP2034\b|deadlock detected|could not serialize/i.test(text);
}

/**
 * Runs `attempt` up to `attempts` times while it fails because the database is busy (isBusy),
 * pausing a little longer before each try: withTx's and SqlDb.transaction's retry.
 */
export async function retryWhileBusy<T>(attempt: () => Promise<T>, attempts: number): Promise<T> {
  for (let tried = 1; ; tried += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (tried >= attempts || !isBusy(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * tried + Math.random() * 50));
    }
  }
}

function argType(arg: SqlArg): ArgType {
  if (arg instanceof Date) return { scalarType: 'datetime', arity: 'scalar' };
  switch (typeof arg) {
    case 'string':
      return { scalarType: 'string', arity: 'scalar' };
    case 'number':
      return { scalarType: Number.isInteger(arg) ? 'int' : 'float', arity: 'scalar' };
    case 'bigint':
      return { scalarType: 'bigint', arity: 'scalar' };
    case 'boolean':
      return { scalarType: 'boolean', arity: 'scalar' };
    default:
      return { scalarType: 'unknown', arity: 'scalar' };
  }
}

function statement(sql: string, args: SqlArg[]): DriverQuery {
  return { sql, args, argTypes: args.map(argType) };
}

/**
 * A driver adapter's error says only its kind ("TableDoesNotExist"); the database's own words
 * are in its cause. They become the message, as Prisma's errors carry them, so a log line or an
 * error report says what failed. The error is rethrown as it is otherwise (isBusy reads its cause).
 */
function withDriverMessage(error: unknown): unknown {
  if (!(error instanceof Error) || error.name !== 'DriverAdapterError' || typeof error.cause !== 'object' || error.cause === null) return error;
  const cause = error.cause as Record<string, unknown>;
  const words = [cause.originalMessage, cause.message].find((part): part is string => typeof part === 'string' && part.length > 0);
  // Without words, what the adapter names instead: DatabaseNotReachable's host and port.
  const named = Object.entries(cause)
    .filter(([key, value]) => key !== 'kind' && key !== 'originalCode' && (typeof value === 'string' || typeof value === 'number'))
    .map(([key, value]) => `${key} ${String(value)}`)
    .join(', ');
  const detail = words ?? named;
  if (detail && !error.message.includes(detail)) error.message = `${error.message}: ${detail}`;
  return error;
}

type Converter = (value: unknown) => unknown;
const asIs: Converter = (value) => value;
const toDate: Converter = (value) => (value === null || value instanceof Date ? value : new Date(value as string | number));
const toJson: Converter = (value) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value);
const toNumber: Converter = (value) => (value === null || typeof value === 'number' ? value : Number(value));
const toBoolean: Converter = (value) => (value === null || typeof value === 'boolean' ? value : Boolean(Number(value)));

/**
 * How a column's values become what Prisma's client returns for it. The adapters hand SQLite's
 * integers over as decimal strings, DateTime columns as ISO strings (SQLite as stored,
 * PostgreSQL normalised to +00:00), Json as its text and SQLite's booleans as 0/1; the client
 * turns them into a number, a Date, the parsed value and a boolean by the column's type, and so
 * does this. Other columns come as the adapter gives them (strings; a 64-bit integer, such as a
 * COUNT, as a decimal string). The codes are `ColumnTypeEnum` of @prisma/driver-adapter-utils.
 */
function converterFor(type: number): Converter {
  switch (type) {
    case 0: // Int32
    case 2: // Float
    case 3: // Double
      return toNumber;
    case 5: // Boolean
      return toBoolean;
    case 10: // DateTime
      return toDate;
    case 11: // Json
      return toJson;
    default:
      return asIs;
  }
}

const sqls = new WeakSet<object>();

/** True for a Sql made here (sqlOf(db), or the transaction SqlDb.transaction hands out), false for a Prisma client. */
export function isSqlTx(tx: object): tx is Sql {
  return sqls.has(tx);
}

function runner(engine: DatabaseEngine, target: () => Promise<Pick<DriverAdapter, 'queryRaw' | 'executeRaw'>>): Sql {
  const it: Sql = {
    engine,
    async query<T extends object>(sql: string, ...args: SqlArg[]): Promise<T[]> {
      try {
        const result = await (await target()).queryRaw(statement(sql, args));
        const convert = result.columnTypes.map(converterFor);
        return result.rows.map((row) => Object.fromEntries(result.columnNames.map((name, i) => [name, convert[i]!(row[i])])) as T);
      } catch (error) {
        throw withDriverMessage(error);
      }
    },
    async execute(sql: string, ...args: SqlArg[]): Promise<number> {
      try {
        return await (await target()).executeRaw(statement(sql, args));
      } catch (error) {
        throw withDriverMessage(error);
      }
    },
  };
  sqls.add(it);
  return it;
}

/**
 * Raw SQL over a driver adapter's connection. A transaction is begun by the adapter (on SQLite
 * under its in-process mutex, so it never interleaves with another transaction on the same
 * connection, Prisma's included) and ended with COMMIT or ROLLBACK here, as Prisma's own
 * transaction manager ends it with these adapters.
 */
export function createSqlDb(engine: DatabaseEngine, connect: () => Promise<DriverAdapter>): SqlDb {
  const end = async (tx: DriverTransaction, how: 'COMMIT' | 'ROLLBACK') => {
    await tx.executeRaw(statement(how, []));
    await (how === 'COMMIT' ? tx.commit() : tx.rollback());
  };
  // Rolled back, and its connection (or SQLite's mutex) given back even when the ROLLBACK fails.
  const abandon = (tx: DriverTransaction): Promise<void> => end(tx, 'ROLLBACK').catch(() => tx.rollback().catch(() => undefined));
  const begin = async (maxWaitMs: number): Promise<DriverTransaction> => {
    const starting = (await connect()).startTransaction();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no write transaction could begin within ${maxWaitMs} ms: another transaction holds this process's SQLite connection, or every connection of the PostgreSQL pool is taken`)), maxWaitMs);
    });
    try {
      return await Promise.race([starting, late]);
    } catch (error) {
      // Given up on: a transaction that begins after all is ended at once, freeing what it holds.
      starting.then(abandon, () => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
  const once = async <T>(fn: (tx: Sql) => Promise<T>, maxWaitMs: number, scope: string | undefined): Promise<T> => {
    const tx = await begin(maxWaitMs);
    let result: T;
    try {
      const sql = runner(engine, async () => tx);
      const lock = writeLockStatement(engine, scope);
      if (lock) await sql.execute(lock);
      result = await fn(sql);
      await end(tx, 'COMMIT');
    } catch (error) {
      await abandon(tx);
      throw error;
    }
    return result;
  };
  const db: SqlDb = {
    ...runner(engine, connect),
    transaction<T>(fn: (tx: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      return retryWhileBusy(() => once(fn, options.maxWaitMs ?? TRANSACTION_MAX_WAIT_MS, options.scope), options.attempts ?? 5);
    },
  };
  sqls.add(db);
  return db;
}
