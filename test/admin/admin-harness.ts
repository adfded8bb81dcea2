import { capturingLogger } from '../support/logs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { mountAdmin, type AdminDeps } from '../../apps/api/src/admin';
import { createApp, type ApiConfig } from '../../apps/api/src/app';
import type { Db } from '@parley/db';
import { createMetrics } from '@parley/metrics';
import { closeQueues, createQueues, createRedis, type QueueName, type Queues } from '@parley/queue';
import { createTestDatabase } from '../support/db';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';

// Random-looking, as the config requires of ADMIN_TOKEN (it is also passed to main.ts).
export const ADMIN_TOKEN = '3c9e71a0f4b28d56e0a7c13b9f42d8e6';
export const FOLLOW_UP_AFTER_MS = 72 * 3_600_000;

export const bearer = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });
export const basic = (password = ADMIN_TOKEN, user = 'ops') => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

export interface AdminHarness {
  url: string;
  db: Db;
  queues: Queues;
  redis: Redis;
  prefix: string;
  logs: () => string;
  /** A worker that takes jobs only when asked (no processor, no lock renewal, no stalled check). */
  manualWorker: (queue: QueueName, lockDuration: number) => Worker;
  close: () => Promise<void>;
}

export interface AdminHarnessOptions {
  /** ADMIN_TOKEN; `null` leaves it unset. */
  token?: string | null;
  thresholds?: AdminDeps['thresholds'];
  /** A private Redis (outage tests); default: the shared one. */
  redisUrl?: string;
  /** TRUST_PROXY, as parsed from the environment. */
  trustProxy?: number | string[];
}

/** The API with the dashboard mounted, in-process on port 0, on its own Redis prefix and SQLite file. */
export async function startAdmin(options: AdminHarnessOptions = {}): Promise<AdminHarness> {
  const url = options.redisUrl ?? redisUrl();
  const prefix = uniquePrefix('admin');
  const database = await createTestDatabase();
  const redis = createRedis(url, 'producer');
  redis.on('error', () => undefined);
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  const queues = createQueues(redis, prefix);
  for (const queue of Object.values(queues)) queue.on('error', () => undefined);
  const { log, text: logText } = capturingLogger('api');
  const config: ApiConfig = {
    GOOGLE_CERTS_URL: 'http://127.0.0.1:9/certs',
    PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
    PUBSUB_SERVICE_ACCOUNT: 'push@parley-test.iam.gserviceaccount.com',
    GMAIL_MAILBOX: 'deals@brand.example.com',
    CLICKUP_WEBHOOK_SECRET: 'clickup-secret-for-admin-tests',
    METRICS_TOKEN: undefined,
    QUEUE_PREFIX: prefix,
    TRUST_PROXY: options.trustProxy,
  };
  const token = options.token === null ? undefined : (options.token ?? ADMIN_TOKEN);
  const app = createApp({
    config,
    db: database.db,
    queues,
    redis,
    metrics: createMetrics(),
    log,
    extend: (server) => mountAdmin(server, { token, db: database.db, queues, redis, prefix, log, followUpAfterMs: FOLLOW_UP_AFTER_MS, thresholds: options.thresholds }),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const workers: Worker[] = [];
  const workerConnections: Redis[] = [];

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    db: database.db,
    queues,
    redis,
    prefix,
    logs: logText,
    manualWorker: (queue, lockDuration) => {
      const connection = createRedis(url, 'worker');
      workerConnections.push(connection);
      const worker = new Worker(queue, null, { connection, prefix, autorun: false, lockDuration });
      worker.on('error', () => undefined);
      workers.push(worker);
      return worker;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
      for (const c of workerConnections) c.disconnect();
      await closeQueues(queues).catch(() => undefined);
      await dropPrefix(url, prefix);
      redis.disconnect();
      await database.cleanup();
    },
  };
}

/** Parses a set-cookie-free HTML form: the hidden csrf value of the first replay form. */
export function csrfFrom(page: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(page);
  if (!match?.[1]) throw new Error('no csrf field on the page');
  return match[1];
}
