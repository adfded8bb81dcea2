import { spawnSync } from 'node:child_process';
import { describeRequiring } from './prerequisites';

/**
 * Which database engine the suite runs on: SQLite by default, PostgreSQL with
 * TEST_DATABASE=postgres (server from TEST_POSTGRES_URL, default the local one on 5432).
 */
export type TestDatabaseEngine = 'sqlite' | 'postgres';

export const TEST_DB_PREFIX = 'parley_t_';

export function testDatabaseEngine(): TestDatabaseEngine {
  const value = (process.env.TEST_DATABASE ?? 'sqlite').trim().toLowerCase();
  if (value === 'sqlite' || value === '') return 'sqlite';
  if (value === 'postgres' || value === 'postgresql') return 'postgres';
  throw new Error(`TEST_DATABASE must be sqlite or postgres, not ${JSON.stringify(process.env.TEST_DATABASE)}`);
}

/** The URL of database `name` on the test PostgreSQL server. */
export function postgresUrl(name: string): string {
  const admin = new URL(process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  admin.pathname = `/${name}`;
  return admin.toString();
}

/** Runs the block on one engine only (SQLite's file backup, say); elsewhere it is skipped, saying why. */
export function describeOnEngine(engine: TestDatabaseEngine, why: string): jest.Describe {
  if (testDatabaseEngine() === engine) return describe;
  console.warn(`skipped on ${testDatabaseEngine()}: ${why}`);
  return describe.skip;
}

let reachable: boolean | undefined;

/** True when the test PostgreSQL server answers (checked once, in a child process, so it can be used at describe time). */
export function postgresReachable(): boolean {
  if (reachable === undefined) {
    const script = "const {Client}=require('pg');const c=new Client({connectionString:process.argv[1],connectionTimeoutMillis:3000});c.connect().then(()=>c.end()).then(()=>process.exit(0),()=>process.exit(1))";
    reachable = spawnSync(process.execPath, ['-e', script, process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'], { cwd: __dirname, timeout: 10_000 }).status === 0;
  }
  return reachable;
}

/**
 * `describe` for tests that need the PostgreSQL server whatever TEST_DATABASE says (the
 * migrations' own tests). Without one: a failure in CI (it must not pass a build unrun), a
 * skip with a warning on a developer's machine.
 */
export function describeWithPostgres(name: string, body: () => void): void {
  const missing = postgresReachable() ? undefined : 'no PostgreSQL answers at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres)';
  describeRequiring(name, missing, 'has a PostgreSQL to run against', body);
}
