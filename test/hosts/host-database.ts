import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { openDatabase, prepareDatabase, type Db } from '@parley/db';
import { dropPostgresDatabase } from '../support/db';
import { ROOT } from '../support/processes';
import { postgresUrl, TEST_DB_PREFIX } from '../support/test-database';

const PG_ADMIN = path.join(__dirname, '../support/pg-admin.js');

export interface HostsDatabase {
  /** Its name on the test PostgreSQL server. */
  name: string;
  /** The test's own URL (loopback). */
  url: string;
  /** The test's own client. */
  db: Db;
  cleanup: () => Promise<void>;
}

/**
 * A migrated PostgreSQL database of its own, whatever TEST_DATABASE says: copied from the
 * suite's template when the suite runs on PostgreSQL, otherwise created empty and migrated with
 * the operators' command (`parley db migrate`). Named like the suite's databases
 * (`parley_t_<base36 time>_...`), so a run killed before its teardown leaves one that the next
 * PostgreSQL run's sweep drops after a day.
 */
export async function createHostsDatabase(): Promise<HostsDatabase> {
  const name = `${TEST_DB_PREFIX}${Date.now().toString(36)}_hosts_${randomBytes(3).toString('hex')}`;
  const template = process.env.PARLEY_TEMPLATE_PG;
  execFileSync(process.execPath, [PG_ADMIN, 'create', name, ...(template ? [template] : [])], { stdio: 'pipe' });
  const url = postgresUrl(name);
  try {
    if (!template) {
      execFileSync(process.execPath, [path.join(ROOT, 'apps/cli/bin/parley.mjs'), 'db', 'migrate'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url },
        stdio: 'pipe',
        timeout: 180_000,
      });
    }
    const db = openDatabase(url);
    await prepareDatabase(db);
    return {
      name,
      url,
      db,
      cleanup: async () => {
        await db.$disconnect().catch(() => undefined);
        dropPostgresDatabase(url);
      },
    };
  } catch (error) {
    dropPostgresDatabase(url);
    throw error;
  }
}
