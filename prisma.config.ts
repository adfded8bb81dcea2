import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';

// Prisma 6.19 with the JS engine: migrations run through the bundled WebAssembly schema
// engine and a driver adapter, so nothing is downloaded at run time (see docs/decisions.md).
export default defineConfig({
  engine: 'js',
  experimental: { adapter: true },
  schema: 'prisma/schema.prisma',
  async adapter() {
    return new PrismaBetterSQLite3({ url: process.env.DATABASE_URL ?? 'file:./data/parley.db' });
  },
});
