import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { cachedPrepare, STATEMENT_CACHE_MAX_SQL_LENGTH, type RawStatement } from './statement-cache';

/** The cache as Prisma's SQLite adapter drives it (prepare, bind, then run or raw().all()), on a real file. */
describe('cachedPrepare', () => {
  let dir: string;
  let db: Database.Database;
  let prepared: string[];
  let reuse: ReturnType<typeof cachedPrepare>;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stmt-cache-'));
    db = new Database(path.join(dir, 'db.sqlite'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, at TEXT)');
    prepared = [];
    reuse = cachedPrepare((sql) => {
      prepared.push(sql);
      return db.prepare(sql) as unknown as RawStatement;
    }, 3);
  });
  afterEach(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const insert = (id: number, name: string) => reuse('INSERT INTO t (id, name, at) VALUES (?, ?, ?)').bind([id, name, null]).run() as { changes: number };
  const select = (name: string) => {
    const bound = reuse('SELECT id, name FROM t WHERE name = ? ORDER BY id').bind([name]);
    return { reader: bound.reader, columns: bound.columns(), rows: bound.raw().all() };
  };

  it('runs one prepared statement again and again with each run its own arguments', () => {
    expect(insert(1, 'a').changes).toBe(1);
    expect(insert(2, 'b').changes).toBe(1);
    expect(insert(3, 'a').changes).toBe(1);
    expect(select('a').rows).toEqual([
      [1, 'a'],
      [3, 'a'],
    ]);
    const b = select('b');
    expect(b.reader).toBe(true);
    expect(b.columns.map((c) => (c as { name: string }).name)).toEqual(['id', 'name']);
    expect(b.rows).toEqual([[2, 'b']]);
    expect(select('none').rows).toEqual([]);
    expect(prepared).toEqual(['INSERT INTO t (id, name, at) VALUES (?, ?, ?)', 'SELECT id, name FROM t WHERE name = ? ORDER BY id']);
  });

  it('leaves a statement reusable after a run that failed', () => {
    insert(1, 'a');
    expect(() => insert(1, 'again')).toThrow(/UNIQUE constraint failed/);
    expect(() => reuse('INSERT INTO t (id, name, at) VALUES (?, ?, ?)').bind([2]).run()).toThrow(/Too few parameter/);
    expect(insert(2, 'b').changes).toBe(1);
    expect(select('b').rows).toEqual([[2, 'b']]);
    expect(prepared).toHaveLength(2);
  });

  it('keeps at most its size, dropping the least recently used statement', () => {
    const one = (n: number) => reuse(`SELECT ${n} AS n`).bind([]).raw().all();
    one(1);
    one(2);
    one(3);
    one(1); // 1 is now the most recent: 2 goes first
    one(4);
    expect(prepared).toEqual(['SELECT 1 AS n', 'SELECT 2 AS n', 'SELECT 3 AS n', 'SELECT 4 AS n']);
    one(1);
    one(3);
    expect(prepared).toHaveLength(4);
    expect(one(2)).toEqual([[2]]);
    expect(prepared).toEqual(['SELECT 1 AS n', 'SELECT 2 AS n', 'SELECT 3 AS n', 'SELECT 4 AS n', 'SELECT 2 AS n']);
  });

  it('names the columns a kept SELECT * returns after a column was added under it', () => {
    insert(1, 'a');
    const all = () => {
      const bound = reuse('SELECT * FROM t').bind([]);
      const names = bound.columns().map((c) => (c as { name: string }).name);
      return { names, rows: bound.raw().all() };
    };
    expect(all()).toEqual({ names: ['id', 'name', 'at'], rows: [[1, 'a', null]] });
    // Another connection (a migration) adds a column: the statement is prepared again as it runs.
    const other = new Database(path.join(dir, 'db.sqlite'));
    other.exec("ALTER TABLE t ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'");
    other.close();
    expect(all()).toEqual({ names: ['id', 'name', 'at', 'extra'], rows: [[1, 'a', null, 'x']] });
    expect(prepared.filter((sql) => sql === 'SELECT * FROM t')).toHaveLength(1);
  });

  it('keeps no statement longer than its text limit', () => {
    const long = `SELECT 1 AS n WHERE 1 IN (${Array<string>(2000).fill('1').join(', ')})`;
    expect(long.length).toBeGreaterThan(STATEMENT_CACHE_MAX_SQL_LENGTH);
    expect(reuse(long).bind([]).raw().all()).toEqual([[1]]);
    expect(reuse(long).bind([]).raw().all()).toEqual([[1]]);
    expect(prepared.filter((sql) => sql === long)).toHaveLength(2);
  });

  it('sees the schema as it is now when a table changed under a kept statement', () => {
    insert(1, 'a');
    expect(select('a').columns).toHaveLength(2);
    db.exec('ALTER TABLE t RENAME COLUMN name TO label');
    expect(() => select('a')).toThrow(/no such column: name/);
    db.exec('ALTER TABLE t RENAME COLUMN label TO name');
    expect(select('a').rows).toEqual([[1, 'a']]);
  });
});
