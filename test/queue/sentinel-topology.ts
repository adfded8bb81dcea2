import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { HostPort } from '@parley/queue';
import { freePort } from '../support/redis';
import { waitFor } from '../support/wait';

export interface RedisNode {
  port: number;
  process: ChildProcess;
  /** What the server printed (its log), for failure messages. */
  output: () => string;
}

export interface SentinelTopology {
  masterName: string;
  primary: RedisNode;
  replica: RedisNode;
  sentinels: RedisNode[];
  sentinelAddresses: HostPort[];
  /** The primary's port as the first sentinel that answers names it. */
  primaryPort: () => Promise<number | undefined>;
  /** One command on one node, on a connection of its own (no retries). */
  command: (port: number, name: string, ...args: (string | number)[]) => Promise<unknown>;
  stop: () => Promise<void>;
}

function startNode(port: number, args: string[], dir: string, label: string): RedisNode {
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const append = (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  child.on('error', (error) => append(Buffer.from(`${label}: ${error.message}\n`)));
  return { port, process: child, output: () => text };
}

async function command(port: number, name: string, ...args: (string | number)[]): Promise<unknown> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 2000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await redis.call(name, ...args);
  } finally {
    if (redis.status !== 'end') redis.disconnect();
  }
}

const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();

/**
 * A primary, a replica (`--replicaof`) and three sentinels (quorum 2) on free loopback ports in a
 * temp dir, ready when the replica is in sync and every sentinel knows the replica and the two
 * other sentinels (so a failover can be voted). `downAfterMs` is how long the primary must be
 * silent before a sentinel calls it down.
 */
export async function startSentinelTopology(options: { downAfterMs?: number; failoverTimeoutMs?: number } = {}): Promise<SentinelTopology> {
  const masterName = 'parley-ha';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-sentinel-'));
  const nodes: RedisNode[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(async (node) => {
        if (node.process.exitCode !== null || node.process.signalCode !== null) return;
        const exited = new Promise((resolve) => node.process.once('exit', resolve));
        // A stopped (SIGSTOP) process still dies of SIGKILL.
        node.process.kill('SIGKILL');
        await exited;
      }),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const dataArgs = (port: number, name: string) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `${name}.rdb`];
    const primaryPort = await freePort();
    const primary = startNode(primaryPort, dataArgs(primaryPort, 'primary'), dir, 'primary');
    nodes.push(primary);
    await waitFor('the primary to answer', () => command(primaryPort, 'PING').then((r) => r === 'PONG'), 10_000);

    const replicaPort = await freePort();
    const replica = startNode(replicaPort, [...dataArgs(replicaPort, 'replica'), '--replicaof', '127.0.0.1', String(primaryPort)], dir, 'replica');
    nodes.push(replica);
    await waitFor('the replica to sync', async () => field(String(await command(replicaPort, 'INFO', 'replication')), 'master_link_status') === 'up', 15_000);

    const sentinels: RedisNode[] = [];
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its file as it learns the topology, so each gets its own.
      fs.writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 5000}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const node = startNode(port, [conf, '--sentinel'], dir, `sentinel-${i}`);
      nodes.push(node);
      sentinels.push(node);
    }
    for (const sentinel of sentinels) {
      await waitFor(
        `sentinel ${sentinel.port} to know the replica and the other sentinels`,
        async () => {
          const reply = (await command(sentinel.port, 'SENTINEL', 'MASTER', masterName)) as string[];
          const info = Object.fromEntries(reply.flatMap((v, i) => (i % 2 === 0 ? [[v, reply[i + 1]]] : [])));
          return info['num-slaves'] === '1' && info['num-other-sentinels'] === '2';
        },
        20_000,
        100,
      );
    }

    const primaryPortNow = async () => {
      for (const sentinel of sentinels) {
        try {
          const reply = (await command(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string] | null;
          if (reply) return Number(reply[1]);
        } catch {
          // Try the next sentinel.
        }
      }
      return undefined;
    };
    return {
      masterName,
      primary,
      replica,
      sentinels,
      sentinelAddresses: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      primaryPort: primaryPortNow,
      command,
      stop,
    };
  } catch (error) {
    const logs = nodes.map((n) => `--- port ${n.port}\n${n.output().slice(-2000)}`).join('\n');
    await stop();
    throw new Error(`${(error as Error).message}\n${logs}`);
  }
}
