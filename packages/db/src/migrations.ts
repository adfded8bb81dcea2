/**
 * The migrations this code expects, per engine (kept equal to prisma/migrations and
 * prisma/postgres/migrations by packages/db/src/migrations.test.ts). The start-up check of a
 * PostgreSQL database refuses to run against one that lacks any of them.
 */
export const SQLITE_MIGRATIONS = ['0001_init', '0002_slack_and_mail_problems', '0003_outbox_attempted', '0004_outbox_by_negotiation'] as const;
export const POSTGRES_MIGRATIONS = ['0001_init', '0002_outbox_attempted', '0003_outbox_by_negotiation'] as const;
