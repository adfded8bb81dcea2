/**
 * Prepared statements kept for reuse on a better-sqlite3 connection. Prisma's SQLite adapter
 * prepares every statement it runs (`client.prepare(sql).bind(args)`, then `run()`, or
 * `reader`, `columns()` and `raw().all()`), so SQLite parses and plans the same few dozen
 * statements again for every step and every send: about 4% of a busy worker's CPU
 * (docs/benchmarks.md). This keeps the prepared statement per SQL text, least recently used
 * dropped past `size`, and hands the adapter a statement whose arguments are given to each run
 * instead of bound once (better-sqlite3 binds a statement only once).
 *
 * Safe to share: better-sqlite3 runs a statement to completion synchronously (`run`, `all`),
 * so no two uses of one statement overlap, and SQLite prepares it again by itself when the
 * schema changes under it (the columns are read after the rows for that, see below). Only the
 * calls above are offered; an adapter that starts using others fails loudly at its first
 * statement (statement-cache.test.ts, and every test of the db).
 */

export interface RawStatement {
  readonly reader: boolean;
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  columns(): unknown[];
  raw(toggle?: boolean): RawStatement;
}

/** The part of a prepared statement the adapter uses once it has bound its arguments. */
export interface BoundStatement {
  readonly reader: boolean;
  run(): unknown;
  columns(): unknown[];
  raw(): { all(): unknown[] };
}

export interface ReusableStatement {
  bind(args: unknown[]): BoundStatement;
}

export const STATEMENT_CACHE_SIZE = 200;

/**
 * Longer statements are prepared for each use, as before, and never kept: they are the ones
 * whose text varies with their data (IN lists, multi-row inserts), so keeping them would fill
 * the cache with large programs used once.
 */
export const STATEMENT_CACHE_MAX_SQL_LENGTH = 4096;

export function cachedPrepare(prepare: (sql: string) => RawStatement, size = STATEMENT_CACHE_SIZE): (sql: string) => ReusableStatement {
  const cache = new Map<string, RawStatement>();
  const kept = (sql: string): RawStatement => {
    if (sql.length > STATEMENT_CACHE_MAX_SQL_LENGTH) return prepare(sql);
    let statement = cache.get(sql);
    if (statement) {
      // Most recently used last, so the first key is the one to drop.
      cache.delete(sql);
    } else {
      statement = prepare(sql);
      if (cache.size >= size) cache.delete(cache.keys().next().value as string);
    }
    cache.set(sql, statement);
    return statement;
  };
  return (sql) => {
    const it = kept(sql);
    return {
      bind: (args) => {
        // The adapter asks for the columns before the rows. A kept statement's columns are those
        // of when it was prepared until it runs again: SQLite prepares it anew as it runs when
        // the schema changed (a column added under a SELECT *). So the rows are read first and
        // the columns after, both of the statement as it ran.
        let rows: unknown[] | undefined;
        return {
          reader: it.reader,
          run: () => it.run(args),
          columns: () => {
            rows = it.raw(true).all(args);
            return it.columns();
          },
          raw: () => ({ all: () => rows ?? it.raw(true).all(args) }),
        };
      },
    };
  };
}
