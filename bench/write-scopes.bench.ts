/**
 * PostgreSQL write transactions of many negotiations at once, under the database's one write lock
 * (unscoped) and scoped to each negotiation (as the workers' steps, sends and mailbox syncs run
 * them): transactions per second and the wait for the lock. Each transaction is a step's shape in
 * miniature: the lock, the negotiation's row updated (version + 1), an audit entry inserted, the
 * commit. BENCH_SCOPES_IN_FLIGHT transactions in flight (default 40, each on its own negotiation),
 * from two clients (two pools of 10 connections, as two worker processes have), for
 * BENCH_SCOPES_MS per round (default 3000); the two modes alternate, three rounds each, in one
 * process: the ratio is what counts on a shared machine.
 *
 * Run: npm run bench:scopes (a PostgreSQL at TEST_POSTGRES_URL, default the local one; without one
 * it says so and measures nothing).
 */
import { randomUUID } from 'node:crypto';
import { negotiationScope, openDatabase, placeholder, sqlOf, type Db } from '@parley/db';
import globalSetup from '../test/support/global-setup';
import globalTeardown from '../test/support/global-teardown';
import { createTestDatabase } from '../test/support/db';
import { postgresReachable } from '../test/support/test-database';
import { percentile } from './bench-support';

const IN_FLIGHT = Number(process.env.BENCH_SCOPES_IN_FLIGHT ?? 40);
const ROUND_MS = Number(process.env.BENCH_SCOPES_MS ?? 3000);
const ROUNDS = 3;

interface Round {
  mode: 'unscoped' | 'scoped';
  transactions: number;
  perSec: number;
  /** Milliseconds from asking for the transaction to holding its lock (a free connection of the pool, then the lock), ascending. */
  waits: number[];
}

async function seed(db: Db): Promise<string[]> {
  const campaign = await db.campaign.create({
    data: { clickupTaskId: 'bench-scopes', name: 'Scopes', currency: 'USD', cpmFloorMinor: 1000, cpmCeilingMinor: 3000, maxRounds: 4, rosterSheetId: 'sheet', status: 'active' },
  });
  const ids = Array.from({ length: IN_FLIGHT }, (_, i) => `scope-n${i}`);
  await db.negotiation.createMany({
    data: ids.map((id, i) => ({ id, campaignId: campaign.id, influencerName: `Creator ${i}`, influencerEmail: `creator${i}@example.test`, platform: 'youtube', averageViews: 100_000, deliverables: '1 video', currency: 'USD', state: 'awaiting_reply' })),
  });
  return ids;
}

async function round(mode: Round['mode'], clients: Db[], ids: string[]): Promise<Round> {
  const waits: number[] = [];
  let transactions = 0;
  const started = Date.now();
  const until = started + ROUND_MS;
  await Promise.all(
    ids.map(async (id, i) => {
      const sql = sqlOf(clients[i % clients.length] as Db);
      while (Date.now() < until) {
        const asked = performance.now();
        let timed = false;
        await sql.transaction(
          async (tx) => {
            // A busy retry runs this again: only the first entry is a wait for the lock.
            if (!timed) waits.push(performance.now() - asked);
            timed = true;
            const $ = (n: number) => placeholder(tx.engine, n);
            await tx.execute(`UPDATE "Negotiation" SET "version" = "version" + 1, "updatedAt" = ${$(1)} WHERE "id" = ${$(2)}`, new Date(), id);
            await tx.execute(`INSERT INTO "AuditEntry" ("id", "negotiationId", "actor", "action", "at") VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)})`, randomUUID(), id, 'agent', 'bench', new Date());
          },
          mode === 'scoped' ? { scope: negotiationScope(id) } : {},
        );
        transactions += 1;
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  return { mode, transactions, perSec: transactions / seconds, waits: waits.sort((a, b) => a - b) };
}

async function main(): Promise<void> {
  // The suite's set-up and databases, on PostgreSQL (read when they are called).
  process.env.TEST_DATABASE = 'postgres';
  if (!postgresReachable()) {
    process.stdout.write('bench:scopes: no PostgreSQL answers at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres); skipped\n');
    return;
  }
  globalSetup();
  try {
    await measure();
  } finally {
    globalTeardown();
  }
}

async function measure(): Promise<void> {
  const t = await createTestDatabase('bench-scopes');
  const other = openDatabase(t.url);
  try {
    const ids = await seed(t.db);
    const clients = [t.db, other];
    await round('scoped', clients, ids.slice(0, 4)); // warm both pools
    const rounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r += 1) for (const mode of ['unscoped', 'scoped'] as const) rounds.push(await round(mode, clients, ids));
    const ms = (v: number) => v.toFixed(1);
    const lines = [
      '## PostgreSQL write transactions: one write lock against a lock per negotiation',
      '',
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${IN_FLIGHT} transactions in flight (one per negotiation) from two clients, ${ROUND_MS / 1000} s per round, modes alternating.`,
      '',
      '| round | mode | transactions | per second | wait for the lock p50 (ms) | p99 (ms) |',
      '|---|---|---|---|---|---|',
      ...rounds.map((r, i) => `| ${Math.floor(i / 2) + 1} | ${r.mode} | ${r.transactions} | ${r.perSec.toFixed(0)} | ${ms(percentile(r.waits, 50))} | ${ms(percentile(r.waits, 99))} |`),
    ];
    const total = (mode: Round['mode']) => rounds.filter((r) => r.mode === mode).reduce((sum, r) => sum + r.perSec, 0);
    lines.push('', `Scoped / unscoped transactions per second: ${(total('scoped') / total('unscoped')).toFixed(2)}x (sum of the rounds).`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await other.$disconnect();
    await t.cleanup();
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
