import fs from 'node:fs';
import os from 'node:os';
import { parseEnv, type Env } from '@parley/config';
import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import type { Queues, RedisConnection } from '@parley/queue';
import { CommandError } from './errors';
import type { Output } from './output';
import { databaseFile } from './sqlite-files';

/**
 * What a command may use, opened on first use and closed once the command ends: a command
 * reads only the settings and opens only the connections it needs (listing dead letters
 * touches SQLite alone, and needs no Google or Slack credential). The packages behind each
 * resource are loaded on first use too, so `--help` and the light commands start quickly.
 */
export class Context {
  private config?: Readonly<Env>;
  private database?: Db;
  private redisClient?: RedisConnection;
  private queueSet?: Queues;
  private metricSet?: Metrics;
  private logger?: Logger;

  constructor(
    readonly env: Readonly<Record<string, string | undefined>>,
    readonly out: Output,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** The validated environment, as every Parley process reads it (one message naming every bad variable). */
  settings(): Readonly<Env> {
    this.config ??= parseEnv(this.env, 'any');
    return this.config;
  }

  /** Who acts, in audit entries and `resolvedBy`: `cli:<operating-system user>`. */
  get actor(): string {
    let user = this.env.USER ?? this.env.LOGNAME;
    try {
      user = os.userInfo().username || user;
    } catch {
      // No passwd entry (a container running under an arbitrary uid): the environment's name, if any.
    }
    return `cli:${user ?? 'unknown'}`;
  }

  /** Library warnings go to stderr as JSON lines; the command's own output stays clean. */
  async log(): Promise<Logger> {
    if (!this.logger) {
      const { createLogger } = await import('@parley/logging');
      this.logger = createLogger({ service: 'cli', level: 'warn', stream: process.stderr });
    }
    return this.logger;
  }

  async metrics(): Promise<Metrics> {
    if (!this.metricSet) {
      const { createMetrics } = await import('@parley/metrics');
      this.metricSet = createMetrics();
    }
    return this.metricSet;
  }

  async db(): Promise<Db> {
    if (!this.database) {
      const url = this.settings().DATABASE_URL;
      // Opening would create an empty file: a mistyped DATABASE_URL must not leave one behind.
      const file = url.startsWith('file:') ? databaseFile(url) : undefined;
      if (file !== undefined && !fs.existsSync(file)) throw new CommandError(`no database at ${file} (DATABASE_URL); check the path, or run the migrations first (npm run db:migrate)`);
      const { openDatabase, prepareDatabase } = await import('@parley/db');
      const db = openDatabase(url);
      try {
        await prepareDatabase(db);
      } catch (error) {
        await db.$disconnect().catch(() => undefined);
        throw new CommandError(`cannot use the database at DATABASE_URL: ${(error as Error).message}`);
      }
      this.database = db;
    }
    return this.database;
  }

  /** A fail-fast Redis connection: an unreachable Redis is an error within a few seconds, not a hang. */
  async redis(): Promise<RedisConnection> {
    if (!this.redisClient) {
      const { createServiceRedis } = await import('@parley/queue');
      const redis = createServiceRedis(this.settings(), 'producer', { lazyConnect: true, retryStrategy: () => null });
      redis.on('error', () => undefined);
      try {
        await redis.connect();
      } catch (error) {
        redis.disconnect();
        throw new CommandError(`cannot reach Redis at REDIS_URL: ${(error as Error).message}`);
      }
      this.redisClient = redis;
    }
    return this.redisClient;
  }

  async queues(): Promise<Queues> {
    if (!this.queueSet) {
      const { createQueues } = await import('@parley/queue');
      this.queueSet = createQueues(await this.redis(), this.settings().QUEUE_PREFIX);
    }
    return this.queueSet;
  }

  async close(): Promise<void> {
    if (this.queueSet) await Promise.all(Object.values(this.queueSet).map((q) => q.close())).catch(() => undefined);
    if (this.redisClient) await this.redisClient.quit().catch(() => this.redisClient?.disconnect());
    if (this.database) await this.database.$disconnect().catch(() => undefined);
    this.logger?.close();
  }
}
