#!/usr/bin/env node
// prisma/schema.prisma (SQLite) is the one source of Parley's data model. The PostgreSQL schema
// is derived from it: same models, another provider and client output. Run after every change of
// the model; `--check` exits 1 when the derived file is stale (test/deploy/prisma-schemas.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'prisma', 'schema.prisma');
const target = path.join(root, 'prisma', 'postgres', 'schema.prisma');

/** @param {string} text the SQLite schema */
export function derivePostgresSchema(text) {
  const replace = (input, from, to) => {
    if (!input.includes(from)) throw new Error(`prisma/schema.prisma no longer contains ${JSON.stringify(from)}: update scripts/prisma-schemas.mjs`);
    return input.replace(from, to);
  };
  let out = text;
  out = replace(out, 'output       = "../packages/db/src/generated/prisma"', 'output       = "../../packages/db/src/generated/prisma-pg"');
  out = replace(out, 'provider = "sqlite"\n  url      = "file:./data/parley.db"', 'provider = "postgresql"\n  url      = "postgresql://localhost:5432/parley"');
  return `// GENERATED from prisma/schema.prisma by scripts/prisma-schemas.mjs: do not edit.\n// The PostgreSQL variant of Parley's data model (DATABASE_URL=postgresql://...).\n\n${out}`;
}

const expected = derivePostgresSchema(fs.readFileSync(source, 'utf8'));
if (process.argv.includes('--check')) {
  const actual = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  if (actual !== expected) {
    process.stderr.write('prisma/postgres/schema.prisma is stale: run node scripts/prisma-schemas.mjs and add a PostgreSQL migration\n');
    process.exit(1);
  }
} else {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, expected);
}
