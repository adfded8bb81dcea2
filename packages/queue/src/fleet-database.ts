import type { RedisConnection } from './connection';

/**
 * Every API and worker process that shares one Redis (one QUEUE_PREFIX) must use one database.
 * Each registers its database's identity (engine + a random id the database carries, never its
 * URL) in a sorted set with the time it was last seen, and refuses to start when a live process
 * names another one. That is how SQLite with workers on several hosts is refused: each host's
 * file is another database. It also stops a stray process on a forgotten SQLite file (or a
 * staging database) from joining a PostgreSQL fleet and answering its jobs from other data.
 */
export const fleetDatabasesKey = (prefix: string) => `${prefix}:parley:databases`;

/** A member not refreshed for this long is gone (crashed); its entry no longer counts. */
export const FLEET_DATABASE_WINDOW_MS = 90_000;
const REFRESH_MS = 30_000;
const LEAVE_TIMEOUT_MS = 1_000;

export class FleetDatabaseError extends Error {
  override name = 'FleetDatabaseError';
}

export interface FleetDatabaseOptions {
  redis: RedisConnection;
  prefix: string;
  /** From databaseIdentity(): `sqlite:<id>` or `postgres:<id>`. */
  identity: string;
  /** This process (host name and pid): one member per process. */
  processId: string;
  now?: () => number;
  onRefreshError?: (error: Error) => void;
}

export interface FleetDatabaseMembership {
  /** Removes this process's entry (clean shutdown); the others' stay. */
  leave: () => Promise<void>;
}

function engineOf(identity: string): string {
  return identity.split(':')[0] ?? 'unknown';
}

/** The refusal's words: what differs, why it matters, what to do. */
export function fleetConflictMessage(identity: string, others: { identity: string; processId: string }[]): string {
  const engines = [...new Set(others.map((o) => engineOf(o.identity)))].join(' and ');
  const who = `${others.length} other Parley process${others.length === 1 ? '' : 'es'} on this Redis and QUEUE_PREFIX (${others
    .slice(0, 3)
    .map((o) => o.processId)
    .join(', ')}${others.length > 3 ? ', ...' : ''}) ${others.length === 1 ? 'uses' : 'use'} another ${engines} database`;
  if (engineOf(identity) === 'sqlite') {
    return `${who}. A SQLite file cannot be shared between hosts, so workers on several hosts need PostgreSQL: point every API and worker at one DATABASE_URL=postgresql://... (docs/scaling.md), or run them all on one host with the same file.`;
  }
  return `${who}. Every API and worker process of one deployment must use the same DATABASE_URL; stop the others or give this one its own QUEUE_PREFIX.`;
}

/**
 * Registers this process's database and refuses (FleetDatabaseError) when a live process of the
 * same prefix uses another; then keeps the entry fresh until leave().
 */
export async function joinFleetDatabase(options: FleetDatabaseOptions): Promise<FleetDatabaseMembership> {
  const now = options.now ?? Date.now;
  const key = fleetDatabasesKey(options.prefix);
  const member = `${options.identity} ${options.processId}`;
  const at = now();
  const results = await options.redis
    .multi()
    .zremrangebyscore(key, '-inf', at - FLEET_DATABASE_WINDOW_MS)
    .zadd(key, at, member)
    .zrange(key, 0, -1)
    .exec();
  const listed = results?.[2]?.[1];
  const members = Array.isArray(listed) ? listed.map(String) : [];
  const others = members
    .map((entry) => {
      const space = entry.indexOf(' ');
      return { identity: space < 0 ? entry : entry.slice(0, space), processId: space < 0 ? '' : entry.slice(space + 1) };
    })
    .filter((entry) => entry.identity !== options.identity);
  if (others.length > 0) {
    await options.redis.zrem(key, member).catch(() => undefined);
    throw new FleetDatabaseError(fleetConflictMessage(options.identity, others));
  }
  const refresh = () =>
    options.redis.zadd(key, now(), member).then(
      () => undefined,
      (error: unknown) => options.onRefreshError?.(error as Error),
    );
  const timer = setInterval(refresh, REFRESH_MS);
  timer.unref();
  return {
    // Bounded: a Redis that stopped answering must not hold a shutdown; the entry then simply
    // ages out of the window.
    leave: async () => {
      clearInterval(timer);
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        options.redis.zrem(key, member).catch(() => undefined),
        new Promise<void>((resolve) => {
          timeout = setTimeout(resolve, LEAVE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timeout);
    },
  };
}
