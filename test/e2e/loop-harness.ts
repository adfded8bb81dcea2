import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '@parley/db';
import { closeQueues, connectRedis, createQueues, createRedis, jobIds, type HostPort, type Queues, type QueueName, type RedisConnection } from '@parley/queue';
import { startSandbox, type HistoryNotification, type Persona, type PubSubPusher, type PushResult, type Sandbox } from '@parley/sandbox';
import { createTestDatabase } from '../support/db';
import { bareAddress, describeLeaks, emailSentences, findLeaks, type Leak, type PrivateData } from '../support/logs';
import { spawnTs, type Spawned } from '../support/processes';
import { dropPrefix, freePort, redisUrl, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../support/redis';
import { waitFor } from '../support/wait';
import { startGoogleGate, type GoogleGate } from './google-gate';

/** The end-to-end clocks: short follow-up, retry and lock times so a campaign settles in seconds. */
export const E2E_CLOCKS: Readonly<Record<string, string>> = {
  WORKER_CONCURRENCY: '4',
  FOLLOW_UP_AFTER: '12',
  MAX_FOLLOW_UPS: '1',
  MAINTENANCE_INTERVAL_MS: '1000',
  RETRY_TRANSIENT_BASE_MS: '300',
  RETRY_OVERLOADED_BASE_MS: '1000',
  RETRY_RATE_LIMIT_DEFAULT_MS: '1000',
  // A killed worker's jobs run elsewhere within seconds (lock expiry + one stalled check).
  JOB_LOCK_DURATION_MS: '4000',
  JOB_STALLED_INTERVAL_MS: '1000',
  // A send whose worker died or was cut off mid-request is sent again 6 s after it was handed
  // to Gmail (deployed 45 s); its request was given up and reset after 5 s.
  GMAIL_TIMEOUT_MS: '5000',
  GMAIL_SEND_SETTLE_MS: '6000',
  SHUTDOWN_GRACE_MS: '3000',
};

export const SETTLED_STATES: ReadonlySet<string> = new Set(['agreed', 'declined', 'escalated', 'stale', 'human_managed']);

const WORK_QUEUES: QueueName[] = ['gmail-notifications', 'campaign-tasks', 'negotiation-steps', 'outbound-email', 'alerts'];

/** Waits until no job of the work queues is waiting, active, delayed or waiting for children. */
export async function waitForQueuesIdle(queues: Queues, timeoutMs: number): Promise<void> {
  await waitFor(
    'the queues to drain',
    async () => {
      for (const q of WORK_QUEUES) {
        const counts = await queues[q].getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        if (Object.values(counts).some((c) => c > 0)) return false;
      }
      return true;
    },
    timeoutMs,
    250,
  );
}

/**
 * One API or worker process. Depending on how it is started, tsx runs the app in the spawned
 * process or relaunches it as a child: `pid` is the process that runs the app either way.
 */
export interface LoopProcess {
  name: string;
  spawned: Spawned;
  pid: number;
  exited: Promise<number | string>;
  output: () => string;
}

export interface LoopHarnessOptions {
  /** Names the Redis prefix and the processes' logs. */
  label: string;
  personas?: Record<string, Persona>;
  /** How long a simulated influencer takes to answer. @defaultValue 800 */
  personaDelayMs?: number;
  /**
   * Push each Gmail notification to the API as Pub/Sub would (after `start`). Off: nothing is
   * pushed unless the test calls `push`, in the order and as often as it likes.
   */
  autoPush?: boolean;
  /** A private redis-server with AOF (kill and restart tests) instead of the shared Redis. */
  privateRedis?: { appendfsync: 'always' | 'everysec' };
  /**
   * Run on a Redis Cluster instead (some of its nodes): the processes get REDIS_CLUSTER_NODES and
   * a hash-tagged prefix, and the harness reads the queues through the cluster too.
   */
  redisCluster?: { nodes: readonly HostPort[] };
  /** Extra or overriding environment for every process. */
  env?: Record<string, string>;
  /**
   * Off: the processes reach Gmail and Sheets directly, without the gate's extra HTTP hop
   * (benchmarks), and `gate.hold` throws. @defaultValue true
   */
  googleGate?: boolean;
}

export interface LoopHarness {
  sandbox: Sandbox;
  /** The proxy the processes reach Gmail and Sheets through (can hold chosen answers). */
  gate: GoogleGate;
  /** The test's own connection to the processes' database (the one `useDatabase` named last). */
  db: Db;
  /** The processes' queues, for inspecting jobs (a fail-fast connection of the test's own). */
  queues: Queues;
  prefix: string;
  redisUrl: string;
  privateRedis: PrivateRedis | null;
  apiUrl: string;
  /** The environment every process gets (plus `extra`). */
  env: (extra?: Record<string, string>) => Record<string, string>;
  /** The API and `workers` worker processes, each waited for until it serves. */
  start: (workers?: number) => Promise<void>;
  startApi: () => Promise<LoopProcess>;
  startWorker: (extra?: Record<string, string>) => Promise<LoopProcess>;
  /**
   * Points the processes started from now on, `db` and the harness's own reads (waitForSettled,
   * the privacy scan) at another database, e.g. one the data was moved to while every process
   * was stopped. The caller opened `db` and closes it (and drops the database) after `close`.
   */
  useDatabase: (url: string, db: Db) => void;
  /** Processes started and not yet seen to exit. */
  running: () => LoopProcess[];
  /** Sends a signal to the app process (SIGKILL unless told) and waits for it and its tsx parent to exit. */
  kill: (p: LoopProcess, signal?: NodeJS.Signals) => Promise<void>;
  /** SIGTERM: the process shuts down gracefully (drains or hands its jobs back) and exits. */
  stop: (p: LoopProcess) => Promise<void>;
  killAll: (signal?: NodeJS.Signals) => Promise<void>;
  /** Pushes a notification by hand, signed like Pub/Sub; the same `messageId` is a redelivery. */
  push: (n: HistoryNotification, messageId?: string) => Promise<PushResult>;
  /** Sends the signed ClickUp webhook for a task (`times` identical deliveries). */
  webhook: (taskId: string, options?: { event?: string; historyItemId?: string; times?: number }) => Promise<number[]>;
  /** Every process's output so far, by name (JSON log lines). */
  logs: () => Record<string, string>;
  /** Waits until `count` negotiations exist and every one is in a settled state. */
  waitForSettled: (count: number, timeoutMs?: number) => Promise<void>;
  /** Waits until no job is waiting, active or delayed (the repeatable maintenance aside). */
  waitForIdle: (timeoutMs?: number) => Promise<void>;
  /** The stored BullMQ job (or undefined). */
  job: (queue: QueueName, jobId: string) => ReturnType<Queues[QueueName]['getJob']>;
  /** The run's private data: influencer addresses, email sentences, every credential. */
  privateData: () => Promise<PrivateData>;
  /** Private data found so far in any process's output or any envelope sent to the Sentry stand-in. */
  leaks: () => Promise<Leak[]>;
  /**
   * Stops everything and cleans up; then fails (throws) if any private datum reached a
   * process's output or Sentry during the run, so every e2e test checks privacy at teardown.
   */
  close: () => Promise<void>;
}

/** The pids of a process's children (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie has exited; it only waits for its parent to collect it.
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/**
 * Blocks (synchronously) until the process is gone. Used from inside a sandbox listener that
 * must not let the sandbox answer before the killed process is dead.
 */
export function killNow(pid: number): void {
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < deadline) {
    // Spin: a SIGKILL completes within microseconds to milliseconds.
  }
}

export async function createLoopHarness(options: LoopHarnessOptions): Promise<LoopHarness> {
  const database = await createTestDatabase();
  const privateRedis = options.privateRedis ? await startPrivateRedis({ appendfsync: options.privateRedis.appendfsync }) : null;
  const url = privateRedis?.url ?? redisUrl();
  const cluster = options.redisCluster;
  // On Cluster every key of the prefix must hash to one slot: the whole prefix is the tag.
  const prefix = cluster ? `{${uniquePrefix(`e2e-${options.label}`)}}` : uniquePrefix(`e2e-${options.label}`);
  const sandbox = await startSandbox({ personas: options.personas, personaDelayMs: options.personaDelayMs ?? 800 });
  const gate = options.googleGate === false ? directToGoogle(sandbox.google.url) : await startGoogleGate(sandbox.google.url);
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const pusher: PubSubPusher = sandbox.pusherFor(apiUrl, { maxAttempts: 10 });
  const connection: RedisConnection = cluster ? connectRedis({ kind: 'cluster', url, nodes: cluster.nodes }, 'producer') : createRedis(url, 'producer');
  connection.on('error', () => undefined);
  const queues = createQueues(connection, prefix);
  for (const q of Object.values(queues)) q.on('error', () => undefined);
  // 16 bytes: the config refuses tokens that do not look random, and 12 would fail it about once in 50,000 runs.
  const adminToken = randomBytes(16).toString('hex');
  const processes: LoopProcess[] = [];
  let workerCount = 0;
  let current: { url: string; db: Db } = { url: database.url, db: database.db };

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...sandbox.env(),
    GOOGLE_API_ROOT_URL: gate.url,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    REDIS_URL: url,
    DATABASE_URL: current.url,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    ADMIN_TOKEN: adminToken,
    ...E2E_CLOCKS,
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') } : {}),
    ...options.env,
    ...extra,
  });

  const track = (name: string, spawned: Spawned): LoopProcess => {
    const p: LoopProcess = { name, spawned, pid: 0, exited: spawned.exited, output: spawned.output };
    processes.push(p);
    return p;
  };

  // Called once the app has logged that it serves: by then a relaunched app is running.
  const appPid = (p: LoopProcess): number => {
    const pid = p.spawned.child.pid ?? 0;
    return childPids(pid)[0] ?? pid;
  };

  const startApi = async (): Promise<LoopProcess> => {
    const p = track('api', spawnTs('apps/api/src/main.ts', env()));
    await p.spawned.waitForLine(/api listening/, 90_000);
    p.pid = appPid(p);
    return p;
  };

  const startWorker = async (extra: Record<string, string> = {}): Promise<LoopProcess> => {
    workerCount += 1;
    const p = track(`worker-${workerCount}`, spawnTs('apps/worker/src/main.ts', env(extra)));
    const ready = await p.spawned.waitForLine(/worker ready/, 90_000);
    // workerId is `<host>-<pid>` of the process that runs the worker.
    p.pid = Number(/"workerId":"[^"]*-(\d+)"/.exec(ready)?.[1]) || appPid(p);
    return p;
  };

  const running = () => processes.filter((p) => p.spawned.child.exitCode === null && p.spawned.child.signalCode === null);

  const kill = async (p: LoopProcess, signal: NodeJS.Signals = 'SIGKILL') => {
    const pid = p.pid || childPids(p.spawned.child.pid ?? 0)[0];
    if (pid && isAlive(pid)) process.kill(pid, signal);
    else if (running().includes(p)) p.spawned.child.kill(signal);
    await p.exited;
  };

  const killAll = async (signal: NodeJS.Signals = 'SIGKILL') => {
    await Promise.all(running().map((p) => kill(p, signal)));
  };

  const logs = () => Object.fromEntries(processes.map((p, i) => [`${p.name}#${i}`, p.output()]));

  const privateData = async (): Promise<PrivateData> => {
    const google = sandbox.google;
    const sent = google.sent();
    const mails = [...sent, ...[...new Set(sent.map((m) => m.threadId))].flatMap((t) => google.messagesInThread(t))];
    // What the processes stored as well: mail the sandbox delivered outside those threads.
    const [negotiations, inbound, outbox] = await Promise.all([
      current.db.negotiation.findMany({ select: { influencerEmail: true } }).catch(() => []),
      current.db.inboundMessage.findMany({ select: { text: true } }).catch(() => []),
      current.db.outboxEmail.findMany({ select: { body: true, toAddress: true } }).catch(() => []),
    ]);
    const mailbox = google.mailbox.toLowerCase();
    const addresses = [...mails.flatMap((m) => [m.from, m.to]), ...negotiations.map((n) => n.influencerEmail), ...outbox.map((o) => o.toAddress)]
      .map(bareAddress)
      .filter((a): a is string => a !== null && a !== mailbox);
    const texts = [...mails.map((m) => m.text), ...inbound.map((m) => m.text), ...outbox.map((o) => o.body)];
    const sandboxEnv = sandbox.env();
    const secretNames = /KEY|TOKEN|SECRET/;
    return {
      addresses: [...new Set(addresses)],
      sentences: [...new Set(texts.flatMap(emailSentences))],
      secrets: [
        ...Object.entries({ ...sandboxEnv, ...env() })
          // The DSN's key is public by design (every envelope names it).
          .filter(([name]) => secretNames.test(name) && name !== 'SENTRY_DSN' && !name.endsWith('_URL'))
          .map(([, value]) => value),
        google.credentials.clientSecret,
        google.credentials.refreshToken,
      ],
      // Access tokens and OIDC tokens issued during the run.
      patterns: [/ya29\.[A-Za-z0-9._-]{8,}/, /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/],
    };
  };

  const leaks = async (): Promise<Leak[]> => {
    const envelopes = Object.fromEntries(sandbox.sentry.envelopes().map((e, i) => [`sentry envelope #${i}`, e]));
    return findLeaks({ ...logs(), ...envelopes }, await privateData());
  };

  return {
    sandbox,
    gate,
    get db() {
      return current.db;
    },
    queues,
    prefix,
    redisUrl: url,
    privateRedis,
    apiUrl,
    env,
    start: async (workers = 2) => {
      await startApi();
      if (options.autoPush) sandbox.connectApi(apiUrl, { maxAttempts: 10 });
      await Promise.all(Array.from({ length: workers }, () => startWorker()));
    },
    startApi,
    startWorker,
    useDatabase: (databaseUrl, db) => {
      current = { url: databaseUrl, db };
    },
    running,
    kill,
    killAll,
    stop: (p) => kill(p, 'SIGTERM'),
    logs,
    privateData,
    leaks,
    push: (n, messageId) => pusher.push({ ...n, ...(messageId ? { messageId } : {}) }),
    webhook: (taskId, o = {}) =>
      sandbox.clickup.sendWebhook(`${apiUrl}/webhooks/clickup`, { event: o.event ?? 'taskStatusUpdated', taskId, ...(o.historyItemId ? { historyItemId: o.historyItemId } : {}) }, { times: o.times ?? 1 }),
    waitForSettled: async (count, timeoutMs = 180_000) => {
      await waitFor(
        `${count} negotiations settled`,
        async () => {
          const all = await current.db.negotiation.findMany({ select: { state: true } });
          return all.length === count && all.every((n) => SETTLED_STATES.has(n.state));
        },
        timeoutMs,
        250,
      );
    },
    waitForIdle: (timeoutMs = 60_000) => waitForQueuesIdle(queues, timeoutMs),
    job: (queue, jobId) => queues[queue].getJob(jobId),
    close: async () => {
      // The sandbox first, while the API still answers the pushes it has under way.
      sandbox.disconnectApi();
      const data = await privateData();
      await sandbox.close();
      await killAll();
      const found = findLeaks({ ...logs(), ...Object.fromEntries(sandbox.sentry.envelopes().map((e, i) => [`sentry envelope #${i}`, e])) }, data);
      if (process.env.E2E_LOG_DIR) {
        fs.mkdirSync(process.env.E2E_LOG_DIR, { recursive: true });
        for (const [i, p] of processes.entries()) fs.writeFileSync(path.join(process.env.E2E_LOG_DIR, `${prefix}-${i}-${p.name}.log`), p.output());
      }
      await gate.close();
      await closeQueues(queues).catch(() => undefined);
      connection.disconnect();
      await database.cleanup();
      if (privateRedis) await privateRedis.stop();
      else if (!cluster) await dropPrefix(url, prefix);
      if (found.length > 0) throw new Error(describeLeaks(found));
    },
  };
}

/** The processes' Google root when there is no gate: the sandbox itself (its URL ends with `/`), nothing to hold. */
function directToGoogle(url: string): GoogleGate {
  return {
    url,
    hold: () => {
      throw new Error('this harness runs without the Google gate (googleGate: false): nothing can be held');
    },
    close: async () => undefined,
  };
}

/** The id of the mailbox-sync job a notification's push became. */
export function syncJobId(messageId: string): string {
  return jobIds.mailboxSync(messageId);
}
