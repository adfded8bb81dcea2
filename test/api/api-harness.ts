import { capturingLogger } from '../support/logs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { createApp, type ApiConfig } from '../../apps/api/src/app';
import type { Db } from '@parley/db';
import { createIngestWrites, type IngestWrites } from '../../apps/api/src/ingest.service';
import { createMetrics, type Metrics } from '@parley/metrics';
import { closeQueues, createQueues, createRedis, type Queues } from '@parley/queue';
import { createOidcSigner, createPubSubPusher, startCertsServer, type CertsServer, type OidcSigner, type PubSubPusher } from '@parley/sandbox/pubsub';
import { createTestDatabase } from '../support/db';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';

export const AUDIENCE = 'https://parley.example.com/webhooks/gmail';
export const SERVICE_ACCOUNT = 'gmail-push@parley-test.iam.gserviceaccount.com';
export const MAILBOX = 'deals@brand.example.com';
export const CLICKUP_SECRET = 'clickup-webhook-secret-for-tests';

export interface ApiHarness {
  url: string;
  db: Db;
  /** The webhooks' group commit (its stats show how writes were grouped). */
  writes: IngestWrites;
  queues: Queues;
  redis: Redis;
  metrics: Metrics;
  prefix: string;
  signer: OidcSigner;
  /** A signer whose key the certs server does not serve (same kid: a forgery). */
  forger: OidcSigner;
  /** A second served key, as during Google's key rotation. */
  rotated: OidcSigner;
  certs: CertsServer;
  pusher: PubSubPusher;
  logs: () => string;
  close: () => Promise<void>;
}

export interface HarnessOptions {
  redisUrl?: string;
  config?: Partial<ApiConfig>;
  /** Runs against the fresh database before the app starts (fault injection). */
  prepareDb?: (db: Db) => Promise<void>;
  extend?: (app: Express) => void;
  /** The app's clock (readiness cache, heartbeat window). */
  now?: () => number;
}

/** The API in-process on port 0 against real Redis (own prefix), a fresh SQLite file and a loopback certs server. */
export async function startApi(options: HarnessOptions = {}): Promise<ApiHarness> {
  const url = options.redisUrl ?? redisUrl();
  const prefix = uniquePrefix('api');
  const database = await createTestDatabase();
  await options.prepareDb?.(database.db);
  const signer = createOidcSigner();
  const rotated = createOidcSigner();
  const forger = createOidcSigner({ kid: signer.kid });
  const certs = await startCertsServer([signer, rotated]);

  const redis = createRedis(url, 'producer');
  redis.on('error', () => undefined);
  // The producer has no offline queue: a command sent before the connection is up fails.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  const queues = createQueues(redis, prefix);
  for (const queue of Object.values(queues)) queue.on('error', () => undefined);
  const metrics = createMetrics();
  const { log, text: logText } = capturingLogger('api');
  const config: ApiConfig = {
    GOOGLE_CERTS_URL: certs.url,
    PUBSUB_AUDIENCE: AUDIENCE,
    PUBSUB_SERVICE_ACCOUNT: SERVICE_ACCOUNT,
    GMAIL_MAILBOX: MAILBOX,
    CLICKUP_WEBHOOK_SECRET: CLICKUP_SECRET,
    METRICS_TOKEN: undefined,
    QUEUE_PREFIX: prefix,
    ...options.config,
  };
  const writes = createIngestWrites(database.db);
  const app = createApp({ config, db: database.db, writes, queues, redis, metrics, log, extend: options.extend, now: options.now });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pusher = createPubSubPusher({ endpoint: `${base}/webhooks/gmail`, signer, audience: AUDIENCE, serviceAccount: SERVICE_ACCOUNT, maxAttempts: 1 });

  return {
    url: base,
    db: database.db,
    writes,
    queues,
    redis,
    metrics,
    prefix,
    signer,
    forger,
    rotated,
    certs,
    pusher,
    logs: logText,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeQueues(queues).catch(() => undefined);
      await dropPrefix(url, prefix);
      redis.disconnect();
      await certs.close();
      await database.cleanup();
    },
  };
}

/** Every job of every state in one queue (ids only), to prove nothing slipped into Redis. */
export async function jobIdsIn(queues: Queues, queue: keyof Queues): Promise<string[]> {
  const jobs = await queues[queue].getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children']);
  return jobs.map((j) => j.id ?? '').sort();
}

/** No job on any ingress queue and no row any webhook could have written. */
export async function nothingRecorded(h: ApiHarness): Promise<void> {
  expect(await jobIdsIn(h.queues, 'gmail-notifications')).toEqual([]);
  expect(await jobIdsIn(h.queues, 'campaign-tasks')).toEqual([]);
  expect(await h.db.webhookDelivery.count()).toBe(0);
  expect(await h.db.mailboxSync.count()).toBe(0);
}
