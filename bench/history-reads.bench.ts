/**
 * The per-negotiation reads of the send path and the step against a long history: a SQLite
 * database holding BENCH_HISTORY_N negotiations (default 20,000) of four emails each (all sent,
 * but the last of every other negotiation, which is pending), read with the OutboxEmail (negotiationId, createdAt) index and, in a copy of
 * the same file, without it (as before migration 0004). Same process, alternating rounds; the
 * ratio is what counts on a shared machine.
 *
 * Run: npm run bench:history
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, prepareDatabase, sentAfter, sqlOf, stateWithPendingSends, threadSubject, type Db } from '@parley/db';

const N = Number(process.env.BENCH_HISTORY_N ?? 20_000);
const READS = Number(process.env.BENCH_HISTORY_READS ?? 2_000);
const ROUNDS = 3;

function seed(file: string): void {
  const db = new Database(file);
  const t0 = Date.UTC(2026, 0, 1);
  db.prepare(`INSERT INTO "Campaign" ("id", "clickupTaskId", "name", "currency", "cpmFloorMinor", "cpmCeilingMinor", "maxRounds", "rosterSheetId", "status", "createdAt", "updatedAt") VALUES ('c1', 't1', 'History', 'USD', 1000, 3000, 4, 'sheet', 'active', ?, ?)`).run(t0, t0);
  const negotiation = db.prepare(
    `INSERT INTO "Negotiation" ("id", "campaignId", "influencerName", "influencerEmail", "platform", "averageViews", "deliverables", "currency", "state", "createdAt", "updatedAt") VALUES (?, 'c1', 'Creator', ?, 'youtube', 100000, '1 video', 'USD', 'awaiting_reply', ?, ?)`,
  );
  const email = db.prepare(
    `INSERT INTO "OutboxEmail" ("id", "negotiationId", "kind", "messageIdHdr", "toAddress", "subject", "body", "status", "createdAt") VALUES (?, ?, 'counter', ?, 'creator@example.test', 'Partnership', 'Body', ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < N; i++) {
      const id = `n${i}`;
      const at = t0 + i * 1000;
      negotiation.run(id, `creator${i}@example.test`, at, at);
      for (let k = 0; k < 4; k++) email.run(`${id}-e${k}`, id, `<${id}-e${k}@parley.test>`, k < 3 || i % 2 === 0 ? 'sent' : 'pending', at + k * 10);
    }
  })();
  db.close();
}

async function time(db: Db): Promise<{ subject: number; later: number; pending: number }> {
  const sql = sqlOf(db);
  const ids = Array.from({ length: READS }, (_, i) => `n${(i * 7919) % N}`);
  const at = new Date(Date.UTC(2026, 0, 1));
  const per = async (fn: (id: string) => Promise<unknown>) => {
    const start = process.hrtime.bigint();
    for (const id of ids) await fn(id);
    return Number(process.hrtime.bigint() - start) / 1e3 / ids.length;
  };
  return {
    subject: await per((id) => threadSubject(sql, id)),
    later: await per((id) => sentAfter(sql, id, at)),
    pending: await per((id) => stateWithPendingSends(sql, id)),
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-history-'));
  const indexed = path.join(dir, 'indexed.db');
  execFileSync(process.execPath, [path.resolve(__dirname, '../node_modules/prisma/build/index.js'), 'migrate', 'deploy'], { env: { ...process.env, DATABASE_URL: `file:${indexed}` }, stdio: 'pipe' });
  seed(indexed);
  const bare = path.join(dir, 'without-index.db');
  fs.copyFileSync(indexed, bare);
  const drop = new Database(bare);
  drop.exec('DROP INDEX "OutboxEmail_negotiationId_createdAt_idx"');
  drop.close();

  const dbs = { with: openDatabase(`file:${indexed}`), without: openDatabase(`file:${bare}`) };
  await prepareDatabase(dbs.with);
  await prepareDatabase(dbs.without);
  const rows: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const without = await time(dbs.without);
    const withIndex = await time(dbs.with);
    const cell = (k: keyof typeof without) => `${without[k].toFixed(0)} / ${withIndex[k].toFixed(1)} (${(without[k] / withIndex[k]).toFixed(0)}x)`;
    rows.push(`| ${round} | ${cell('subject')} | ${cell('later')} | ${cell('pending')} |`);
  }
  await dbs.with.$disconnect();
  await dbs.without.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    [
      `## Per-negotiation reads against a long history`,
      '',
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; SQLite, ${N.toLocaleString('en-US')} negotiations, ${(N * 4).toLocaleString('en-US')} outbox rows (${(N * 3.5).toLocaleString('en-US')} sent); ${READS.toLocaleString('en-US')} reads each; microseconds per read, without the index / with it.`,
      '',
      '| round | threadSubject | sentAfter | stateWithPendingSends |',
      '|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
