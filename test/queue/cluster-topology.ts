import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { HostPort } from '@parley/queue';
import { canListen } from '../support/redis';
import { waitFor } from '../support/wait';

const run = promisify(execFile);

export interface ClusterTopology {
  nodes: HostPort[];
  stop: () => Promise<void>;
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i += 1) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

async function clusterState(port: number): Promise<string | undefined> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = String(await redis.call('CLUSTER', 'INFO'));
    return /^cluster_state:(\w+)/m.exec(info)?.[1];
  } catch {
    return undefined;
  } finally {
    if (redis.status !== 'end') redis.disconnect();
  }
}

/**
 * Three cluster-enabled redis-servers (primaries only, the 16384 slots split over them) joined
 * by `redis-cli --cluster create`, in a temp dir; ready when every node says cluster_state:ok.
 */
export async function startClusterTopology(): Promise<ClusterTopology> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cluster-'));
  const processes: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      processes.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    const ports = [await clusterPort(taken), await clusterPort(taken), await clusterPort(taken)];
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--dir', dir],
        { cwd: dir, stdio: 'ignore' },
      );
      child.on('error', () => undefined);
      processes.push(child);
    }
    for (const port of ports) await waitFor(`cluster node ${port} to answer`, async () => (await clusterState(port)) !== undefined, 10_000);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { timeout: 30_000 });
    for (const port of ports) await waitFor(`cluster node ${port} to report cluster_state:ok`, async () => (await clusterState(port)) === 'ok', 20_000, 100);
    return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
