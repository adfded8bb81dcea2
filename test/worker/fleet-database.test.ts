import { databaseIdentity } from '@parley/db';
import { createRedis, FLEET_DATABASE_WINDOW_MS, FleetDatabaseError, fleetDatabasesKey, joinFleetDatabase } from '@parley/queue';
import type { Redis } from 'ioredis';
import { createTestDatabase } from '../support/db';
import { spawnTs } from '../support/processes';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import { testDatabaseEngine } from '../support/test-database';
import { waitFor } from '../support/wait';

const PLAIN = 'test/fixtures/plain-worker.ts';

describe('one database per fleet', () => {
  let redis: Redis;
  const prefixes: string[] = [];
  const prefix = () => {
    const p = uniquePrefix('fleet');
    prefixes.push(p);
    return p;
  };
  beforeAll(() => {
    redis = createRedis(redisUrl(), 'worker');
  });
  afterAll(async () => {
    await redis.quit();
    for (const p of prefixes) await dropPrefix(redisUrl(), p);
  });

  it('lets any number of processes on the same database join, and leave one by one', async () => {
    const p = prefix();
    const a = await joinFleetDatabase({ redis, prefix: p, identity: 'postgres:db-1', processId: 'host-a-1' });
    const b = await joinFleetDatabase({ redis, prefix: p, identity: 'postgres:db-1', processId: 'host-b-2' });
    expect(await redis.zrange(fleetDatabasesKey(p), 0, -1)).toEqual(['postgres:db-1 host-a-1', 'postgres:db-1 host-b-2']);
    await a.leave();
    expect(await redis.zrange(fleetDatabasesKey(p), 0, -1)).toEqual(['postgres:db-1 host-b-2']);
    await b.leave();
    expect(await redis.zcard(fleetDatabasesKey(p))).toBe(0);
  });

  it('refuses a SQLite process when a live one uses another database, saying PostgreSQL is needed, and leaves no entry', async () => {
    const p = prefix();
    const first = await joinFleetDatabase({ redis, prefix: p, identity: 'sqlite:file-on-host-a', processId: 'host-a-10' });
    const error = await joinFleetDatabase({ redis, prefix: p, identity: 'sqlite:file-on-host-b', processId: 'host-b-20' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FleetDatabaseError);
    expect((error as Error).message).toBe(
      '1 other Parley process on this Redis and QUEUE_PREFIX (host-a-10) uses another sqlite database. A SQLite file cannot be shared between hosts, so workers on several hosts need PostgreSQL: point every API and worker at one DATABASE_URL=postgresql://... (docs/scaling.md), or run them all on one host with the same file.',
    );
    expect(await redis.zrange(fleetDatabasesKey(p), 0, -1)).toEqual(['sqlite:file-on-host-a host-a-10']);
    // A PostgreSQL process is refused next to it too (mixed databases), with its own advice.
    await expect(joinFleetDatabase({ redis, prefix: p, identity: 'postgres:db-9', processId: 'host-c-30' })).rejects.toThrow(/must use the same DATABASE_URL/);
    await first.leave();
  });

  it('ignores an entry not refreshed within the window (a crashed process)', async () => {
    const p = prefix();
    const start = Date.now();
    await joinFleetDatabase({ redis, prefix: p, identity: 'sqlite:old-file', processId: 'gone-1', now: () => start - FLEET_DATABASE_WINDOW_MS - 1 });
    const now = await joinFleetDatabase({ redis, prefix: p, identity: 'postgres:new-db', processId: 'host-1', now: () => start });
    expect(await redis.zrange(fleetDatabasesKey(p), 0, -1)).toEqual(['postgres:new-db host-1']);
    await now.leave();
  });

  it('a worker process refuses to start next to a live process on another database, and joins once it is gone', async () => {
    const database = await createTestDatabase('fleet');
    const p = prefix();
    try {
      const identity = await databaseIdentity(database.db);
      expect(identity.startsWith(`${testDatabaseEngine()}:`)).toBe(true);
      await redis.zadd(fleetDatabasesKey(p), Date.now(), 'sqlite:a-file-elsewhere other-host-7');
      const env = { REDIS_URL: redisUrl(), QUEUE_PREFIX: p, DATABASE_URL: database.url, LOG_LEVEL: 'info', WORKER_METRICS_PORT: '' };
      const refused = spawnTs(PLAIN, env);
      expect(await refused.exited).toBe(1);
      expect(refused.output()).toMatch(/1 other Parley process on this Redis and QUEUE_PREFIX \(other-host-7\) uses another sqlite database/);
      expect(refused.output()).not.toContain('worker ready');

      await redis.zrem(fleetDatabasesKey(p), 'sqlite:a-file-elsewhere other-host-7');
      const worker = spawnTs(PLAIN, env);
      const ready = await worker.waitForLine(/worker ready/, 60_000);
      const workerId = String(/"workerId":"([^"]+)"/.exec(ready)?.[1]);
      expect(await redis.zrange(fleetDatabasesKey(p), 0, -1)).toEqual([`${identity} ${workerId}`]);
      // The worker itself (tsx runs the entry in a child process): its pid ends its id.
      process.kill(Number(/-(\d+)$/.exec(workerId)?.[1]), 'SIGTERM');
      const code = await worker.exited;
      expect(code).toBe(0);
      await waitFor('entry removed', async () => (await redis.zcard(fleetDatabasesKey(p))) === 0);
    } finally {
      await database.cleanup();
    }
  }, 120_000);
});
