import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, prepareDatabase, type Db } from '@parley/db';

/** A fresh migrated SQLite file (copied from the suite's template) in its own temp dir. */
export async function createTestDatabase(): Promise<{ db: Db; url: string; dir: string; cleanup: () => Promise<void> }> {
  const template = process.env.PARLEY_TEMPLATE_DB ?? path.resolve(__dirname, '../../tmp/template.db');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-db-'));
  const file = path.join(dir, 'parley.db');
  fs.copyFileSync(template, file);
  const url = `file:${file}`;
  const db = openDatabase(url);
  await prepareDatabase(db);
  return {
    db,
    url,
    dir,
    cleanup: async () => {
      await db.$disconnect();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
