import { parseEnv } from '@parley/config';
import { connectRedis, dataNodeOptions, reconnectOnReadonly, redisTarget, roleOptions } from '@parley/queue';
import { configProblems } from '../support/config';

const SENTINELS = 'sentinel-1:26379,sentinel-2:26379,[fd00::3]:26379';

describe('Redis Sentinel settings', () => {
  it('reads the sentinels, the master name and the sentinel password', () => {
    const config = parseEnv({ REDIS_SENTINELS: SENTINELS, REDIS_SENTINEL_NAME: 'parley', REDIS_SENTINEL_PASSWORD: 'sentinel-pw', REDIS_URL: 'redis://app:data-pw@ignored:6379/3' });
    expect(config.REDIS_SENTINELS).toEqual([
      { host: 'sentinel-1', port: 26379 },
      { host: 'sentinel-2', port: 26379 },
      { host: 'fd00::3', port: 26379 },
    ]);
    expect(redisTarget(config)).toEqual({ kind: 'sentinel', url: 'redis://app:data-pw@ignored:6379/3', sentinels: config.REDIS_SENTINELS, name: 'parley', sentinelPassword: 'sentinel-pw' });
    expect(redisTarget(parseEnv({}))).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
  });

  it('requires the master name with the sentinels and the sentinels with the name', () => {
    expect(configProblems({ REDIS_SENTINELS: SENTINELS })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: required with REDIS_SENTINELS \(the name in the sentinels' "sentinel monitor <name> \.\.\." line\)$/)]);
    expect(configProblems({ REDIS_SENTINEL_NAME: 'parley' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS: required with REDIS_SENTINEL_NAME/)]);
    expect(configProblems({ REDIS_SENTINELS: SENTINELS, REDIS_SENTINEL_NAME: 'my master' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: must be the master name the sentinels monitor/)]);
    expect(configProblems({ REDIS_SENTINELS: 'sentinel-1:26379;sentinel-2:26379', REDIS_SENTINEL_NAME: 'parley' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS: must be a comma-separated list of host:port \(the sentinels\), e\.g\. .*: "sentinel-1:26379;sentinel-2:26379" is not host:port/),
    ]);
  });

  it('never echoes the sentinel password in an error', () => {
    const message = configProblems({ REDIS_SENTINEL_PASSWORD: 'do-not-print-me', REDIS_SENTINEL_NAME: 'parley' }).join('\n');
    expect(message).toContain('REDIS_SENTINELS');
    expect(message).not.toContain('do-not-print-me');
  });

  it('gives the data nodes the credentials, database and TLS of REDIS_URL', () => {
    expect(dataNodeOptions('rediss://app:p%40ss@ignored:6380/2')).toEqual({ username: 'app', password: 'p@ss', db: 2, tls: {} });
    expect(dataNodeOptions('redis://127.0.0.1:6379')).toEqual({});
    expect(dataNodeOptions('redis://:only-password@h:1')).toEqual({ password: 'only-password' });
  });

  it('builds each role for failover: the producer fails fast, the worker waits, both re-resolve a stale or silent primary', () => {
    const config = parseEnv({ REDIS_SENTINELS: SENTINELS, REDIS_SENTINEL_NAME: 'parley', REDIS_URL: 'redis://:data-pw@ignored:6379/1' });
    const target = redisTarget(config);
    if (target.kind !== 'sentinel') throw new Error(`expected a Sentinel target, got ${target.kind}`);
    const producer = connectRedis(target, 'producer', { lazyConnect: true });
    const worker = connectRedis(target, 'worker', { lazyConnect: true });
    try {
      expect(producer.options).toMatchObject({
        name: 'parley',
        role: 'master',
        password: 'data-pw',
        db: 1,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        socketTimeout: 5000,
        failoverDetector: false,
      });
      expect(producer.options.sentinels).toEqual(config.REDIS_SENTINELS);
      expect(worker.options).toMatchObject({ maxRetriesPerRequest: null, socketTimeout: 30_000, failoverDetector: false });
      // BullMQ's blocking connections are duplicates: they keep the same behaviour.
      const duplicate = worker.duplicate({ lazyConnect: true });
      expect(duplicate.options).toMatchObject({ name: 'parley', maxRetriesPerRequest: null, socketTimeout: 30_000 });
      expect(duplicate.constructor).toBe(worker.constructor);
      duplicate.disconnect();
    } finally {
      producer.disconnect();
      worker.disconnect();
    }
  });

  it('reconnects and resends after READONLY only', () => {
    expect(reconnectOnReadonly(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnReadonly(new Error('NOREPLICAS Not enough good replicas to write.'))).toBe(false);
    expect(reconnectOnReadonly(new Error('ERR wrong number of arguments'))).toBe(false);
    expect(roleOptions('producer').reconnectOnError).toBe(reconnectOnReadonly);
    expect(roleOptions('worker').reconnectOnError).toBe(reconnectOnReadonly);
  });
});
