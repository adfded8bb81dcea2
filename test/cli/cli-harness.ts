import os from 'node:os';
import { closeQueues, createQueues, createRedis, type Queues } from '@parley/queue';
import type { Redis } from 'ioredis';
import { createTestDatabase } from '../support/db';
import { spawnTs, type Spawned } from '../support/processes';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import type { Db } from '@parley/db';

export const CLI_ENTRY = 'apps/cli/src/main.ts';

/** What `parley` wrote and how it ended. */
export interface CliResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** A running `parley` process whose stdout and stderr are also kept apart. */
export interface CliProcess extends Spawned {
  stdout: () => string;
  stderr: () => string;
  result: Promise<CliResult>;
}

/** Starts `parley <args>` as its own process from the sources (tsx), with only `env` as its environment. */
export function startParley(args: string[], env: Record<string, string | undefined>): CliProcess {
  const spawned = spawnTs(CLI_ENTRY, env, args);
  let out = '';
  let err = '';
  spawned.child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  spawned.child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return {
    ...spawned,
    stdout: () => out,
    stderr: () => err,
    result: spawned.exited.then((code) => ({ code, stdout: out, stderr: err })),
  };
}

/** Runs `parley <args>` to its end. */
export function parley(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return startParley(args, env).result;
}

/** How the CLI names the operator in audit entries and resolvedBy. */
export const ACTOR = `cli:${os.userInfo().username}`;

export interface CliWorld {
  db: Db;
  dbUrl: string;
  dir: string;
  prefix: string;
  redis: Redis;
  queues: Queues;
  /** The environment a CLI process gets: this world's SQLite file and Redis prefix, nothing else. */
  env: Record<string, string>;
  close: () => Promise<void>;
}

/** A migrated SQLite copy and a private Redis prefix, with the test's own connections to both. */
export async function startWorld(label: string): Promise<CliWorld> {
  const database = await createTestDatabase();
  const prefix = uniquePrefix(label);
  const redis = createRedis(redisUrl(), 'worker');
  const queues = createQueues(redis, prefix);
  return {
    db: database.db,
    dbUrl: database.url,
    dir: database.dir,
    prefix,
    redis,
    queues,
    env: { DATABASE_URL: database.url, REDIS_URL: redisUrl(), QUEUE_PREFIX: prefix },
    close: async () => {
      await closeQueues(queues);
      await dropPrefix(redisUrl(), prefix);
      redis.disconnect();
      await database.cleanup();
    },
  };
}
