import { hostname } from 'node:os';
import { concurrencyFor, shutdownSteps, type Env } from '@parley/config';
import { databaseIdentity, openDatabase, prepareDatabase, startWalCheckpointer, type Db, type WalCheckpointer } from '@parley/db';
import { createLogger, type Logger } from '@parley/logging';
import { createMetrics, type Metrics } from '@parley/metrics';
import {
  closeQueues,
  createQueues,
  QUEUE_NAMES,
  createServiceRedis,
  redisReady,
  joinFleetDatabase,
  retryPolicyFromConfig,
  startWorkers,
  throttledWarn,
  type DeadLetterInfo,
  type QueueName,
  type Queues,
  type RedisConnection,
  type WorkerRuntime,
} from '@parley/queue';
import { scheduleDeliverySweep } from './delivery-sweep.handler';
import { slackAlertsFromConfig } from './alerts.handler';
import { createHandlers, type HandlerDeps, type IntegrationHandlers, type MaintenanceTask } from './handlers';
import { scheduleMaintenance, startAliveFile } from './maintenance-schedule';
import { startMetricsServer } from './metrics-server';
import { initSentry, type ErrorReporter } from './sentry';

export interface WorkerAppOptions {
  log?: Logger;
  /**
   * The integrations: handlers for the queues that talk to the outside world, their
   * maintenance tasks, and what runs once at start (the Gmail watch). Production passes the
   * engine's wiring (main.ts, engine-wiring.ts); tests pass fixtures.
   */
  wiring: (ctx: WiringContext) => Wiring;
  /** Only these queues get workers in this process (default: all). */
  only?: QueueName[];
  /** Called for each new dead letter, after Sentry. */
  onDeadLetter?: (info: DeadLetterInfo) => void;
}

/** Redis answered the worker connection already: its producer connection needs only moments more. */
const PRODUCER_READY_MS = 15_000;

export interface WiringContext {
  config: Readonly<Env>;
  db: Db;
  queues: Queues;
  redis: RedisConnection;
  metrics: Metrics;
  log: Logger;
}

export interface Wiring {
  handlers: IntegrationHandlers;
  maintenanceTasks?: HandlerDeps['maintenanceTasks'];
  onStart?: () => Promise<unknown>;
}

export interface WorkerApp {
  config: Readonly<Env>;
  log: Logger;
  db: Db;
  queues: Queues;
  metrics: Metrics;
  runtime: WorkerRuntime;
  /** The shutdown sequence: workers (with grace), queues, Redis, database, Sentry. */
  close: (graceMs: number) => Promise<{ drained: boolean; handedBack: string[] }>;
  /** What the shutdown has not finished: its steps under way and the jobs still running. */
  stillOpen: () => string[];
}

/** The worker's composition root, without process concerns (signals, exit codes). */
export async function startWorkerApp(config: Readonly<Env>, options: WorkerAppOptions): Promise<WorkerApp> {
  const log = options.log ?? createLogger({ service: 'worker', level: config.LOG_LEVEL, pretty: config.NODE_ENV === 'development' });
  const workerId = `${hostname()}-${process.pid}`;
  const sentry: ErrorReporter | undefined = config.SENTRY_DSN
    ? initSentry({ dsn: config.SENTRY_DSN, environment: config.SENTRY_ENVIRONMENT, release: config.SENTRY_RELEASE, serverName: workerId })
    : undefined;

  const db = openDatabase(config.DATABASE_URL);
  const connections: RedisConnection[] = [];
  let checkpointer: WalCheckpointer | null = null;
  try {
    await prepareDatabase(db);
    // SQLite's log copied back by a thread, not inside the steps' commits (wal-checkpointer.ts).
    checkpointer = await startWalCheckpointer(db, config.SQLITE_CHECKPOINT_MS, (problem) => log.warn('sqlite checkpoint thread', { problem }));
    // Workers block on their connection and must wait out Redis outages; producers (alerts,
    // rate-limit pauses, the sweeper) fail fast so a job does not hang on a dead Redis.
    const workerRedis = createServiceRedis(config, 'worker');
    const producerRedis = createServiceRedis(config, 'producer');
    connections.push(workerRedis, producerRedis);
    // One database per fleet: refused here when a live API or worker on this Redis and prefix
    // uses another (a SQLite file on another host, say). On the worker connection, which waits
    // for Redis as the workers do.
    const fleet = await joinFleetDatabase({
      redis: workerRedis,
      prefix: config.QUEUE_PREFIX,
      identity: await databaseIdentity(db),
      processId: workerId,
      onRefreshError: (error) => log.warn('could not refresh this worker\'s fleet database entry', { error: error.message }),
    });
    // The producer fails its commands until it is ready (no offline queue): a Cluster connection
    // is ready only once it has discovered the slots, which can come after the worker connection.
    await redisReady(producerRedis, PRODUCER_READY_MS);
    const queues = createQueues(producerRedis, config.QUEUE_PREFIX, retryPolicyFromConfig(config));
    // Without a listener BullMQ prints each connection error to stderr.
    const warn = throttledWarn(log);
    for (const queue of Object.values(queues)) queue.on('error', (err) => warn(`queue:${queue.name}`, 'queue connection error', err.message, { queue: queue.name }));
    const metrics = createMetrics({ defaults: true });
    const wiring = options.wiring({ config, db, queues, redis: producerRedis, metrics, log });
    const deps: HandlerDeps = { db, queues, log, maintenanceTasks: wiring.maintenanceTasks, slackAlerts: slackAlertsFromConfig(config, { db, queues, redis: producerRedis }) };
    const handlers = createHandlers(deps, wiring.handlers);
    // Runs before the workers so a campaign step never races the first watch (which seeds the cursor).
    // A failure here (Gmail down at start) is logged, not fatal: the renewal task retries it on
    // every maintenance interval, and a crash loop would not make Gmail answer sooner.
    await wiring.onStart?.().catch((error: unknown) => log.error('start-up task failed; maintenance will retry it', { error: (error as Error).message }));

    const onDeadLetter = (info: DeadLetterInfo) => {
      sentry?.onDeadLetter(info);
      options.onDeadLetter?.(info);
    };
    const runtime = startWorkers({
      connection: workerRedis,
      prefix: config.QUEUE_PREFIX,
      handlers,
      policy: retryPolicyFromConfig(config),
      concurrency: config.WORKER_CONCURRENCY,
      concurrencyByQueue: Object.fromEntries(QUEUE_NAMES.map((q) => [q, concurrencyFor(config, q)])),
      lockDurationMs: config.JOB_LOCK_DURATION_MS,
      stalledIntervalMs: config.JOB_STALLED_INTERVAL_MS,
      maxStalledCount: config.JOB_MAX_STALLED_COUNT,
      stallCooldowns: config.JOB_STALL_COOLDOWNS,
      stallCooldownMs: config.JOB_STALL_COOLDOWN_MS,
      only: options.only,
      workerId,
      db,
      queues,
      metrics,
      log,
      onDeadLetter,
    });
    await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
    if (!options.only || options.only.includes('maintenance')) {
      await scheduleDeliverySweep(queues, config.MAINTENANCE_INTERVAL_MS);
      await scheduleMaintenance(queues, Object.keys(wiring.maintenanceTasks ?? {}) as MaintenanceTask[], config.MAINTENANCE_INTERVAL_MS);
    }
    const alive = startAliveFile(config.PARLEY_ALIVE_FILE);
    const metricsServer = await startMetricsServer(metrics, config.WORKER_METRICS_PORT, config.METRICS_TOKEN);
    if (metricsServer.url) log.info('worker metrics served', { url: metricsServer.url });
    log.info('worker ready', { workerId, queues: runtime.workers.map((w) => w.name), concurrency: Object.fromEntries(runtime.workers.map((w) => [w.name, concurrencyFor(config, w.name)])) });

    const steps = shutdownSteps();
    const close = async (graceMs: number) => {
      alive.stop();
      await steps.run('metrics server', () => metricsServer.close());
      const outcome = await steps.run('workers', () => runtime.close(graceMs));
      await steps.run('fleet entry', () => fleet.leave());
      await steps.run('queues', () => closeQueues(queues)).catch((e: unknown) => log.warn('closing queues failed', { error: (e as Error).message }));
      await steps.run('redis', () => quitAll(connections));
      await steps.run('checkpoint thread', async () => checkpointer?.stop());
      await steps.run('database', () => db.$disconnect());
      await steps.run('sentry', async () => sentry?.close());
      return outcome;
    };
    const stillOpen = () => [...steps.open(), ...runtime.running().map((job) => `job ${job}`)];
    return { config, log, db, queues, metrics, runtime, close, stillOpen };
  } catch (error) {
    await quitAll(connections);
    await checkpointer?.stop();
    await db.$disconnect().catch(() => undefined);
    await sentry?.close();
    throw error;
  }
}

// QUIT waits for Redis to answer; a connection that is not up has nobody to say goodbye to.
async function quitAll(connections: RedisConnection[]): Promise<void> {
  await Promise.all(connections.map((c) => (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
}
