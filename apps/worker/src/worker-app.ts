import { hostname } from 'node:os';
import type { Env } from '@parley/config';
import { openDatabase, prepareDatabase, type Db } from '@parley/db';
import { createLogger, type Logger } from '@parley/logging';
import { createMetrics, type Metrics } from '@parley/metrics';
import {
  closeQueues,
  createQueues,
  createRedis,
  retryPolicyFromConfig,
  startWorkers,
  type DeadLetterInfo,
  type HandlerMap,
  type QueueName,
  type Queues,
  type WorkerRuntime,
} from '@parley/queue';
import type { Redis } from 'ioredis';
import { scheduleDeliverySweep } from './delivery-sweep.handler';
import { createHandlers, type HandlerDeps } from './handlers';
import { initSentry, type ErrorReporter } from './sentry';

export interface WorkerAppOptions {
  log?: Logger;
  /** Handlers for the queues this build does not implement itself (see handlers.ts). */
  handlers?: (deps: HandlerDeps) => Partial<HandlerMap>;
  maintenanceTasks?: HandlerDeps['maintenanceTasks'];
  /** Only these queues get workers in this process (default: all). */
  only?: QueueName[];
  /** Called for each new dead letter, after Sentry. */
  onDeadLetter?: (info: DeadLetterInfo) => void;
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
}

/** The worker's composition root, without process concerns (signals, exit codes). */
export async function startWorkerApp(config: Readonly<Env>, options: WorkerAppOptions = {}): Promise<WorkerApp> {
  const log = options.log ?? createLogger({ service: 'worker', level: config.LOG_LEVEL, pretty: config.NODE_ENV === 'development' });
  const workerId = `${hostname()}-${process.pid}`;
  const sentry: ErrorReporter | undefined = config.SENTRY_DSN
    ? initSentry({ dsn: config.SENTRY_DSN, environment: config.NODE_ENV, serverName: workerId })
    : undefined;

  const db = openDatabase(config.DATABASE_URL);
  const connections: Redis[] = [];
  try {
    await prepareDatabase(db);
    // Workers block on their connection and must wait out Redis outages; producers (alerts,
    // rate-limit pauses, the sweeper) fail fast so a job does not hang on a dead Redis.
    const workerRedis = createRedis(config.REDIS_URL, 'worker');
    const producerRedis = createRedis(config.REDIS_URL, 'producer');
    connections.push(workerRedis, producerRedis);
    const queues = createQueues(producerRedis, config.QUEUE_PREFIX, retryPolicyFromConfig(config));
    const metrics = createMetrics({ defaults: true });
    const deps: HandlerDeps = { db, queues, log, maintenanceTasks: options.maintenanceTasks };
    const handlers = createHandlers(deps, options.handlers?.(deps) ?? {});

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
      lockDurationMs: config.JOB_LOCK_DURATION_MS,
      stalledIntervalMs: config.JOB_STALLED_INTERVAL_MS,
      maxStalledCount: config.JOB_MAX_STALLED_COUNT,
      only: options.only,
      workerId,
      db,
      queues,
      metrics,
      log,
      onDeadLetter,
    });
    await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
    if (!options.only || options.only.includes('maintenance')) await scheduleDeliverySweep(queues);
    log.info('worker ready', { workerId, queues: runtime.workers.map((w) => w.name), concurrency: config.WORKER_CONCURRENCY });

    const close = async (graceMs: number) => {
      const outcome = await runtime.close(graceMs);
      await closeQueues(queues).catch((e: unknown) => log.warn('closing queues failed', { error: (e as Error).message }));
      await quitAll(connections);
      await db.$disconnect();
      await sentry?.close();
      return outcome;
    };
    return { config, log, db, queues, metrics, runtime, close };
  } catch (error) {
    await quitAll(connections);
    await db.$disconnect().catch(() => undefined);
    await sentry?.close();
    throw error;
  }
}

async function quitAll(connections: Redis[]): Promise<void> {
  await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
}
