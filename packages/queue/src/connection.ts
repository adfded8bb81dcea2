import { Redis, type RedisOptions } from 'ioredis';

/**
 * Producer connections fail fast (no offline queue, one retry per command) so the API can
 * answer 503 within its deadline while Redis is down; worker connections wait forever
 * (BullMQ requires maxRetriesPerRequest: null for blocking commands).
 */
export function createRedis(url: string, role: 'producer' | 'worker', extra: RedisOptions = {}): Redis {
  const base: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: (n) => Math.min(n * 200, 2000) }
      : { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2000) };
  return new Redis(url, { ...base, ...extra });
}
