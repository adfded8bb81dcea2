import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { closeQueues, createQueues, createRedis, type Queues } from '@parley/queue';
import type { Redis } from 'ioredis';
import { createTestDatabase } from '../support/db';
import { nodeArgs, ROOT } from '../support/processes';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import type { Db } from '@parley/db';

export const CLI_ENTRY = 'apps/cli/src/main.ts';

/** What `parley` wrote and how it ended. */
export interface CliResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** A running `parley` process, its stdout and stderr kept apart. */
export interface CliProcess {
  child: ChildProcess;
  exited: Promise<number | string>;
  /** Resolves with the first line (stdout or stderr) matching `pattern`. */
  waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  /** Resolves once `count` lines (stdout and stderr) match `pattern`. */
  waitForLines: (pattern: RegExp, count: number, timeoutMs?: number) => Promise<void>;
  stdout: () => string;
  stderr: () => string;
  result: Promise<CliResult>;
}

/**
 * Starts `parley <args>` as its own process from the sources (tsx), with only `env` as its
 * environment (plus PATH, HOME and NODE_ENV=test). The script follows `--`, as the launcher does:
 * Node 20 would otherwise take a `--env-file` among the arguments for its own option.
 */
export function startParley(args: string[], env: Record<string, string | undefined>): CliProcess {
  const [entry, ...flags] = nodeArgs(CLI_ENTRY).reverse();
  const child = spawn(process.execPath, [...flags.reverse(), '--', entry ?? CLI_ENTRY, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const waitFor = (what: string, done: () => string | undefined, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = done();
        if (found === undefined) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}; stdout:\n${out}\nstderr:\n${err}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() => {
        if (!listeners.delete(check)) return;
        clearTimeout(timer);
        reject(new Error(`parley exited before ${what}; stdout:\n${out}\nstderr:\n${err}`));
      });
      check();
    });
  const lines = () => `${out}\n${err}`.split('\n');
  const waitForLine = (pattern: RegExp, timeoutMs?: number) => waitFor(String(pattern), () => lines().find((l) => pattern.test(l)), timeoutMs);
  const waitForLines = (pattern: RegExp, count: number, timeoutMs?: number) =>
    waitFor(`${count} lines like ${String(pattern)}`, () => (lines().filter((l) => pattern.test(l)).length >= count ? 'ok' : undefined), timeoutMs).then(() => undefined);
  return {
    child,
    exited,
    waitForLine,
    waitForLines,
    stdout: () => out,
    stderr: () => err,
    result: exited.then((code) => ({ code, stdout: out, stderr: err })),
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
