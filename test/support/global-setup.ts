import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// Runs once before the suite: applies migrations to a template database that tests copy,
// so each test file gets its own migrated SQLite file in milliseconds.
export default function globalSetup(): void {
  const root = path.resolve(__dirname, '../..');
  const template = path.join(root, 'tmp', 'template.db');
  // SQLite creates the file but not its directory (a fresh clone has no tmp/).
  fs.mkdirSync(path.dirname(template), { recursive: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: `file:${template}` },
    stdio: 'pipe',
  });
  process.env.PARLEY_TEMPLATE_DB = template;
}
