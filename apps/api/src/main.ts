import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { ConfigError, parseEnv, SHUTDOWN_CLEANUP_MS, shutdownDeadline, shutdownSteps, type Env } from '@parley/config';
import { databaseIdentity, openDatabase, prepareDatabase, startWalCheckpointer } from '@parley/db';
import { createLogger, type Logger } from '@parley/logging';
import { createMetrics } from '@parley/metrics';
import { closeQueues, createQueues, createServiceRedis, joinFleetDatabase, redisReady, retryPolicyFromConfig, type FleetDatabaseMembership } from '@parley/queue';
import { mountAdmin } from './admin';
import { createApp } from './app';
import { slackForApi } from './slack/slack-api.wiring';
import { flushErrorReports } from './error-reporter';
import { gracefulClose } from './graceful-close';
import { createHttpServer } from './http-server';

function loadConfig(): Readonly<Env> {
  try {
    return parseEnv(process.env, 'api');
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

// The producer has no offline queue, so webhooks arriving before the first connection would
// get 503s; a short wait at start avoids that during a rolling restart without blocking start-up.
const REDIS_START_WAIT_MS = 5000;

async function main(): Promise<void> {
  const config = loadConfig();
  const log: Logger = createLogger({ service: 'api', level: config.LOG_LEVEL, pretty: config.NODE_ENV === 'development' });

  const db = openDatabase(config.DATABASE_URL);
  await prepareDatabase(db);
  // SQLite's log copied back by a thread, not inside the webhooks' commits (wal-checkpointer.ts).
  const checkpointer = await startWalCheckpointer(db, config.SQLITE_CHECKPOINT_MS, (problem) => log.warn('sqlite checkpoint thread', { problem }));
  const redis = createServiceRedis(config, 'producer');
  let redisDown = false;
  redis.on('error', (error: Error) => {
    // ioredis emits on every reconnect attempt; one line per outage is enough.
    if (!redisDown) log.warn('redis unreachable; webhooks answer 503 until it is back', { error: error.message });
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) log.info('redis reachable again');
    redisDown = false;
  });
  await redisReady(redis, REDIS_START_WAIT_MS).catch(() => log.warn('redis not reachable yet; starting anyway (readiness reports it)'));
  // One database per fleet (workers refuse to start against another one). With Redis up, a
  // conflict stops the start; with Redis down, the entry is made once it is back and a conflict
  // then is logged as an error (the API keeps taking webhooks: they are durable either way).
  const identity = await databaseIdentity(db);
  const processId = `${hostname()}-${process.pid}`;
  let fleet: FleetDatabaseMembership | undefined;
  const join = () => joinFleetDatabase({ redis, prefix: config.QUEUE_PREFIX, identity, processId, onRefreshError: () => undefined });
  if (redis.status === 'ready') fleet = await join();
  else
    redis.once('ready', () => {
      join().then(
        (membership) => (fleet = membership),
        (error: unknown) => log.error('this API shares Redis with processes on another database', { error: (error as Error).message }),
      );
    });
  const queues = createQueues(redis, config.QUEUE_PREFIX, retryPolicyFromConfig(config));
  // The connection's own listener above reports outages; without these BullMQ prints each error.
  for (const queue of Object.values(queues)) queue.on('error', () => undefined);
  const metrics = createMetrics({ defaults: true });
  // Slack runs in the API process: it has the database, the queues and the HTTP endpoint (docs/slack.md).
  const slack = slackForApi({ config, db, queues, redis, metrics, log });
  const app = createApp({
    config,
    db,
    queues,
    redis,
    metrics,
    log,
    extend: (server) => {
      slack.mount(server);
      mountAdmin(server, { token: config.ADMIN_TOKEN, db, queues, redis, prefix: config.QUEUE_PREFIX, log, followUpAfterMs: config.FOLLOW_UP_AFTER * 1000 });
    },
  });

  // Timeouts, keep-alive (above any proxy's idle timeout, so the proxy closes first) and the
  // connection cap: HTTP_* in the config, docs/api.md "Limits".
  const server = createHttpServer(app, config, log);
  const closer = gracefulClose(server);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    server.listen(config.PORT);
  });
  log.info('api listening', { port: (server.address() as AddressInfo).port });
  await slack.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('api stopping', { signal, graceMs: config.SHUTDOWN_GRACE_MS });
    // Whatever Redis, SQLite or a peer does, the process is gone by grace + cleanup, saying what hung.
    const steps = shutdownSteps();
    shutdownDeadline(config.SHUTDOWN_GRACE_MS, () => {
      log.error('shutdown deadline passed; exiting with work still open', { open: steps.open(), graceMs: config.SHUTDOWN_GRACE_MS, cleanupMs: SHUTDOWN_CLEANUP_MS });
      process.exit(1);
    });
    // No new Slack envelopes while draining; Slack redelivers unacked ones to the next holder.
    await steps.run('slack', () => slack.stop()).catch(() => undefined);
    const drained = await steps.run('http requests', () => closer.close(config.SHUTDOWN_GRACE_MS));
    await steps.run('fleet entry', async () => fleet?.leave()).catch(() => undefined);
    await steps.run('queues', () => closeQueues(queues)).catch((error: unknown) => log.warn('closing queues failed', { error: (error as Error).message }));
    // QUIT waits for an answer; without a connection there is nobody to say goodbye to.
    await steps.run('redis', async () => (redis.status === 'ready' ? await redis.quit() : redis.disconnect())).catch(() => redis.disconnect());
    await steps.run('checkpoint thread', async () => checkpointer?.stop());
    await steps.run('database', () => db.$disconnect());
    await steps.run('error reports', () => flushErrorReports());
    log.info('api stopped', { drained });
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason instanceof Error ? reason.message : String(reason) }));
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`api failed to start: ${message}\n`);
  process.exit(1);
});
