import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Db } from '@parley/db';
import { closeQueues, createQueues, createRedis, heartbeatKey, type Queues } from '@parley/queue';
import type { Redis } from 'ioredis';
import { createTestDatabase } from '../support/db';
import { spawnTs } from '../support/processes';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';

const MAIN = 'apps/worker/src/main.ts';
// main.ts wires the engine, which needs every integration's credentials and a reachable Gmail;
// this is the same runWorker with unwired stand-ins for the engine's handlers.
const PLAIN = 'test/fixtures/plain-worker.ts';

/** A loopback stand-in for Sentry's envelope endpoint that keeps what it receives. */
async function startSentryIngest(): Promise<{ dsn: string; envelopes: string[]; close: () => Promise<void> }> {
  const envelopes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      envelopes.push((req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString());
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { dsn: `http://publickey@127.0.0.1:${port}/42`, envelopes, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('the worker process (runWorker)', () => {
  it('main.ts refuses to start on bad configuration, naming every bad variable in one message', async () => {
    const worker = spawnTs(MAIN, { REDIS_URL: 'http://127.0.0.1:6379', WORKER_CONCURRENCY: 'lots', JOB_LOCK_DURATION_MS: '5' });
    expect(await worker.exited).toBe(1);
    const out = worker.output();
    expect(out.match(/Invalid configuration/g)).toHaveLength(1);
    expect(out).toContain('Invalid configuration (3 problems)');
    for (const name of ['REDIS_URL', 'WORKER_CONCURRENCY', 'JOB_LOCK_DURATION_MS']) expect(out).toContain(`${name}:`);
    expect(out).not.toContain('worker ready');
  });

  it('refuses to serve metrics in production without METRICS_TOKEN', async () => {
    const worker = spawnTs(PLAIN, { NODE_ENV: 'production', WORKER_METRICS_PORT: '0', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(/METRICS_TOKEN: required in production \(WORKER_METRICS_PORT serves \/metrics/);
    expect(worker.output()).not.toContain('worker ready');
  });

  describe('running', () => {
    let db: Db;
    let dbUrl: string;
    let cleanupDb: () => Promise<void>;
    let prefix: string;
    let producer: Redis;
    let queues: Queues;
    let sentry: Awaited<ReturnType<typeof startSentryIngest>>;

    beforeAll(async () => {
      const database = await createTestDatabase();
      db = database.db;
      dbUrl = database.url;
      cleanupDb = database.cleanup;
      prefix = uniquePrefix('main');
      producer = createRedis(redisUrl(), 'producer');
      queues = createQueues(producer, prefix);
      sentry = await startSentryIngest();
    });
    afterAll(async () => {
      await closeQueues(queues);
      await producer.quit();
      await sentry.close();
      await cleanupDb();
      await dropPrefix(redisUrl(), prefix);
    });

    it('dead-letters work it has no handler for, reports it to Sentry, logs the alert, schedules the sweep, and stops on SIGTERM', async () => {
      const worker = spawnTs(PLAIN, { REDIS_URL: redisUrl(), QUEUE_PREFIX: prefix, DATABASE_URL: dbUrl, SENTRY_DSN: sentry.dsn, LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0' });
      try {
        const ready = await worker.waitForLine(/worker ready/, 60_000);
        const pid = Number(/"workerId":"[^"]*-(\d+)"/.exec(ready)?.[1]);
        expect(pid).toBeGreaterThan(0);
        expect(await producer.zscore(heartbeatKey(prefix), `${/"workerId":"([^"]+)"/.exec(ready)?.[1]}`)).not.toBeNull();
        expect(await queues.maintenance.getJobScheduler('delivery-sweep')).toMatchObject({ every: 60_000 });

        await queues['negotiation-steps'].add('negotiation-step', { negotiationId: 'n1', kind: 'open' }, { jobId: 'step.n1.open' });
        const row = await waitFor('dead letter row', () => db.deadLetter.findUnique({ where: { queue_jobId: { queue: 'negotiation-steps', jobId: 'step.n1.open' } } }), 30_000);
        expect(row).toMatchObject({ errorClass: 'permanent', attempts: 1, errorMessage: 'PermanentError: no handler for negotiation-steps in this test process' });

        // The alerts worker logged it (title, kind, ids; never the text).
        const alertLine = await worker.waitForLine(/"message":"alert"/, 30_000);
        expect(JSON.parse(alertLine)).toMatchObject({ kind: 'dead_letter', deadLetterId: row.id, title: 'Dead letter on negotiation-steps' });
        expect(alertLine).not.toContain('failed for good');
        await waitFor('alert job completed', async () => (await queues.alerts.getJobState(`alert.dl-${row.id}`)) === 'completed');

        const event = await waitFor('sentry event', () => sentry.envelopes.find((e) => e.includes('no handler for negotiation-steps')), 30_000);
        expect(event).toContain('"queue":"negotiation-steps"');
        expect(event).toContain('"errorClass":"permanent"');
        expect(event).toContain('step.n1.open');

        // The worker serves its own registry: the dead letter and the job outcome are in it.
        const metricsUrl = String((JSON.parse(await worker.waitForLine(/worker metrics served/)) as { url: string }).url);
        const scrape = await (await fetch(metricsUrl)).text();
        expect(scrape).toMatch(/parley_dead_letters_total\{queue="negotiation-steps"\} 1/);
        expect(scrape).toMatch(/parley_job_duration_seconds_count\{queue="negotiation-steps",outcome="permanent"\} 1/);

        process.kill(pid, 'SIGTERM');
        expect(await worker.exited).toBe(0);
        expect(worker.output()).toMatch(/"message":"worker stopped"/);
        expect(await producer.zscore(heartbeatKey(prefix), `${/"workerId":"([^"]+)"/.exec(ready)?.[1]}`)).toBeNull();
      } finally {
        if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      }
    });
  });
});
