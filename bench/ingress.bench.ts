/**
 * The ingress under load: signed ClickUp webhooks from 50 keep-alive connections, against
 *   - the API as it is deployed (the compiled `apps/api/dist`, NODE_ENV=production, info logs,
 *     HMAC over the raw body, zod, the durable WebhookDelivery row, the BullMQ add), and
 *   - bare Express + `express.json()` + `queue.add` (bench/bare-ingress.ts), the same Redis.
 * Each server and the load generator (bench/http-load.ts) are processes of their own; the two
 * servers take turns (bare, API, bare, API) so drift on a shared machine hits both alike. It
 * then checks that every webhook answered 200 has its row and its job (nothing accepted lost),
 * and reports the peak RSS of each server under load.
 * Run: npm run bench (it builds first), or `npx tsx bench/ingress.bench.ts` after `npm run build`.
 * BENCH_INGRESS_MS sets each round's length (default 8000), BENCH_CONNECTIONS the sockets (50);
 * BENCH_API_NODE_ARGS adds Node options to the API's (for example `--cpu-prof --cpu-prof-dir=DIR`).
 */
import { randomBytes } from 'node:crypto';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '@parley/db';
import { closeQueues, createQueues, createRedis } from '@parley/queue';
import { imageNodeArgs } from '../test/deploy/images.dockerfile';
import { dropPrefix } from '../test/support/redis';
import { rssMiB } from './bench-support';

const ROUND_MS = Number(process.env.BENCH_INGRESS_MS ?? 8000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const root = path.resolve(__dirname, '..');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'bench-clickup-secret-0123456789abcdef';

interface LoadResult {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  perSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface Server {
  name: string;
  proc: ChildProcess;
  url: string;
  output: string[];
}

function start(name: string, args: string[], env: Record<string, string>, ready: RegExp, port: number): Promise<Server> {
  const proc = spawn(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output.join('').slice(-2000)}`)), 60_000);
    const onData = (chunk: Buffer) => {
      // Keep only the tail: the API logs a line per request.
      output.push(chunk.toString());
      if (output.length > 200) output.splice(0, output.length - 200);
      if (ready.test(chunk.toString())) {
        clearTimeout(timer);
        resolve({ name, proc, url: `http://127.0.0.1:${port}/webhooks/clickup`, output });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${output.join('').slice(-2000)}`)));
  });
}

/** Runs the load generator against `server` for `ms`, sampling the server's RSS meanwhile. */
async function load(server: Server, ms: number, tag: string): Promise<LoadResult & { peakRssMiB: number }> {
  let peak = rssMiB(server.proc.pid!);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.proc.pid!))), 100);
  // Not execFileSync: this process must keep reading the servers' output (the API logs a line
  // per request; a pipe nobody reads makes its writes queue up in the API's memory) and keep
  // sampling their RSS while the load runs.
  const { stdout: out } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'bench/http-load.ts'), server.url, String(CONNECTIONS), String(ms), SECRET, tag], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20 });
  clearInterval(sampler);
  peak = Math.max(peak, rssMiB(server.proc.pid!));
  return { ...(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult), peakRssMiB: peak };
}

const freePort = () => 20_000 + Math.floor(Math.random() * 20_000);

async function main(): Promise<void> {
  const prefix = `pbench-${randomBytes(4).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  const dbUrl = `file:${path.join(dir, 'bench.db')}`;
  execFileSync(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], { cwd: root, env: { ...process.env, DATABASE_URL: dbUrl }, stdio: 'pipe' });
  if (!fs.existsSync(path.join(root, 'apps/api/dist/main.js'))) throw new Error('apps/api/dist is missing: run `npm run build` first (npm run bench does)');

  const apiPort = freePort();
  const barePort = apiPort + 1;
  const api = await start(
    'api',
    [...(process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...imageNodeArgs('api')],
    {
      NODE_ENV: 'production',
      PORT: String(apiPort),
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: `${prefix}-api`,
      CLICKUP_WEBHOOK_SECRET: SECRET,
      PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@bench.iam.gserviceaccount.com',
      METRICS_TOKEN: randomBytes(24).toString('hex'),
      ADMIN_TOKEN: randomBytes(24).toString('hex'),
    },
    /api listening/,
    apiPort,
  );
  const bare = await start('bare', ['--conditions=@parley/source', '--import', 'tsx', 'bench/bare-ingress.ts'], { PORT: String(barePort), REDIS_URL: redisUrl, QUEUE_PREFIX: `${prefix}-bare` }, /bare listening/, barePort);
  const idle = { api: rssMiB(api.proc.pid!), bare: rssMiB(bare.proc.pid!) };

  try {
    await load(bare, 2000, 'warm');
    const warm = await load(api, 2000, 'warm');
    const rows: { label: string; r: LoadResult & { peakRssMiB: number } }[] = [];
    for (const round of [1, 2]) {
      rows.push({ label: `bare Express + queue.add (round ${round})`, r: await load(bare, ROUND_MS, `b${round}`) });
      rows.push({ label: `API, signed webhook (round ${round})`, r: await load(api, ROUND_MS, `a${round}`) });
    }

    // Nothing accepted is lost: every 200 (warm-up included) has its delivery row and its job.
    const accepted = [warm, ...rows.filter((x) => x.label.startsWith('API')).map((x) => x.r)].reduce((n, r) => n + (r.statuses['200'] ?? 0), 0);
    const db = openDatabase(dbUrl);
    const deliveryRows = await db.webhookDelivery.count();
    await db.$disconnect();
    const redis = createRedis(redisUrl, 'worker');
    const queues = createQueues(redis, `${prefix}-api`);
    const counts = await queues['campaign-tasks'].getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    const jobs = Object.values(counts).reduce((a, b) => a + b, 0);
    await closeQueues(queues);
    redis.disconnect();

    const lines = [
      '| case | requests | req/s | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | non-200 / errors | peak RSS (MiB) |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map(({ label, r }) => `| ${label} | ${r.requests} | ${r.perSec.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.requests - (r.statuses['200'] ?? 0)} / ${r.errors} | ${r.peakRssMiB.toFixed(0)} |`),
    ];
    const ratio = (round: number) => rows[round * 2 - 1]!.r.perSec / rows[round * 2 - 2]!.r.perSec;
    process.stdout.write(
      `## Ingress under load: the API against bare Express + queue.add (${CONNECTIONS} connections)\n\n` +
        `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${ROUND_MS / 1000} s per round, servers and load generator in separate processes.\n\n` +
        `${lines.join('\n')}\n\n` +
        `API / bare req/s: round 1 ${ratio(1).toFixed(2)}x, round 2 ${ratio(2).toFixed(2)}x. ` +
        `Idle RSS: API ${idle.api.toFixed(0)} MiB, bare ${idle.bare.toFixed(0)} MiB.\n` +
        `Webhooks the API accepted (200, warm-up included): ${accepted}; delivery rows: ${deliveryRows}; jobs in Redis: ${jobs}.\n`,
    );
    if (deliveryRows !== accepted || jobs !== accepted) {
      process.stderr.write('LOST: an accepted webhook has no delivery row or no job\n');
      process.exitCode = 1;
    }
  } finally {
    api.proc.kill('SIGTERM');
    bare.proc.kill('SIGTERM');
    await Promise.all([api, bare].map((s) => new Promise((r) => (s.proc.exitCode !== null ? r(null) : s.proc.once('exit', r)))));
    await dropPrefix(redisUrl, `${prefix}-api`);
    await dropPrefix(redisUrl, `${prefix}-bare`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
