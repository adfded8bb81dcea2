/**
 * The ingress cost: a signed ClickUp webhook through the real Express app (HMAC check, zod,
 * the durable WebhookDelivery row, the BullMQ add) against the bare `queue.add` it wraps.
 * Run: npm run bench   (needs REDIS_URL or a Redis on 127.0.0.1:6379)
 */
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createApp } from '../apps/api/src/app';
import { parseEnv } from '@parley/config';
import { openDatabase, prepareDatabase } from '@parley/db';
import { createLogger } from '@parley/logging';
import { createMetrics } from '@parley/metrics';
import { closeQueues, createQueues, createRedis, jobIds } from '@parley/queue';
import { header, measure, table, type Timing } from './bench-support';

const N = Number(process.env.BENCH_N ?? 1500);

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `pbench-${randomBytes(4).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  const dbUrl = `file:${path.join(dir, 'bench.db')}`;
  execFileSync(process.execPath, [path.resolve(__dirname, '../node_modules/prisma/build/index.js'), 'migrate', 'deploy'], { env: { ...process.env, DATABASE_URL: dbUrl }, stdio: 'pipe' });
  const db = openDatabase(dbUrl);
  await prepareDatabase(db);
  const redis = createRedis(redisUrl, 'producer');
  const queues = createQueues(redis, prefix);
  const secret = 'bench-secret';
  // NODE_ENV=test: production would require METRICS_TOKEN, which the bench does not scrape with.
  const config = parseEnv({ NODE_ENV: 'test', QUEUE_PREFIX: prefix, PUBSUB_AUDIENCE: 'bench', PUBSUB_SERVICE_ACCOUNT: 'push@bench.iam.gserviceaccount.com', CLICKUP_WEBHOOK_SECRET: secret, LOG_LEVEL: 'error' }, 'api');
  const log = createLogger({ service: 'bench', level: 'error' });
  const app = createApp({ config, db, queues, redis, metrics: createMetrics(), log });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/clickup`;

  const post = (i: number, tag: string) => {
    const body = JSON.stringify({ event: 'taskStatusUpdated', task_id: `t${tag}${i}`, webhook_id: 'wh', history_items: [{ id: `h${i}` }] });
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', secret).update(body).digest('hex') }, body }).then(async (r) => {
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`status ${r.status}`);
    });
  };
  const add = (i: number, tag: string) =>
    queues['campaign-tasks'].add('campaign-ingest', { webhookId: 'wh', taskId: `a${tag}${i}`, event: 'taskStatusUpdated', historyItemId: `h${i}` }, { jobId: jobIds.campaignIngest({ webhookId: 'wh', taskId: `a${tag}${i}`, historyItemId: `h${i}` }) });

  // Warm-up, then alternate the cases so drift on a shared machine hits both alike.
  await measure('warm', 200, 4, (i) => post(i, 'w'));
  await measure('warm', 200, 4, (i) => add(i, 'w'));
  const rows: Timing[] = [];
  const rss0 = process.memoryUsage().rss;
  for (const round of [1, 2]) {
    rows.push(await measure(`bare queue.add, sequential (round ${round})`, N, 1, (i) => add(i, `s${round}`)));
    rows.push(await measure(`webhook through the API, sequential (round ${round})`, N, 1, (i) => post(i, `s${round}`)));
    rows.push(await measure(`bare queue.add, 16 in flight (round ${round})`, N, 16, (i) => add(i, `p${round}`)));
    rows.push(await measure(`webhook through the API, 16 in flight (round ${round})`, N, 16, (i) => post(i, `p${round}`)));
  }
  const rss1 = process.memoryUsage().rss;
  // The last round's bare sequential add is the baseline: the first rounds still warm the JIT and Redis.
  const baseline = rows[4]!;
  const ratio = (a: number, b: number) => (rows[a]!.msPerOp / rows[b]!.msPerOp).toFixed(1);
  process.stdout.write(
    `${header('Ingress: webhook through the API vs the bare enqueue')}\n${table(rows, baseline)}\n\n` +
      `Per request, the API path costs ${ratio(5, 4)}x a bare sequential add and ${ratio(7, 6)}x a bare add with 16 in flight (round 2).\n` +
      `RSS grew ${((rss1 - rss0) / 1048576).toFixed(1)} MiB over ${rows.length * N} requests/adds.\n`,
  );

  server.close();
  await closeQueues(queues);
  const cleaner = createRedis(redisUrl, 'worker');
  let cursor = '0';
  do {
    const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await cleaner.del(...keys);
  } while (cursor !== '0');
  cleaner.disconnect();
  redis.disconnect();
  await db.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
}

void main();
