import type { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

/** What the watch needs of a connection: its status, a way to drop it (and reconnect), its events. */
export interface WatchedConnection extends EventEmitter {
  readonly status: string;
  disconnect(reconnect?: boolean): void;
}

export interface SentinelSet {
  sentinels: readonly { host?: string; port?: number }[];
  name: string;
  sentinelPassword?: string;
}

/**
 * One subscription per process and master to the sentinels' `+switch-master` channel, shared by
 * every Sentinel connection to that master. When the sentinels announce a new primary, each
 * connection that is up (so still talking to the old primary) is dropped and reconnects, asking
 * the sentinels again; one that is already reconnecting is left alone, it will ask anyway.
 *
 * Without it a connection stays on the old primary until the sentinels demote it, and whatever
 * the old primary acknowledges meanwhile is lost when it resyncs from the new one: about 10 s
 * of writes in test/queue/redis-sentinel-failover.test.ts (SENTINEL FAILOVER). ioredis's own
 * `failoverDetector` does this too, but it also aborts a reconnection already under way, which
 * ends the connection for good (see connection.ts).
 */
class SwitchWatch {
  private readonly subscribers: Redis[];
  private readonly members = new Set<WatchedConnection>();
  private lastAnnouncement = '';

  constructor(
    private readonly set: SentinelSet,
    private readonly onEmpty: () => void,
  ) {
    this.subscribers = set.sentinels.map((sentinel) => {
      const subscriber = new Redis({
        host: sentinel.host ?? '127.0.0.1',
        port: sentinel.port ?? 26379,
        ...(set.sentinelPassword ? { password: set.sentinelPassword } : {}),
        // A sentinel that restarts is subscribed to again (ioredis resubscribes on reconnect).
        retryStrategy: (attempt: number) => Math.min(attempt * 500, 5000),
        maxRetriesPerRequest: null,
        connectionName: 'parley-switch-watch',
      });
      subscriber.on('error', () => undefined);
      subscriber.on('message', (_channel: string, message: string) => this.announced(message));
      subscriber.subscribe('+switch-master').catch(() => undefined);
      return subscriber;
    });
  }

  /** `<master name> <old ip> <old port> <new ip> <new port>`, once from each sentinel. */
  private announced(message: string): void {
    if (message.split(' ')[0] !== this.set.name || message === this.lastAnnouncement) return;
    this.lastAnnouncement = message;
    for (const member of this.members) if (member.status === 'ready' || member.status === 'connect') member.disconnect(true);
  }

  get size(): number {
    return this.members.size;
  }

  add(connection: WatchedConnection): void {
    this.members.add(connection);
  }

  remove(connection: WatchedConnection): void {
    this.members.delete(connection);
    if (this.members.size > 0) return;
    for (const subscriber of this.subscribers) subscriber.disconnect();
    this.onEmpty();
  }
}

const watches = new Map<string, SwitchWatch>();

/**
 * Makes `connection` follow the sentinels' failover announcements from its first `ready` to its
 * `end`; the subscription exists while at least one such connection does.
 */
export function followSentinelSwitches(connection: WatchedConnection, set: SentinelSet): void {
  const key = JSON.stringify([set.name, set.sentinels.map((s) => `${s.host ?? ''}:${s.port ?? ''}`).sort(), set.sentinelPassword ?? '']);
  let watch: SwitchWatch | undefined;
  // 'ready' comes again after every reconnection: membership is a set.
  connection.on('ready', () => {
    watch = watches.get(key);
    if (!watch) {
      watch = new SwitchWatch(set, () => watches.delete(key));
      watches.set(key, watch);
    }
    watch.add(connection);
  });
  connection.on('end', () => {
    watch?.remove(connection);
    watch = undefined;
  });
}

/** Connections following announcements, per master name (tests: nothing is left open). */
export function sentinelWatchMembers(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [key, watch] of watches) {
    const name = String((JSON.parse(key) as unknown[])[0]);
    counts[name] = (counts[name] ?? 0) + watch.size;
  }
  return counts;
}
