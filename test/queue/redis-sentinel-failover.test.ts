import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { openDatabase, type Db } from '@parley/db';
import { closeQueues, connectRedis, createQueues, jobIds, sentinelWatchMembers, type Queues, type SentinelTarget } from '@parley/queue';
import { DELIVERY_SWEEP, sweepDeliveries } from '../../apps/worker/src/delivery-sweep.handler';
import { copyTemplateDatabase } from '../support/db';
import { capturingLogger } from '../support/logs';
import { spawnTs, type Spawned } from '../support/processes';
import { freePort, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';
import { startSentinelTopology, type SentinelTopology } from './sentinel-topology';

/**
 * The acceptance test of Redis high availability (docs/scaling.md): the API runs as its own
 * process on REDIS_SENTINELS; ClickUp-style senders post signed webhooks in a loop and redeliver
 * a webhook after any non-2xx, as ClickUp does; the primary is killed (SIGKILL) mid-ingest and
 * the sentinels promote the replica. Before the kill the replica is cut off for a moment, so the
 * old primary acknowledges webhooks the replica never receives: asynchronous replication losing
 * its last writes, made certain instead of left to chance. Every webhook that got a 2xx must end
 * up as a job on the new primary (the delivery sweep puts back the ones lost with the old one)
 * and be processed by a worker whose connection lived through the failover.
 */

const SECRET = 'sentinel-failover-clickup-secret';
const WEBHOOK_ID = 'wh-ha';
const TASK_ID = 'task-ha';
const SENDERS = 3;
/** A sender waits this long before redelivering after a non-2xx (ClickUp backs off much longer). */
const REDELIVERY_PAUSE_MS = 100;
/** A request that has not been answered by then counts as a hang. */
const REQUEST_DEADLINE_MS = 5000;

type Phase = 'before' | 'replica-cut' | 'failover' | 'after';
interface Attempt {
  webhook: number;
  phase: Phase;
  status: number | 'hang' | 'network-error';
  ms: number;
  at: number;
}

const jobIdOf = (webhook: number) => jobIds.campaignIngest({ webhookId: WEBHOOK_ID, taskId: TASK_ID, historyItemId: `h-${webhook}` });

describe('Redis Sentinel: a failover during ingest', () => {
  let topology: SentinelTopology | undefined;
  let api: Spawned | undefined;
  let dbDir: string | undefined;
  let db: Db | undefined;
  let worker: Worker | undefined;
  const connections: Redis[] = [];
  let queues: Queues | undefined;
  /** Ends every sender, even one still redelivering when the test fails. */
  let halted = false;

  afterAll(async () => {
    halted = true;
    await worker?.close().catch(() => undefined);
    if (queues) await closeQueues(queues).catch(() => undefined);
    for (const c of connections) c.disconnect();
    if (api && api.child.exitCode === null && api.child.signalCode === null) {
      api.child.kill('SIGKILL');
      await api.exited;
    }
    await db?.$disconnect();
    await waitFor('the sentinel subscription to end', () => Object.keys(sentinelWatchMembers()).length === 0, 5000);
    await topology?.stop();
    if (dbDir) fs.rmSync(dbDir, { recursive: true, force: true });
  });

  it('loses no acknowledged webhook: the window answers 503 at once, and the sweep restores what the old primary took with it', async () => {
    topology = await startSentinelTopology({ downAfterMs: 1000, failoverTimeoutMs: 5000 });
    const top = topology;
    const prefix = uniquePrefix('sentinel');
    const database = copyTemplateDatabase('sentinel');
    dbDir = database.dir;
    const port = await freePort();
    // REDIS_URL names a port nothing listens on: with REDIS_SENTINELS only its credentials count.
    const unusedPort = await freePort();
    const sentinelList = top.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(',');
    api = spawnTs('apps/api/src/main.ts', {
      REDIS_URL: `redis://127.0.0.1:${unusedPort}`,
      REDIS_SENTINELS: sentinelList,
      REDIS_SENTINEL_NAME: top.masterName,
      DATABASE_URL: database.url,
      PORT: String(port),
      QUEUE_PREFIX: prefix,
      PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
      CLICKUP_WEBHOOK_SECRET: SECRET,
    });
    await api.waitForLine(/api listening/, 30_000);

    // A worker on the same Sentinel settings, started before the failover and never restarted.
    const target: SentinelTarget = { kind: 'sentinel', url: `redis://127.0.0.1:${unusedPort}`, sentinels: top.sentinelAddresses, name: top.masterName };
    const workerConnection = connectRedis(target, 'worker');
    workerConnection.on('error', () => undefined);
    connections.push(workerConnection);
    const processed = new Set<string>();
    worker = new Worker(
      'campaign-tasks',
      async (job) => {
        processed.add(job.id ?? '');
      },
      { connection: workerConnection, prefix, concurrency: 5 },
    );
    worker.on('error', () => undefined);
    await worker.waitUntilReady();

    // The senders: each posts webhook n until it gets a 2xx, then takes the next number.
    let phase: Phase = 'before';
    let sending = true;
    let next = 0;
    const attempts: Attempt[] = [];
    const acked = new Map<number, Attempt>();
    const post = async (webhook: number): Promise<Attempt> => {
      const body = JSON.stringify({ event: 'taskCreated', task_id: TASK_ID, webhook_id: WEBHOOK_ID, history_items: [{ id: `h-${webhook}` }] });
      const started = Date.now();
      const sentIn = phase;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/webhooks/clickup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', SECRET).update(body).digest('hex') },
          body,
          signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
        });
        await res.arrayBuffer();
        return { webhook, phase: sentIn, status: res.status, ms: Date.now() - started, at: Date.now() };
      } catch (error) {
        const status = (error as Error).name === 'TimeoutError' ? 'hang' : 'network-error';
        return { webhook, phase: sentIn, status, ms: Date.now() - started, at: Date.now() };
      }
    };
    const sender = async () => {
      while (sending && !halted) {
        const webhook = next++;
        while (!halted) {
          const attempt = await post(webhook);
          attempts.push(attempt);
          if (typeof attempt.status === 'number' && attempt.status >= 200 && attempt.status < 300) {
            acked.set(webhook, attempt);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, REDELIVERY_PAUSE_MS));
        }
      }
    };
    const senders = Array.from({ length: SENDERS }, () => sender());
    const ackedCount = () => acked.size;

    await waitFor('20 webhooks acknowledged before anything fails', () => ackedCount() >= 20, 20_000);

    // The replica stops reading (SIGSTOP) and the primary drops its replication link: what the
    // primary acknowledges from now on exists on the primary only.
    phase = 'replica-cut';
    const cutAt = Date.now();
    top.replica.process.kill('SIGSTOP');
    await top.command(top.primary.port, 'CLIENT', 'KILL', 'TYPE', 'replica');
    const cutBase = ackedCount();
    await waitFor('15 webhooks acknowledged by the primary alone', () => ackedCount() >= cutBase + 15, 10_000);

    phase = 'failover';
    const primaryExited = new Promise((resolve) => top.primary.process.once('exit', resolve));
    top.primary.process.kill('SIGKILL');
    await primaryExited;
    const killedAt = Date.now();
    top.replica.process.kill('SIGCONT');
    await waitFor('the sentinels to promote the replica', async () => (await top.primaryPort()) === top.replica.port, 30_000, 50);
    const promotedAt = Date.now();
    const failoverBase = ackedCount();
    await waitFor('a webhook acknowledged by the new primary', () => ackedCount() > failoverBase, 15_000).catch((e: Error) => {
      const lines = (api?.output() ?? '').split('\n').filter((l) => !l.includes('request failed') && !l.includes('write command') && !l.includes('Stream isn'));
      throw new Error(`${e.message}\nAPI:\n${lines.slice(-150).join('\n')}\nlast attempts: ${JSON.stringify(attempts.slice(-10))}`);
    });
    const firstAckAfter = Math.min(...attempts.filter((a) => a.at - a.ms >= killedAt && a.status === 200).map((a) => a.at));

    phase = 'after';
    const afterBase = ackedCount();
    await waitFor('20 more webhooks acknowledged after the failover', () => ackedCount() >= afterBase + 20, 20_000);
    sending = false;
    await Promise.all(senders);

    // Every attempt was answered, a refusal always as a 503 and never slowly.
    const refusals = attempts.filter((a) => a.status !== 200);
    expect(refusals.filter((a) => a.status !== 503)).toEqual([]);
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.filter((a) => a.ms >= 2000)).toEqual([]);
    expect(attempts.filter((a) => a.status === 200 && a.ms >= REQUEST_DEADLINE_MS)).toEqual([]);

    // The API's producer found the new primary through the sentinels; read what it holds.
    const producer = connectRedis(target, 'producer');
    producer.on('error', () => undefined);
    connections.push(producer);
    await waitFor('a producer connection to the new primary', () => producer.status === 'ready', 10_000);
    expect(/^tcp_port:(\d+)/m.exec(await producer.info('server'))?.[1]).toBe(String(top.replica.port));
    queues = createQueues(producer, prefix);
    for (const queue of Object.values(queues)) queue.on('error', () => undefined);
    const missing = async () => {
      const ids: number[] = [];
      for (const webhook of acked.keys()) if ((await queues?.['campaign-tasks'].getJob(jobIdOf(webhook))) === undefined) ids.push(webhook);
      return ids.sort((a, b) => a - b);
    };

    // The writes the replica never received are gone from the new primary: acknowledged by the old
    // primary after the cut, then lost with it. Nothing acknowledged by the new primary is missing.
    const lostWithPrimary = await missing();
    expect(lostWithPrimary.length).toBeGreaterThan(0);
    for (const webhook of lostWithPrimary) {
      const at = acked.get(webhook)?.at ?? Number.NaN;
      expect({ webhook, ackedAfterCut: at >= cutAt, ackedBeforePromotion: at < promotedAt }).toEqual({ webhook, ackedAfterCut: true, ackedBeforePromotion: true });
    }

    // The API wrote each delivery to the database before enqueueing it; the worker's sweep puts
    // every recorded delivery whose job is missing back under the same id.
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    db = openDatabase(database.url);
    const { log } = capturingLogger('sweep');
    // The sweep's clock runs minAgeMs ahead: it sees the rows as the next scheduled sweep would.
    const swept = await sweepDeliveries({ db, queues, log, now: () => new Date(Date.now() + DELIVERY_SWEEP.minAgeMs) });
    expect(swept.requeued).toEqual(expect.arrayContaining(lostWithPrimary.map(jobIdOf)));

    expect(await missing()).toEqual([]);
    // Every acknowledged webhook is processed by the worker that lived through the failover.
    await waitFor('the worker to process every acknowledged webhook', () => [...acked.keys()].every((w) => processed.has(jobIdOf(w))), 20_000);

    const summary = {
      webhooks: acked.size,
      attempts: attempts.length,
      acknowledged: attempts.filter((a) => a.status === 200).length,
      refused503: refusals.length,
      slowest503Ms: Math.max(...refusals.map((a) => a.ms)),
      ackedWhileReplicaCut: [...acked.values()].filter((a) => a.phase === 'replica-cut').length,
      lostWithOldPrimary: lostWithPrimary.length,
      requeuedBySweep: swept.requeued.length,
      lostAfterSweep: (await missing()).length,
      promotionMs: promotedAt - killedAt,
      ingestOutageMs: firstAckAfter - killedAt,
    };
    process.stdout.write(`sentinel failover: ${JSON.stringify(summary)}\n`);
  });
});

describe('Redis Sentinel: a planned failover (SENTINEL FAILOVER) under writes', () => {
  let topology: SentinelTopology | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  let halted = false;

  afterAll(async () => {
    halted = true;
    for (const close of closers.reverse()) await close().catch(() => undefined);
    // The failover subscription ends with the last connection (before the sentinels go).
    await waitFor('the sentinel subscription to end', () => Object.keys(sentinelWatchMembers()).length === 0, 5000);
    await topology?.stop();
  });

  it('the producer and the worker follow the promoted replica; clients of the demoted primary reconnect', async () => {
    topology = await startSentinelTopology({ downAfterMs: 1000, failoverTimeoutMs: 5000 });
    const top = topology;
    const prefix = uniquePrefix('sentinel-manual');
    const target: SentinelTarget = { kind: 'sentinel', url: 'redis://127.0.0.1:6379', sentinels: top.sentinelAddresses, name: top.masterName };
    const producer = connectRedis(target, 'producer');
    producer.on('error', () => undefined);
    closers.push(async () => producer.disconnect());
    const workerConnection = connectRedis(target, 'worker');
    workerConnection.on('error', () => undefined);
    closers.push(async () => workerConnection.disconnect());
    await waitFor('the producer connection', () => producer.status === 'ready', 10_000);
    const queue = new Queue('campaign-tasks', { connection: producer, prefix });
    queue.on('error', () => undefined);
    closers.push(() => queue.close());
    const processed = new Set<string>();
    const worker = new Worker(
      'campaign-tasks',
      async (job) => {
        processed.add(job.id ?? '');
      },
      { connection: workerConnection, prefix },
    );
    worker.on('error', () => undefined);
    closers.push(() => worker.close());
    await worker.waitUntilReady();

    const added: { id: string; at: number }[] = [];
    const errors = new Map<string, number>();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && !halted; i += 1) {
        const id = `manual.${i}`;
        try {
          await queue.add('campaign-ingest', { webhookId: 'wh', taskId: 't', event: 'taskCreated', historyItemId: String(i) }, { jobId: id });
          added.push({ id, at: Date.now() });
        } catch (error) {
          const kind = (error as Error).message.split(' ')[0] ?? 'error';
          errors.set(kind, (errors.get(kind) ?? 0) + 1);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await waitFor('10 jobs added before the failover', () => added.length >= 10, 10_000);

    // When the sentinels announce the new primary (what the connections react to).
    let announcedAt = 0;
    const listener = new Redis({ host: '127.0.0.1', port: top.sentinels[1]?.port ?? 0 });
    listener.on('error', () => undefined);
    closers.push(async () => listener.disconnect());
    listener.on('message', (_channel: string, message: string) => {
      if (announcedAt === 0 && message.startsWith(`${top.masterName} `)) announcedAt = Date.now();
    });
    await listener.subscribe('+switch-master');

    const requestedAt = Date.now();
    await top.command(top.sentinels[0]?.port ?? 0, 'SENTINEL', 'FAILOVER', top.masterName);
    await waitFor('the sentinels to announce the replica as primary', () => announcedAt > 0, 30_000, 20);
    expect(await top.primaryPort()).toBe(top.replica.port);
    const resumed = added.length;
    await waitFor('10 jobs added after the announcement', () => added.length >= resumed + 10, 20_000);
    const firstAfter = added.find((a) => a.at > announcedAt + 100)?.at ?? Number.NaN;
    // The old primary is demoted much later: until then only the announcement moves the clients.
    await waitFor('the old primary to become a replica', async () => /^role:slave/m.test(String(await top.command(top.primary.port, 'INFO', 'replication'))), 30_000, 100);
    const demotedAt = Date.now();
    writing = false;
    await writer;

    // Both connections moved to the promoted replica right after the announcement, long before
    // the old primary was demoted.
    expect(/^tcp_port:(\d+)/m.exec(await producer.info('server'))?.[1]).toBe(String(top.replica.port));
    expect(firstAfter - announcedAt).toBeLessThan(5000);
    expect(demotedAt - announcedAt).toBeGreaterThan(firstAfter - announcedAt);
    const written = added.filter((a) => a.at > announcedAt);
    await waitFor('the worker to process every job added after the announcement', () => written.every((a) => processed.has(a.id)), 20_000);
    const missing: { id: string; at: number }[] = [];
    for (const a of added) if ((await queue.getJob(a.id)) === undefined) missing.push(a);
    // What the new primary lacks was acknowledged by the old one between the promotion and its
    // announcement (asynchronous replication; docs/scaling.md: min-replicas-to-write, and the
    // delivery sweep for webhooks). Nothing acknowledged after the announcement is lost.
    expect(missing.filter((a) => a.at > announcedAt + 100)).toEqual([]);
    process.stdout.write(
      `sentinel planned failover: ${JSON.stringify({
        added: added.length,
        refusedWrites: Object.fromEntries(errors),
        announcedAfterMs: announcedAt - requestedAt,
        writesResumedAfterAnnouncementMs: firstAfter - announcedAt,
        oldPrimaryDemotedAfterAnnouncementMs: demotedAt - announcedAt,
        lostAckedBeforeAnnouncement: missing.length,
        lostWindowMs: missing.length > 0 ? Math.max(...missing.map((m) => m.at)) - Math.min(...missing.map((m) => m.at)) : 0,
      })}\n`,
    );
  });
});
