import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, prepareDatabase, type Db } from '@parley/db';

/**
 * A copy of the suite's migrated template database in its own temp dir, not opened: for a
 * process under test (API, worker) that opens it itself. The caller removes `dir`.
 */
export function copyTemplateDatabase(label = 'db'): { dir: string; url: string } {
  const template = process.env.PARLEY_TEMPLATE_DB ?? path.resolve(__dirname, '../../tmp/template.db');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `parley-${label}-`));
  const file = path.join(dir, 'parley.db');
  fs.copyFileSync(template, file);
  return { dir, url: `file:${file}` };
}

/** A fresh migrated SQLite file (copied from the suite's template) in its own temp dir. */
export async function createTestDatabase(): Promise<{ db: Db; url: string; dir: string; cleanup: () => Promise<void> }> {
  const { dir, url } = copyTemplateDatabase();
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
