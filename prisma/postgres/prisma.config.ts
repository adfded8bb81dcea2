import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';

// The PostgreSQL side of Parley's schema (generated from ../schema.prisma). Like the SQLite
// config, migrations run through the bundled WebAssembly schema engine and a driver adapter:
//   npx prisma migrate deploy --config prisma/postgres/prisma.config.ts
export default defineConfig({
  engine: 'js',
  experimental: { adapter: true },
  schema: path.join(__dirname, 'schema.prisma'),
  async adapter() {
    const url = process.env.DATABASE_URL ?? '';
    if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('DATABASE_URL must be a postgresql:// URL for the PostgreSQL schema');
    return new PrismaPg({ connectionString: url });
  },
});
