import { concurrencyFor, parseEnv } from '@parley/config';
import { createLogger } from '@parley/logging';
import { createMetrics } from '@parley/metrics';
import { createRedis, createQueues, closeQueues, PermanentError, QUEUE_NAMES, startWorkers, DEFAULT_RETRY_POLICY, type Handler, type HandlerMap, type QueueName } from '@parley/queue';
import { createTestDatabase } from '../support/db';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';

/**
 * Concurrency that fits the work: `<QUEUE>_CONCURRENCY` per queue, falling back to
 * WORKER_CONCURRENCY, with the LLM-bound `negotiation-steps` high by default, reaching the
 * real BullMQ workers.
 */

describe('per-queue concurrency', () => {
  it('reads <QUEUE>_CONCURRENCY, else WORKER_CONCURRENCY; negotiation-steps defaults to 50', () => {
    const defaults = parseEnv({});
    expect(Object.fromEntries(QUEUE_NAMES.map((q) => [q, concurrencyFor(defaults, q)]))).toEqual({
      'gmail-notifications': 5,
      'campaign-tasks': 5,
      'negotiation-steps': 50,
      'outbound-email': 5,
      alerts: 5,
      maintenance: 5,
    });
    const tuned = parseEnv({ WORKER_CONCURRENCY: '3', NEGOTIATION_STEPS_CONCURRENCY: '80', ALERTS_CONCURRENCY: '1' });
    expect(concurrencyFor(tuned, 'negotiation-steps')).toBe(80);
    expect(concurrencyFor(tuned, 'alerts')).toBe(1);
    expect(concurrencyFor(tuned, 'outbound-email')).toBe(3);
    expect(() => parseEnv({ NEGOTIATION_STEPS_CONCURRENCY: '0' })).toThrow(/NEGOTIATION_STEPS_CONCURRENCY/);
    expect(() => parseEnv({ ANTHROPIC_RPM: 'lots' })).toThrow(/ANTHROPIC_RPM/);
  });

  it('gives each BullMQ worker its own queue concurrency', async () => {
    const prefix = uniquePrefix('qconc');
    const database = await createTestDatabase();
    const producer = createRedis(redisUrl(), 'producer');
    const connection = createRedis(redisUrl(), 'worker');
    const queues = createQueues(producer, prefix, DEFAULT_RETRY_POLICY);
    const refuse: Handler<QueueName> = async () => {
      throw new PermanentError('not under test');
    };
    const config = parseEnv({ WORKER_CONCURRENCY: '3', ALERTS_CONCURRENCY: '1' });
    const runtime = startWorkers({
      connection,
      prefix,
      handlers: Object.fromEntries(QUEUE_NAMES.map((q) => [q, refuse])) as HandlerMap,
      policy: DEFAULT_RETRY_POLICY,
      concurrency: config.WORKER_CONCURRENCY,
      concurrencyByQueue: Object.fromEntries(QUEUE_NAMES.map((q) => [q, concurrencyFor(config, q)])),
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 1,
      db: database.db,
      queues,
      metrics: createMetrics(),
      log: createLogger({ service: 'qconc', level: 'error' }),
    });
    try {
      await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
      expect(Object.fromEntries(runtime.workers.map((w) => [w.name, w.concurrency]))).toEqual({
        'gmail-notifications': 3,
        'campaign-tasks': 3,
        'negotiation-steps': 50,
        'outbound-email': 3,
        alerts: 1,
        maintenance: 3,
      });
    } finally {
      await runtime.close(5_000);
      await closeQueues(queues);
      await Promise.all([producer, connection].map((c) => c.quit().catch(() => c.disconnect())));
      await database.cleanup();
      await dropPrefix(redisUrl(), prefix);
    }
  });
});
