import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { closeQueues, createQueues, createRedis, heartbeatKey, type Queues } from '@parley/queue';
import { startSandbox, type Persona, type Sandbox } from '@parley/sandbox';
import { bareAddress, describeLeaks, emailSentences, findLeaks, type PrivateData } from '../support/logs';
import { nodeArgs, ROOT, watchOutput } from '../support/processes';
import { freePort, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';
import { E2E_CLOCKS, SETTLED_STATES, waitForQueuesIdle } from '../e2e/loop-harness';
import { createLinkSwitch, startForwarder, type Forwarder, type LinkSwitch } from './forwarder';
import { createHostsDatabase, type HostsDatabase } from './host-database';
import { createHostNetwork, probeNamespaces, sweepStaleHosts, type HostNetwork } from './netns';

/**
 * How the hosts are separated. `namespaces`: each host is a Linux network namespace with its
 * own address; the shared services (Redis, PostgreSQL, the sandbox) are reached over a bridge.
 * `process-trees` (no namespaces here): each host is a process with its own working directory
 * and home, reaching every service through TCP relays of its own on loopback, which a cut
 * stalls in both directions.
 */
export type HostsMode = 'namespaces' | 'process-trees';

/** The API's port inside its own namespace (each namespace has its own ports). */
const API_PORT_IN_NAMESPACE = 3000;

export interface HostProcess {
  host: string;
  role: 'api' | 'worker' | 'script';
  /** The host's own working directory and HOME (a temp dir, not the checkout). */
  dir: string;
  /** The app process (`ip netns exec` replaces itself with node). */
  pid: number;
  /** `<hostname>-<pid>` as the worker registers its heartbeat (workers only). */
  workerId: string | null;
  exited: Promise<number | string>;
  alive: () => boolean;
  output: () => string;
  waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
}

export interface HostsHarnessOptions {
  label: string;
  workers: readonly string[];
  personas: Record<string, Persona>;
  personaDelayMs?: number;
  /** Extra environment for every process (after the defaults). */
  env?: Record<string, string>;
  /**
   * PostgreSQL run-time parameters every process's sessions get (`options=-c name=value` in
   * its DATABASE_URL).
   */
  postgresSessionSettings?: Record<string, string>;
}

export interface HostsHarness {
  mode: HostsMode;
  /** Why namespaces were not used (null when they were). */
  fallbackReason: string | null;
  sandbox: Sandbox;
  db: HostsDatabase['db'];
  /** The test's own URL of the database (loopback). */
  databaseUrl: string;
  queues: Queues;
  prefix: string;
  apiUrl: string;
  /** Each host's address as the others see it. */
  addresses: Record<string, string>;
  processes: Record<string, HostProcess>;
  /** The API, then every worker, each waited for until it serves. */
  start: () => Promise<void>;
  /** The environment a process on `host` gets (services at the addresses that host reaches). */
  hostEnv: (host: string) => Record<string, string>;
  /** Runs `node -e code` on the host, in a working directory of its own, with `env` (default hostEnv). */
  runScript: (host: string, code: string, env?: Record<string, string>) => HostProcess;
  /** Cuts the host off the network: nothing reaches it, nothing leaves it; its process runs on. */
  cut: (host: string) => void;
  restore: (host: string) => void;
  kill: (host: string) => Promise<void>;
  webhook: (taskId: string) => Promise<number[]>;
  /**
   * Whether the host can talk to Redis right now: a PING sent from the host (inside its
   * namespace, or through its own relay) is answered within 2 s.
   */
  redisAnswers: (host: string) => Promise<boolean>;
  /** Last heartbeat (ms) of every worker id in Redis. */
  heartbeats: () => Promise<Record<string, number>>;
  waitForSettled: (count: number, timeoutMs: number) => Promise<void>;
  waitForIdle: (timeoutMs: number) => Promise<void>;
  /** Throws if any private datum (address, email sentence, credential) reached a process's output. */
  checkPrivacy: () => Promise<void>;
  close: () => Promise<void>;
}

function ciRequiresNamespaces(): boolean {
  const ci = (process.env.CI ?? '').trim().toLowerCase();
  return ci !== '' && ci !== 'false' && ci !== '0';
}

/** Namespaces when they can be made; otherwise process trees, except in CI where that is an error. */
export function chooseMode(): { mode: HostsMode; reason: string | null } {
  if (process.env.PARLEY_HOSTS_MODE === 'process-trees') return { mode: 'process-trees', reason: 'PARLEY_HOSTS_MODE=process-trees' };
  const support = probeNamespaces();
  if (support.ok) return { mode: 'namespaces', reason: null };
  if (ciRequiresNamespaces()) throw new Error(`the multi-host test needs network namespaces in CI: ${support.reason}`);
  return { mode: 'process-trees', reason: support.reason };
}

async function startRedisServer(bind: string, dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', bind, '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'], { stdio: 'ignore' });
  child.on('error', () => undefined);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `redis://${bind}:${port}`;
  await waitFor(
    `redis-server on ${bind}:${port}`,
    async () => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        if (r.status !== 'end') r.disconnect();
      }
    },
    10_000,
    50,
  );
  return {
    url,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Every `127.0.0.1:<port>` a sandbox URL names. */
function loopbackPorts(env: Record<string, string>): number[] {
  const ports = new Set<number>();
  for (const value of Object.values(env)) for (const m of value.matchAll(/127\.0\.0\.1:(\d+)/g)) ports.add(Number(m[1]));
  return [...ports];
}

function rewrite(env: Record<string, string>, map: Map<number, { address: string; port: number }>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      v.replace(/127\.0\.0\.1:(\d+)/g, (whole, port: string) => {
        const to = map.get(Number(port));
        return to ? `${to.address}:${to.port}` : whole;
      }),
    ]),
  );
}

/** The node arguments that run `entry` from the checkout whatever the working directory is. */
function hostNodeArgs(entry: string): string[] {
  const loader = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  return nodeArgs(entry).map((a) => (a === 'tsx' ? loader : a));
}

export async function createHostsHarness(options: HostsHarnessOptions): Promise<HostsHarness> {
  const { mode, reason } = chooseMode();
  const hostNames = ['api', ...options.workers];
  const cleanups: Array<() => Promise<void> | void> = [];
  const runCleanups = async () => {
    for (const undo of cleanups.splice(0).reverse()) {
      try {
        await undo();
      } catch (error) {
        process.stderr.write(`[hosts] clean-up step failed: ${(error as Error).message}\n`);
      }
    }
  };

  try {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `parley-hosts-${options.label}-`));
    cleanups.push(() => fs.rmSync(scratch, { recursive: true, force: true }));

    let network: HostNetwork | null = null;
    if (mode === 'namespaces') {
      const swept = sweepStaleHosts();
      if (swept.length > 0) process.stdout.write(`[hosts] removed what an earlier run left: ${swept.join(', ')}\n`);
      network = createHostNetwork(hostNames);
      cleanups.push(() => network?.remove());
      process.stdout.write(`[hosts] network namespaces: services on ${network.serviceAddress}, ${Object.values(network.hosts).map((h) => `${h.name}=${h.address}`).join(', ')}\n`);
    } else {
      process.stdout.write(`[hosts] FALLBACK: no network namespaces (${reason}); each host is a separate process tree with its own working directory on loopback, cut off by stalling its own TCP relays\n`);
    }

    const database = await createHostsDatabase();
    cleanups.push(() => database.cleanup());
    const sandbox = await startSandbox({ personas: options.personas, personaDelayMs: options.personaDelayMs ?? 800 });
    cleanups.push(() => sandbox.close());
    const serviceAddress = network?.serviceAddress ?? '127.0.0.1';
    const redis = await startRedisServer(serviceAddress, scratch);
    cleanups.push(() => redis.stop());
    const redisPort = Number(new URL(redis.url).port);
    const pgAdmin = new URL(database.url);
    const pgPort = Number(pgAdmin.port || 5432);

    // What each host is given: the loopback services, through relays it can reach.
    const sandboxEnv = sandbox.env();
    const loopbackServices = [...loopbackPorts(sandboxEnv), pgPort];
    const forwarders: Forwarder[] = [];
    cleanups.push(async () => {
      await Promise.all(forwarders.map((f) => f.close()));
    });
    const links = new Map<string, LinkSwitch>();
    const hostMaps = new Map<string, Map<number, { address: string; port: number }>>();
    if (network) {
      // One relay per loopback service on the bridge address, shared by every host (Redis
      // listens on the bridge itself).
      const shared = new Map<number, { address: string; port: number }>();
      for (const port of loopbackServices) {
        const f = await startForwarder({ host: serviceAddress }, { host: '127.0.0.1', port });
        forwarders.push(f);
        shared.set(port, { address: f.address, port: f.port });
      }
      for (const h of hostNames) hostMaps.set(h, shared);
    } else {
      // Each host its own relays (Redis included), switched off together to cut it off.
      for (const h of hostNames) {
        const link = createLinkSwitch();
        links.set(h, link);
        const map = new Map<number, { address: string; port: number }>();
        for (const port of [...loopbackServices, redisPort]) {
          const f = await startForwarder({ host: '127.0.0.1' }, { host: '127.0.0.1', port }, link);
          forwarders.push(f);
          map.set(port, { address: f.address, port: f.port });
        }
        hostMaps.set(h, map);
      }
    }

    const prefix = uniquePrefix(`hosts-${options.label}`);
    const testRedis = createRedis(redis.url, 'producer');
    testRedis.on('error', () => undefined);
    const queues = createQueues(testRedis, prefix);
    for (const q of Object.values(queues)) q.on('error', () => undefined);
    cleanups.push(async () => {
      await closeQueues(queues).catch(() => undefined);
      testRedis.disconnect();
    });

    const apiPort = network ? API_PORT_IN_NAMESPACE : await freePort();
    const addresses: Record<string, string> = Object.fromEntries(hostNames.map((h) => [h, network?.hosts[h]?.address ?? '127.0.0.1']));
    const apiUrl = `http://${addresses.api}:${apiPort}`;
    const adminToken = randomBytes(16).toString('hex');
    const sessionOptions = Object.entries(options.postgresSessionSettings ?? {})
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' ');

    const envFor = (host: string, dir: string): Record<string, string> => {
      const map = hostMaps.get(host) ?? new Map<number, { address: string; port: number }>();
      const pg = map.get(pgPort);
      const dbUrl = new URL(database.url);
      if (pg) {
        dbUrl.hostname = pg.address;
        dbUrl.port = String(pg.port);
      }
      if (sessionOptions) dbUrl.searchParams.set('options', sessionOptions);
      const redisTo = map.get(redisPort);
      const redisUrl = redisTo ? `redis://${redisTo.address}:${redisTo.port}` : redis.url;
      return {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        TMPDIR: dir,
        ...rewrite(sandboxEnv, map),
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        REDIS_URL: redisUrl,
        DATABASE_URL: dbUrl.toString(),
        QUEUE_PREFIX: prefix,
        PORT: String(apiPort),
        ADMIN_TOKEN: adminToken,
        ...E2E_CLOCKS,
        ...options.env,
      };
    };

    const processes: Record<string, HostProcess> = {};
    const scripts: HostProcess[] = [];
    const spawnHost = (host: string, role: HostProcess['role'], script?: { code: string; env?: Record<string, string> }): HostProcess => {
      const dir = fs.mkdtempSync(path.join(scratch, `${host}-`));
      const args = script ? ['-e', script.code] : hostNodeArgs(role === 'api' ? 'apps/api/src/main.ts' : 'apps/worker/src/main.ts');
      const env = script?.env ? { ...script.env, HOME: dir, TMPDIR: dir } : envFor(host, dir);
      const [command, ...prefixArgs] = network ? [...network.execPrefix(host), process.execPath] : [process.execPath];
      const child = spawn(command as string, [...prefixArgs, ...args], { cwd: dir, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      const watched = watchOutput(child, host);
      const p: HostProcess = {
        host,
        role,
        dir,
        pid: child.pid ?? 0,
        workerId: null,
        exited: watched.exited,
        alive: () => child.exitCode === null && child.signalCode === null,
        output: watched.output,
        waitForLine: watched.waitForLine,
      };
      if (!script) processes[host] = p;
      else scripts.push(p);
      return p;
    };
    const killProcess = async (p: HostProcess | undefined) => {
      if (!p || !p.alive()) return;
      process.kill(p.pid, 'SIGKILL');
      await p.exited;
    };
    const killHost = (host: string) => killProcess(processes[host]);
    cleanups.push(async () => {
      await Promise.all([...Object.values(processes), ...scripts].map(killProcess));
    });

    const logs = () => Object.fromEntries(Object.values(processes).map((p) => [p.host, p.output()]));
    const privateData = async (): Promise<PrivateData> => {
      const google = sandbox.google;
      const sent = google.sent();
      const mails = [...sent, ...[...new Set(sent.map((m) => m.threadId))].flatMap((t) => google.messagesInThread(t))];
      const [negotiations, inbound] = await Promise.all([
        database.db.negotiation.findMany({ select: { influencerEmail: true } }).catch(() => []),
        database.db.inboundMessage.findMany({ select: { text: true } }).catch(() => []),
      ]);
      const mailbox = google.mailbox.toLowerCase();
      const mailAddresses = [...mails.flatMap((m) => [m.from, m.to]), ...negotiations.map((n) => n.influencerEmail)].map(bareAddress).filter((a): a is string => a !== null && a !== mailbox);
      const env = { ...sandboxEnv, ADMIN_TOKEN: adminToken };
      return {
        addresses: [...new Set(mailAddresses)],
        sentences: [...new Set([...mails.map((m) => m.text), ...inbound.map((m) => m.text)].flatMap(emailSentences))],
        secrets: [
          ...Object.entries(env)
            .filter(([name]) => /KEY|TOKEN|SECRET/.test(name) && name !== 'SENTRY_DSN' && !name.endsWith('_URL'))
            .map(([, value]) => value),
          google.credentials.clientSecret,
          google.credentials.refreshToken,
        ],
        patterns: [/ya29\.[A-Za-z0-9._-]{8,}/, /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/],
      };
    };

    const cut = (host: string) => {
      if (network) network.cut(host);
      else links.get(host)?.setCut(true);
    };
    const restore = (host: string) => {
      if (network) network.restore(host);
      else links.get(host)?.setCut(false);
    };

    return {
      mode,
      fallbackReason: reason,
      sandbox,
      db: database.db,
      databaseUrl: database.url,
      queues,
      prefix,
      apiUrl,
      addresses,
      processes,
      start: async () => {
        const api = spawnHost('api', 'api');
        await api.waitForLine(/api listening/, 120_000);
        sandbox.connectApi(apiUrl, { maxAttempts: 10 });
        await Promise.all(
          options.workers.map(async (host) => {
            const w = spawnHost(host, 'worker');
            const ready = await w.waitForLine(/worker ready/, 120_000);
            w.workerId = /"workerId":"([^"]+)"/.exec(ready)?.[1] ?? null;
            const pid = Number(/-(\d+)$/.exec(w.workerId ?? '')?.[1]);
            // The process that runs the worker is the one spawned (ip netns exec becomes node).
            if (pid !== w.pid) throw new Error(`${host}: the worker runs as pid ${pid}, not the spawned ${w.pid}`);
          }),
        );
      },
      hostEnv: (host) => envFor(host, scratch),
      runScript: (host, code, env) => spawnHost(host, 'script', { code, env: env ?? envFor(host, scratch) }),
      cut,
      restore,
      kill: killHost,
      redisAnswers: (host) => {
        const to = hostMaps.get(host)?.get(redisPort) ?? { address: serviceAddress, port: redisPort };
        const script = `const s=require('net').connect(${to.port},${JSON.stringify(to.address)});let b='';s.on('connect',()=>s.write('PING\\r\\n'));s.on('data',(d)=>{b+=d;if(b.includes('+PONG'))process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000);`;
        const [command, ...prefixArgs] = network ? [...network.execPrefix(host), process.execPath] : [process.execPath];
        return new Promise<boolean>((resolve) => {
          const child = spawn(command as string, [...prefixArgs, '-e', script], { stdio: 'ignore' });
          child.on('error', () => resolve(false));
          child.on('exit', (code) => resolve(code === 0));
        });
      },
      webhook: (taskId) => sandbox.clickup.sendWebhook(`${apiUrl}/webhooks/clickup`, { event: 'taskStatusUpdated', taskId }, { times: 1 }),
      heartbeats: async () => {
        const flat = await testRedis.zrange(heartbeatKey(prefix), 0, -1, 'WITHSCORES');
        const out: Record<string, number> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = Number(flat[i + 1]);
        return out;
      },
      waitForSettled: async (count, timeoutMs) => {
        await waitFor(
          `${count} negotiations settled`,
          async () => {
            const all = await database.db.negotiation.findMany({ select: { state: true } });
            return all.length === count && all.every((n) => SETTLED_STATES.has(n.state));
          },
          timeoutMs,
          250,
        );
      },
      waitForIdle: (timeoutMs) => waitForQueuesIdle(queues, timeoutMs),
      checkPrivacy: async () => {
        const found = findLeaks({ ...logs(), ...Object.fromEntries(sandbox.sentry.envelopes().map((e, i) => [`sentry envelope #${i}`, e])) }, await privateData());
        if (found.length > 0) throw new Error(describeLeaks(found));
      },
      close: async () => {
        sandbox.disconnectApi();
        if (process.env.E2E_LOG_DIR) {
          fs.mkdirSync(process.env.E2E_LOG_DIR, { recursive: true });
          for (const p of Object.values(processes)) fs.writeFileSync(path.join(process.env.E2E_LOG_DIR, `${prefix}-${p.host}.log`), p.output());
        }
        // Links back up first, so no process is left holding a half-open connection to a service.
        for (const h of hostNames) restore(h);
        await runCleanups();
      },
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}
