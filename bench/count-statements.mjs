// Counts the SQL statements a process runs on SQLite, by kind and table, for the campaign
// bench: BENCH_NODE_OPTIONS="--import <abs path>/bench/count-statements.mjs" with STATEMENT_COUNT_DIR set.
// Each process keeps <dir>/statements-<app>-<pid>.json up to date. Measurement only.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

const dir = process.env.STATEMENT_COUNT_DIR;
if (dir) {
  const counts = new Map();
  const label = (sql) => {
    const s = sql.replace(/\s+/g, ' ').trim();
    const verb = (/^\w+/.exec(s)?.[0] ?? '?').toUpperCase();
    const table = /(?:FROM|INTO|UPDATE)\s+[`"]?(?:main[`"]?\.[`"]?)?(\w+)/i.exec(s)?.[1] ?? '';
    return `${verb} ${table}`.trim();
  };
  let Database;
  try {
    Database = require(require.resolve('better-sqlite3', { paths: [process.cwd(), path.join(path.dirname(new URL(import.meta.url).pathname), '..')] }));
  } catch {
    Database = null;
  }
  if (Database) {
    // Statements are counted when they run, not when prepared: Parley's SQLite connection keeps
    // its prepared statements for reuse (packages/db/src/statement-cache.ts).
    const prepare = Database.prototype.prepare;
    let patched = false;
    Database.prototype.prepare = function (sql, ...rest) {
      const statement = prepare.call(this, sql, ...rest);
      if (!patched) {
        patched = true;
        const proto = Object.getPrototypeOf(statement);
        for (const method of ['run', 'get', 'all', 'iterate']) {
          const original = proto[method];
          proto[method] = function (...args) {
            const key = label(String(this.source));
            counts.set(key, (counts.get(key) ?? 0) + 1);
            return original.apply(this, args);
          };
        }
      }
      return statement;
    };
    const exec = Database.prototype.exec;
    Database.prototype.exec = function (sql, ...rest) {
      const key = `exec ${label(String(sql))}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return exec.call(this, sql, ...rest);
    };
    // Written every second and at exit: the bench's harness ends its processes with SIGKILL.
    const write = () => {
      if (counts.size === 0) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `statements-${/apps\/(\w+)\//.exec(process.argv.join(' '))?.[1] ?? 'node'}-${process.pid}.json`), JSON.stringify(Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])), null, 1));
    };
    setInterval(write, 1000).unref();
    process.on('exit', write);
  }
}
