import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';

/**
 * Hosts made of Linux network namespaces: one bridge in the root namespace with the address
 * the shared services listen on, and per host a namespace joined to the bridge by a veth pair,
 * with its own address and `lo` up. Cutting a host off takes its veth down on the bridge side:
 * its packets are dropped silently, as in a network partition, and its process keeps running.
 */

const NAME_TAG = 'parley-h';

export interface NamespaceSupport {
  ok: boolean;
  /** Why namespaces cannot be used (empty when they can). */
  reason: string;
}

function ip(args: string[], options: { allowFailure?: boolean } = {}): string {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.error) {
    if (options.allowFailure) return '';
    throw new Error(`ip ${args.join(' ')}: ${result.error.message}`);
  }
  if (result.status !== 0 && !options.allowFailure) throw new Error(`ip ${args.join(' ')} exited ${result.status}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Root, an `ip` binary, and a namespace that can actually be created (a container may forbid it). */
export function probeNamespaces(): NamespaceSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, reason: 'network namespaces need root' };
  const probe = `${NAME_TAG}-probe-${process.pid.toString(36)}-${randomBytes(2).toString('hex')}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.error) return { ok: false, reason: `no usable ip command: ${added.error.message}` };
  if (added.status !== 0) return { ok: false, reason: `ip netns add failed: ${added.stderr.trim()}` };
  const veth = `pp${randomBytes(4).toString('hex')}`;
  const link = spawnSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}n`, 'netns', probe], { encoding: 'utf8' });
  ip(['link', 'del', veth], { allowFailure: true });
  ip(['netns', 'del', probe], { allowFailure: true });
  if (link.status !== 0) return { ok: false, reason: `veth pairs cannot be made: ${link.stderr.trim()}` };
  return { ok: true, reason: '' };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces and bridges left by a run whose process is gone (a test killed before its
 * teardown). Each run names its namespaces `parley-h-<pid36>-...` and aliases its bridge the
 * same way; another live run's are kept.
 */
export function sweepStaleHosts(): string[] {
  const removed: string[] = [];
  const ownerOf = (name: string): number | null => {
    const m = new RegExp(`^${NAME_TAG}-([0-9a-z]+)-`).exec(name);
    return m?.[1] ? parseInt(m[1], 36) : null;
  };
  for (const line of ip(['netns', 'list'], { allowFailure: true }).split('\n')) {
    const name = line.trim().split(/\s+/)[0] ?? '';
    const owner = ownerOf(name);
    if (owner !== null && owner !== process.pid && !pidAlive(owner)) {
      ip(['netns', 'del', name], { allowFailure: true });
      removed.push(name);
    }
  }
  // `ip -o link show type bridge`: "<n>: <name>: <...> ... \    alias <alias>"
  for (const line of ip(['-o', 'link', 'show', 'type', 'bridge'], { allowFailure: true }).split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    const alias = /\balias\s+(\S+)/.exec(line)?.[1];
    const owner = alias ? ownerOf(alias) : null;
    if (name && owner !== null && owner !== process.pid && !pidAlive(owner)) {
      ip(['link', 'del', name], { allowFailure: true });
      removed.push(name);
    }
  }
  return removed;
}

/** A free /24 in 10.231.0.0/16: none of this machine's addresses or routes fall in it. */
function freeSubnet(): number {
  const used = `${ip(['-o', 'addr'], { allowFailure: true })}\n${ip(['route'], { allowFailure: true })}`;
  const start = 1 + (randomBytes(1)[0] ?? 0) % 250;
  for (let i = 0; i < 250; i += 1) {
    const n = ((start + i - 1) % 250) + 1;
    if (!used.includes(`10.231.${n}.`)) return n;
  }
  throw new Error('no free /24 in 10.231.0.0/16 for the test hosts');
}

export interface NetHost {
  name: string;
  namespace: string;
  address: string;
  /** The veth end on the bridge (root namespace): taken down to cut the host off. */
  bridgePort: string;
}

export interface HostNetwork {
  /** The bridge's address in the root namespace: where the shared services listen. */
  serviceAddress: string;
  bridge: string;
  hosts: Record<string, NetHost>;
  /** The command prefix that runs a program on `host`. */
  execPrefix: (host: string) => string[];
  /** Drops every packet to and from the host (its process keeps running). */
  cut: (host: string) => void;
  restore: (host: string) => void;
  /** Removes every namespace, veth and the bridge (idempotent). */
  remove: () => void;
}

/**
 * Creates a bridge and one namespace per host name. On any failure part-way, what was made is
 * removed before the error is thrown.
 */
export function createHostNetwork(hostNames: readonly string[]): HostNetwork {
  const run = `${process.pid.toString(36)}-${randomBytes(2).toString('hex')}`;
  const subnet = freeSubnet();
  const tag = randomBytes(3).toString('hex');
  const bridge = `pb${tag}`;
  const serviceAddress = `10.231.${subnet}.1`;
  const hosts: Record<string, NetHost> = {};
  const made: Array<() => void> = [];
  const remove = () => {
    for (const undo of made.splice(0).reverse()) undo();
  };
  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    made.push(() => ip(['link', 'del', bridge], { allowFailure: true }));
    ip(['link', 'set', 'dev', bridge, 'alias', `${NAME_TAG}-${run}`]);
    ip(['addr', 'add', `${serviceAddress}/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    hostNames.forEach((host, i) => {
      const namespace = `${NAME_TAG}-${run}-${host}`;
      const bridgePort = `pv${tag}${i}`;
      const inner = `pn${tag}${i}`;
      const address = `10.231.${subnet}.${10 + i}`;
      ip(['netns', 'add', namespace]);
      made.push(() => ip(['netns', 'del', namespace], { allowFailure: true }));
      ip(['link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', inner, 'netns', namespace]);
      made.push(() => ip(['link', 'del', bridgePort], { allowFailure: true }));
      ip(['link', 'set', bridgePort, 'master', bridge]);
      ip(['link', 'set', bridgePort, 'up']);
      ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
      ip(['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', inner]);
      ip(['-n', namespace, 'link', 'set', inner, 'up']);
      hosts[host] = { name: host, namespace, address, bridgePort };
    });
  } catch (error) {
    remove();
    throw error;
  }
  const hostOf = (name: string): NetHost => {
    const h = hosts[name];
    if (!h) throw new Error(`no host ${name}`);
    return h;
  };
  return {
    serviceAddress,
    bridge,
    hosts,
    execPrefix: (host) => ['ip', 'netns', 'exec', hostOf(host).namespace],
    cut: (host) => {
      ip(['link', 'set', hostOf(host).bridgePort, 'down']);
    },
    restore: (host) => {
      ip(['link', 'set', hostOf(host).bridgePort, 'up']);
    },
    remove,
  };
}

/** Whether `/var/run/netns/<name>` still exists (for the clean-up check). */
export function namespaceExists(namespace: string): boolean {
  return fs.existsSync(`/var/run/netns/${namespace}`) || ip(['netns', 'list'], { allowFailure: true }).split('\n').some((l) => l.trim().split(/\s+/)[0] === namespace);
}

/** Whether an interface exists in the root namespace. */
export function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', name], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}
