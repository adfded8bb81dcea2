import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { followSentinelSwitches } from './sentinel-watch';

export { sentinelWatchMembers } from './sentinel-watch';

/**
 * Every Redis connection of Parley is made here, for one of two roles:
 *
 * - `producer` (the API's enqueues, the workers' alerts, rate-limit pauses and sweeps, the CLI):
 *   fails fast. No offline queue and one retry per command, so while no primary is reachable a
 *   command fails at once, the API answers 503 within its enqueue deadline and the sender
 *   redelivers (docs/scaling.md, "Redis high availability").
 * - `worker` (BullMQ workers' blocking connections): waits forever. BullMQ requires
 *   `maxRetriesPerRequest: null` there; a worker rides out an outage or a failover and resumes.
 *
 * On every deployment kind both roles reconnect after a READONLY reply (a write reached a node
 * that is no longer the primary: a failover happened under an open connection) and resend the
 * command: a READONLY command was not executed, so resending it cannot apply it twice.
 */
export type RedisRole = 'producer' | 'worker';

/** A single node or a Sentinel-managed primary (a `Redis`), or a Redis Cluster. BullMQ takes either. */
export type RedisConnection = Redis | Cluster;

export interface HostPort {
  host: string;
  port: number;
}

/** The Redis settings of the environment (@parley/config's Env has these fields). */
export interface RedisConfig {
  REDIS_URL: string;
  REDIS_SENTINELS?: readonly HostPort[];
  REDIS_SENTINEL_NAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_CLUSTER_NODES?: readonly HostPort[];
}

export interface StandaloneTarget {
  kind: 'standalone';
  url: string;
}
export interface SentinelTarget {
  kind: 'sentinel';
  /** Credentials, database and TLS of the data nodes; its host and port are not used. */
  url: string;
  sentinels: readonly HostPort[];
  name: string;
  sentinelPassword?: string;
}
export interface ClusterTarget {
  kind: 'cluster';
  /** Credentials and TLS of the data nodes; its host and port are not used. */
  url: string;
  nodes: readonly HostPort[];
}
export type RedisTarget = StandaloneTarget | SentinelTarget | ClusterTarget;

/** What a caller may change: connect on demand, or give up instead of reconnecting (the CLI). */
export interface ConnectionOverrides {
  lazyConnect?: boolean;
  retryStrategy?: (attempt: number) => number | null;
}

/**
 * Which deployment the settings describe. The configuration refuses Sentinel and Cluster
 * together and a Sentinel list without its master name (parseEnv); this only reads them.
 */
export function redisTarget(config: RedisConfig): RedisTarget {
  const sentinels = config.REDIS_SENTINELS ?? [];
  const nodes = config.REDIS_CLUSTER_NODES ?? [];
  if (sentinels.length > 0 && nodes.length > 0) throw new Error('REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: choose Sentinel or Cluster');
  if (sentinels.length > 0) {
    if (!config.REDIS_SENTINEL_NAME) throw new Error('REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the master name the sentinels monitor)');
    return { kind: 'sentinel', url: config.REDIS_URL, sentinels, name: config.REDIS_SENTINEL_NAME, sentinelPassword: config.REDIS_SENTINEL_PASSWORD };
  }
  if (nodes.length > 0) return { kind: 'cluster', url: config.REDIS_URL, nodes };
  return { kind: 'standalone', url: config.REDIS_URL };
}

/** Retry delays of a lost connection: 200 ms, 400 ms, ... then every 2 s. */
const reconnectDelay = (attempt: number) => Math.min(attempt * 200, 2000);

/** How long a Sentinel connection waits for a reply before it is dropped and re-resolved. */
const SOCKET_TIMEOUT_MS: Record<RedisRole, number> = { producer: 5000, worker: 30_000 };

/** After a failover a write can reach a node that became a replica: reconnect and resend it. */
export function reconnectOnReadonly(error: Error): 2 | false {
  return error.message.startsWith('READONLY') ? 2 : false;
}

/** The options every node connection of a role gets (standalone, Sentinel primary, Cluster node). */
export function roleOptions(role: RedisRole): RedisOptions {
  return role === 'producer'
    ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: reconnectDelay, reconnectOnError: reconnectOnReadonly }
    : { maxRetriesPerRequest: null, retryStrategy: reconnectDelay, reconnectOnError: reconnectOnReadonly };
}

/** Username, password, database and TLS from a redis:// or rediss:// URL (for Sentinel and Cluster data nodes). */
export function dataNodeOptions(url: string): Pick<RedisOptions, 'username' | 'password' | 'db' | 'tls'> {
  const parsed = new URL(url);
  const options: Pick<RedisOptions, 'username' | 'password' | 'db' | 'tls'> = {};
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '') options.db = Number(db);
  if (parsed.protocol === 'rediss:') options.tls = {};
  return options;
}

/**
 * Sentinel: ioredis asks the sentinels for the primary's address on every (re)connection and
 * checks that the node it reached reports role:master (a sentinel that has not seen the
 * failover yet is skipped). A primary that dies closes its sockets, so both roles reconnect at
 * once and keep asking until the sentinels name the promoted replica. A primary that is still
 * up when another is promoted (SENTINEL FAILOVER, a partition) keeps its clients until the
 * sentinels demote it, about 10 s later, and loses what it acknowledged meanwhile: every Sentinel
 * connection therefore drops itself when the sentinels announce the switch (sentinel-watch.ts),
 * and a write that still reaches a demoted node gets READONLY, which reconnects.
 *
 * `socketTimeout` covers a primary that vanishes without closing its sockets (host or network
 * gone): a connection that waits longer than that for any reply is dropped and re-resolved. The
 * producer waits 5 s (its commands are short); a worker 30 s (its blocking pops last up to 10 s).
 *
 * ioredis's own `failoverDetector` (the same announcement) stays off: when its message arrives
 * while the connection is already reconnecting (the usual case after a crash), it aborts that
 * attempt and ioredis ends the connection for good; the API then answered 503 until restarted
 * (test/queue/redis-sentinel-failover.test.ts caught it in 3 runs of 7, ioredis 5.9.2).
 */
function sentinelOptions(target: SentinelTarget, role: RedisRole, overrides: ConnectionOverrides): RedisOptions {
  return {
    ...dataNodeOptions(target.url),
    ...roleOptions(role),
    sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: target.name,
    role: 'master',
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    // A dead sentinel host must not hold a reconnection longer than the producer's own budget.
    sentinelCommandTimeout: 1000,
    failoverDetector: false,
    socketTimeout: SOCKET_TIMEOUT_MS[role],
    // While every sentinel is unreachable: retry them 200 ms, 400 ms, ... up to 1 s apart (a
    // caller that gives up instead of reconnecting gives up on the sentinels too).
    sentinelRetryStrategy: overrides.retryStrategy ?? ((attempt: number) => Math.min(attempt * 200, 1000)),
    ...overrides,
  };
}

/**
 * Cluster: BullMQ's Lua scripts touch several keys of a queue at once, so the queue prefix
 * must be hash-tagged (parseEnv refuses one that is not). The offline queue follows the role
 * (a producer fails fast while the cluster is not ready); a slot whose primary failed is
 * retried every 200 ms while the cluster promotes its replica. No `socketTimeout` here: the
 * node connections are made inside ioredis's Cluster, where its stale timer (see SentinelRedis)
 * cannot be cleared, so a node that vanishes without closing its sockets is noticed by TCP only.
 */
function clusterOptions(target: ClusterTarget, role: RedisRole, overrides: ConnectionOverrides): ClusterOptions {
  const { retryStrategy, enableOfflineQueue, ...nodeOptions } = roleOptions(role);
  void retryStrategy;
  return {
    redisOptions: { ...dataNodeOptions(target.url), ...nodeOptions },
    enableOfflineQueue: enableOfflineQueue ?? true,
    clusterRetryStrategy: overrides.retryStrategy ?? reconnectDelay,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 2000,
    ...(overrides.lazyConnect !== undefined ? { lazyConnect: overrides.lazyConnect } : {}),
  };
}

/**
 * A Sentinel connection that follows the sentinels' failover announcements (sentinel-watch.ts)
 * and whose `socketTimeout` timer does not outlive its socket. ioredis arms the
 * timer when it sends a command and clears it when a reply arrives, but not when the connection
 * closes: after a failover the stale timer would destroy the next, healthy socket, and after
 * disconnect() keep the process alive until it fires. BullMQ duplicates a worker's connection
 * for its blocking pops, so duplicates are of this class too.
 */
class SentinelRedis extends Redis {
  constructor(options: RedisOptions) {
    super(options);
    followSentinelSwitches(this, { sentinels: options.sentinels ?? [], name: options.name ?? '', sentinelPassword: options.sentinelPassword });
    this.on('close', () => {
      const self = this as unknown as { socketTimeoutTimer?: ReturnType<typeof setTimeout> };
      clearTimeout(self.socketTimeoutTimer);
      self.socketTimeoutTimer = undefined;
    });
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new SentinelRedis({ ...this.options, ...override });
  }
}

/** A connection to the deployment `target` describes, with the role's failover behaviour. */
export function connectRedis(target: StandaloneTarget | SentinelTarget, role: RedisRole, overrides?: ConnectionOverrides): Redis;
export function connectRedis(target: ClusterTarget, role: RedisRole, overrides?: ConnectionOverrides): Cluster;
export function connectRedis(target: RedisTarget, role: RedisRole, overrides?: ConnectionOverrides): RedisConnection;
export function connectRedis(target: RedisTarget, role: RedisRole, overrides: ConnectionOverrides = {}): RedisConnection {
  switch (target.kind) {
    case 'standalone':
      return new Redis(target.url, { ...roleOptions(role), ...overrides });
    case 'sentinel':
      return new SentinelRedis(sentinelOptions(target, role, overrides));
    case 'cluster':
      return new Cluster(
        target.nodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOptions(target, role, overrides),
      );
  }
}

/**
 * The connection of the API, the workers and the CLI: a single node (REDIS_URL), the primary
 * Sentinel names, or a Redis Cluster (REDIS_CLUSTER_NODES, with a hash-tagged QUEUE_PREFIX so
 * every key of the prefix lives in one slot: BullMQ's scripts, the LLM gate's, the mailbox lock).
 */
export function createServiceRedis(config: RedisConfig, role: RedisRole, overrides: ConnectionOverrides = {}): RedisConnection {
  return connectRedis(redisTarget(config), role, overrides);
}

/**
 * Resolves once the connection is ready (a Cluster: its slots discovered), or rejects after
 * `ms`. A producer fails its commands until then (no offline queue), so a process waits for it
 * before its first use.
 */
export function redisReady(redis: RedisConnection, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`redis not ready within ${ms} ms`));
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** A single-node connection from a URL (tests, benchmarks and tools that are given one). */
export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  return new Redis(url, { ...roleOptions(role), ...extra });
}
