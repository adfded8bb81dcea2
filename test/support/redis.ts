import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

/** The shared Redis for tests (CI exports REDIS_URL; several runs may share it). */
export function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** A key prefix no other test or run uses; delete it with `dropPrefix`. */
export function uniquePrefix(label = 't'): string {
  return `ptest-${label}-${randomBytes(4).toString('hex')}`;
}

export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // A Redis that is already gone has nothing left to clean.
  } finally {
    redis.disconnect();
  }
}

/**
 * A port for a server a test starts in another process. Drawn below the kernel's ephemeral
 * range (ip_local_port_range, 32768-60999 by default) and checked free: a port the kernel hands
 * out for listen(0) is also one it may hand any outgoing connection as its local port between
 * this check and the server's own listen, and on a loaded run with hundreds of Redis and
 * database connections that happened (EADDRINUSE at an API's start).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20_000 + randomInt(12_000);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port in 20000-31999 after 50 tries');
}

/** Whether a server can listen on 127.0.0.1:`port` right now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  /** SIGKILL, like a crash. */
  kill: () => Promise<void>;
  /** Starts again on the same port and data dir (AOF replayed). */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
}

/** A private redis-server with AOF on a free port, for tests that kill or restart Redis. */
export async function startPrivateRedis(options: { appendfsync?: 'always' | 'everysec' } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'everysec', '--dir', dir, '--save', ''];
  const url = `redis://127.0.0.1:${port}`;
  const handle: PrivateRedis = {
    url,
    port,
    dir,
    process: spawnRedis(args),
    kill: async () => {
      const exited = new Promise((resolve) => handle.process.once('exit', resolve));
      handle.process.kill('SIGKILL');
      await exited;
    },
    restart: async () => {
      handle.process = spawnRedis(args);
      await waitForRedis(url);
    },
    stop: async () => {
      if (handle.process.exitCode === null && handle.process.signalCode === null) await handle.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitForRedis(url);
  return handle;
}

function spawnRedis(args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  child.on('error', () => undefined);
  return child;
}

async function waitForRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const redis = new Redis(url, { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`redis at ${url} did not answer: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      // A connection that already ended must not be disconnected again: ioredis would start a
      // reconnect timer that outlives the test and keeps jest from exiting.
      if (redis.status !== 'end') redis.disconnect();
    }
  }
}
