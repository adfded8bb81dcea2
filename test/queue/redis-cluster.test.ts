import { Queue, Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import { hashTagOf, parseEnv } from '@parley/config';
import { connectRedis, createServiceRedis, redisTarget, type ClusterTarget, type RedisConnection } from '@parley/queue';
import { uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';
import { startClusterTopology, type ClusterTopology } from './cluster-topology';
import { configProblems } from '../support/config';

const NODES = '10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379';

describe('Redis Cluster settings', () => {
  it('refuses a queue prefix without a hash tag, saying why', () => {
    const [problem, ...rest] = configProblems({ REDIS_CLUSTER_NODES: NODES, QUEUE_PREFIX: 'parley' });
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^QUEUE_PREFIX: must hold a hash tag on Redis Cluster, e\.g\. \{parley\}: /);
    expect(problem).toContain("BullMQ's Lua scripts read and write several keys of a queue at once");
    expect(problem).toContain('one slot');
    // The default prefix is refused too: Cluster needs the setting.
    expect(configProblems({ REDIS_CLUSTER_NODES: NODES })).toEqual([expect.stringMatching(/^QUEUE_PREFIX: must hold a hash tag/)]);
    // An empty tag hashes the whole key: refused.
    expect(configProblems({ REDIS_CLUSTER_NODES: NODES, QUEUE_PREFIX: '{}parley' })).toEqual([expect.stringMatching(/^QUEUE_PREFIX: must hold a hash tag.*e\.g\. \{parley\}/)]);
  });

  it('accepts a tagged prefix and reads the nodes', () => {
    const config = parseEnv({ REDIS_CLUSTER_NODES: ' 10.0.0.1:6379, redis-2.internal:7000,[::1]:6380 ', QUEUE_PREFIX: '{parley}' });
    expect(config.REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 6379 },
      { host: 'redis-2.internal', port: 7000 },
      { host: '::1', port: 6380 },
    ]);
    expect(parseEnv({ REDIS_CLUSTER_NODES: NODES, QUEUE_PREFIX: 'parley{eu}' }).QUEUE_PREFIX).toBe('parley{eu}');
    expect(redisTarget(config)).toEqual({ kind: 'cluster', url: 'redis://127.0.0.1:6379', nodes: config.REDIS_CLUSTER_NODES });
    // Without Cluster nothing asks for a tag.
    expect(parseEnv({ QUEUE_PREFIX: 'parley' }).QUEUE_PREFIX).toBe('parley');
  });

  it('finds the tag Redis Cluster hashes by', () => {
    expect(hashTagOf('{parley}')).toBe('parley');
    expect(hashTagOf('a{b}c{d}')).toBe('b');
    expect(hashTagOf('a{}{b}')).toBeUndefined();
    expect(hashTagOf('parley')).toBeUndefined();
    expect(hashTagOf('par{ley')).toBeUndefined();
  });

  it('refuses Sentinel and Cluster together, a database other than 0, and a node list that is not host:port', () => {
    expect(configProblems({ REDIS_CLUSTER_NODES: NODES, QUEUE_PREFIX: '{p}', REDIS_SENTINELS: '10.0.0.9:26379', REDIS_SENTINEL_NAME: 'parley' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one of them, not both/),
    ]);
    expect(configProblems({ REDIS_CLUSTER_NODES: NODES, QUEUE_PREFIX: '{p}', REDIS_URL: 'redis://:pw@x:6379/2' })).toEqual([
      'REDIS_URL: Redis Cluster has only database 0; remove the database number from the URL',
    ]);
    expect(configProblems({ REDIS_CLUSTER_NODES: NODES, QUEUE_PREFIX: '{p}', REDIS_URL: 'rediss://:pw@x:6379/0' })).toEqual([]);
    for (const [bad, why] of [
      ['10.0.0.1', '"10.0.0.1" is not host:port'],
      ['10.0.0.1:6379,', 'an entry is empty'],
      ['10.0.0.1:0', '"10.0.0.1:0" is not host:port'],
      ['10.0.0.1:6379,10.0.0.1:6379', '"10.0.0.1:6379" is listed twice'],
      ['[10.0.0.1]:6379', '"[10.0.0.1]:6379" is not an IPv6 address in brackets'],
      ['redis://10.0.0.1:6379', '"redis://10.0.0.1:6379" is not host:port'],
    ]) {
      expect(configProblems({ REDIS_CLUSTER_NODES: bad ?? '', QUEUE_PREFIX: '{p}' })).toEqual([
        `REDIS_CLUSTER_NODES: must be a comma-separated list of host:port (some nodes of the cluster), e.g. redis-1:6379,redis-2:6379,redis-3:6379: ${why} (got a value of ${(bad ?? '').length} characters)`,
      ]);
    }
  });

  it('the API, worker and CLI connection is a Cluster with the role\'s options', () => {
    const config = parseEnv({ REDIS_CLUSTER_NODES: NODES, QUEUE_PREFIX: '{parley}', REDIS_URL: 'redis://:pw@ignored:6379' });
    const producer = createServiceRedis(config, 'producer', { lazyConnect: true });
    const worker = createServiceRedis(config, 'worker', { lazyConnect: true });
    try {
      expect(producer).toBeInstanceOf(Cluster);
      expect(worker).toBeInstanceOf(Cluster);
      const options = (c: RedisConnection) => (c instanceof Cluster ? c.options : null);
      expect(options(producer)).toMatchObject({ enableOfflineQueue: false, redisOptions: { password: 'pw', maxRetriesPerRequest: 1 } });
      expect(options(worker)).toMatchObject({ enableOfflineQueue: true, redisOptions: { password: 'pw', maxRetriesPerRequest: null } });
    } finally {
      producer.disconnect();
      worker.disconnect();
    }
  });
});

describe('BullMQ on a local three-node Redis Cluster', () => {
  let cluster: ClusterTopology | undefined;
  const open: { close: () => Promise<unknown> }[] = [];
  const connections: RedisConnection[] = [];

  beforeAll(async () => {
    cluster = await startClusterTopology();
  }, 60_000);
  afterAll(async () => {
    for (const o of open.reverse()) await o.close().catch(() => undefined);
    for (const c of connections) c.disconnect();
    await cluster?.stop();
  });

  const connect = (role: 'producer' | 'worker') => {
    const target: ClusterTarget = { kind: 'cluster', url: 'redis://127.0.0.1:6379', nodes: cluster?.nodes ?? [] };
    const connection = connectRedis(target, role);
    connection.on('error', () => undefined);
    connections.push(connection);
    return connection;
  };

  it('enqueues and processes a job under a hash-tagged prefix through the factory', async () => {
    const prefix = `{${uniquePrefix('cluster')}}`;
    const producer = connect('producer');
    await waitFor('the cluster connection', () => producer.status === 'ready', 10_000);
    const queue = new Queue('campaign-tasks', { connection: producer, prefix });
    queue.on('error', () => undefined);
    open.push(queue);
    const seen: string[] = [];
    const worker = new Worker(
      'campaign-tasks',
      async (job) => {
        seen.push(String(job.data.historyItemId));
        return 'done';
      },
      { connection: connect('worker'), prefix },
    );
    worker.on('error', () => undefined);
    open.push(worker);

    const job = await queue.add('campaign-ingest', { historyItemId: 'h-1' }, { jobId: 'clickup.wh.task.h-1' });
    await waitFor('the job to complete', async () => (await queue.getJobState(job.id ?? '')) === 'completed', 15_000);
    expect(seen).toEqual(['h-1']);
    // The same id again is a no-op, as on a single node.
    await queue.add('campaign-ingest', { historyItemId: 'h-1' }, { jobId: 'clickup.wh.task.h-1' });
    expect(await queue.getJobCounts('completed', 'waiting')).toEqual({ completed: 1, waiting: 0 });
  });

  it('fails to enqueue under a prefix without a hash tag (why the configuration refuses one)', async () => {
    const producer = connect('producer');
    await waitFor('the cluster connection', () => producer.status === 'ready', 10_000);
    const queue = new Queue('campaign-tasks', { connection: producer, prefix: uniquePrefix('untagged') });
    queue.on('error', () => undefined);
    open.push(queue);
    await expect(queue.add('campaign-ingest', { historyItemId: 'h-2' }, { jobId: 'clickup.wh.task.h-2' })).rejects.toThrow(/CROSSSLOT|same slot/);
  });
});
