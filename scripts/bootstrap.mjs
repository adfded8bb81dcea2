// Shared bootstrap for `npm test`, `npm run demo` and `npm start` on a fresh clone:
// installs dependencies when missing, finds or starts a Redis, and migrates SQLite.
// Plain Node (no dependencies) because it runs before `npm ci`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function log(message) {
  process.stderr.write(`[parley] ${message}\n`);
}

export function ensureDependencies() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const lock = path.join(ROOT, 'package-lock.json');
  const stale = !fs.existsSync(marker) || fs.statSync(marker).mtimeMs < fs.statSync(lock).mtimeMs;
  const generated = ['prisma', 'prisma-pg'].map((dir) => path.join(ROOT, 'packages/db/src/generated', dir, 'client.ts'));
  if (stale) {
    log('installing dependencies (npm ci)…');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  } else if (!generated.every((file) => fs.existsSync(file))) {
    execFileSync('npm', ['run', 'db:generate'], { cwd: ROOT, stdio: 'inherit' });
  }
}

/** Resolves true when a Redis answers PING at host:port within the timeout. */
export function pingRedis(url, timeoutMs = 1000) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => done(chunk.toString().startsWith('+PONG') || chunk.toString().includes('NOAUTH')));
  });
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * REDIS_URL if it answers; else the default local port; else a private redis-server
 * (installed through apt-get when possible). Returns { url, stop }.
 */
export async function ensureRedis() {
  const candidates = [process.env.REDIS_URL, 'redis://127.0.0.1:6379'].filter(Boolean);
  for (const url of candidates) {
    if (await pingRedis(url)) {
      log(`using Redis at ${new URL(url).host}`);
      return { url, stop: () => undefined };
    }
  }
  if (!which('redis-server')) {
    if (which('apt-get') && process.getuid?.() === 0) {
      log('no Redis found: installing redis-server with apt-get…');
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      const r = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      if (r.status !== 0) throw new Error('apt-get could not install redis-server');
    } else {
      throw new Error(
        'No Redis answers and redis-server is not installed. Start one (e.g. `docker run -p 6379:6379 redis:7`, ' +
          '`brew install redis && redis-server`, or `sudo apt-get install redis-server`) and set REDIS_URL.',
      );
    }
  }
  const port = await freePort();
  const dir = path.join(ROOT, 'tmp', `redis-${port}`);
  fs.mkdirSync(dir, { recursive: true });
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await pingRedis(url)); i += 1) await new Promise((r) => setTimeout(r, 100));
  if (!(await pingRedis(url))) throw new Error('redis-server did not start');
  log(`started a private redis-server on port ${port}`);
  const stop = () => {
    child.kill('SIGTERM');
  };
  process.on('exit', stop);
  return { url, stop };
}

export function migrate(databaseUrl) {
  const file = databaseUrl.replace(/^file:/, '');
  fs.mkdirSync(path.dirname(path.resolve(ROOT, file)), { recursive: true });
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'pipe',
  });
}
