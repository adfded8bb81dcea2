/**
 * Negotiation throughput against a rate-limited LLM: N negotiations each receive a reply at
 * once (a reply step = read the reply, draft the answer: two LLM calls), the LLM (the sandbox,
 * over HTTP with the real SDK) takes 2 s per answer and enforces 600 requests per minute with
 * 429s, and two worker runtimes (two "processes", each with its own Redis connections) run the
 * steps. Compared in one run:
 *   - before: WORKER_CONCURRENCY 5 per process, no gate (the old shape);
 *   - high concurrency without the gate: 50 per process, calls meet the account's limit as 429s;
 *   - after: 50 per process and the fleet-wide LLM gate with ANTHROPIC_RPM=600.
 *   - steady: the gate, replies arriving at 4 per second (80% of the limit) instead of at once.
 * Run: npm run bench:llm; BENCH_LLM_N (default 100); BENCH_LLM_CASES=4 runs only some cases (1-based).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { openDatabase, prepareDatabase, withTx, type Db } from '@parley/db';
import { createNegotiationStepHandler, type EngineDeps } from '@parley/engine';
import { createLlmClient, createLlmGate } from '@parley/llm';
import { createLogger } from '@parley/logging';
import { createMetrics } from '@parley/metrics';
import { closeQueues, createQueues, createRedis, DEFAULT_RETRY_POLICY, enqueue, jobIds, PermanentError, QUEUE_NAMES, startWorkers, type HandlerMap, type Queues, type WorkerRuntime } from '@parley/queue';
import { SANDBOX_API_KEY, startAnthropicSandbox, type AnthropicSandbox } from '../packages/sandbox/src/anthropic';
import { dropPrefix } from '../test/support/redis';
import { percentile } from './bench-support';

for (const name of ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS', 'ANTHROPIC_PROFILE']) delete process.env[name];

const N = Number(process.env.BENCH_LLM_N ?? 100);
const LATENCY_MS = 2_000;
const RPM = 600;
const PROCESSES = 2;
/** The steady case's arrival rate: 4 replies/s is 8 LLM calls/s, 80% of the limit. */
const STEADY_RATE = 4;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = createLogger({ service: 'bench', level: 'error' });

interface Scenario {
  label: string;
  concurrency: number;
  gate: boolean;
  /** Replies arrive at this steady rate instead of all at once. */
  arrivalsPerSec?: number;
}

interface Result {
  label: string;
  seconds: number;
  callsPerSec: number;
  limited: number;
  p50: number;
  p99: number;
  answered: number;
}


async function seed(db: Db, tag: string, i: number) {
  return withTx(db, async (tx) => {
    const campaign = await tx.campaign.create({ data: { clickupTaskId: `bench-${tag}-${i}`, name: 'Bench Launch', currency: 'USD', cpmFloorMinor: 2_000, cpmCeilingMinor: 4_000, maxRounds: 3, rosterSheetId: 'sheet-1' } });
    return tx.negotiation.create({
      data: { campaignId: campaign.id, influencerName: `Creator ${i}`, influencerEmail: `c${i}-${tag}@creator.test`, platform: 'YouTube', averageViews: 100_000, deliverables: '1 video', gmailThreadId: `thread-${tag}-${i}`, state: 'new' },
    });
  });
}

async function run(db: Db, sandbox: AnthropicSandbox, scenario: Scenario): Promise<Result> {
  const prefix = `pbench-llm-${randomBytes(4).toString('hex')}`;
  const connections: Redis[] = [];
  const redis = (role: 'producer' | 'worker') => {
    const c = createRedis(redisUrl, role);
    connections.push(c);
    return c;
  };
  const policy = DEFAULT_RETRY_POLICY;
  const queues: Queues = createQueues(redis('producer'), prefix, policy);
  const runtimes: WorkerRuntime[] = [];
  for (let p = 0; p < PROCESSES; p += 1) {
    const metrics = createMetrics();
    const gate = scenario.gate ? createLlmGate({ redis: redis('producer'), prefix, limits: { requestsPerMinute: RPM }, maxInFlight: 50, leaseMs: 65_000, metrics, log }) : undefined;
    const llm = createLlmClient({ apiKey: SANDBOX_API_KEY, baseURL: sandbox.url, model: 'claude-sandbox', timeoutMs: 60_000, metrics, log, gate });
    const deps: EngineDeps = { db, queues, llm, metrics, log, now: () => new Date(), mailbox: 'deals@brand.test', llmOutageEscalateAfterMs: 3_600_000, maxFollowUps: 2 };
    const refuse = async () => {
      throw new PermanentError('not in this bench');
    };
    const handlers = { ...Object.fromEntries(QUEUE_NAMES.map((q) => [q, refuse])), 'negotiation-steps': createNegotiationStepHandler(deps) } as HandlerMap;
    const runtime = startWorkers({ connection: redis('worker'), prefix, handlers, policy, concurrency: scenario.concurrency, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 2, only: ['negotiation-steps'], db, queues, metrics, log });
    await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
    runtimes.push(runtime);
  }
  const events = new QueueEvents('negotiation-steps', { connection: redis('worker'), prefix });
  await events.waitUntilReady();
  // Jobs that fail for good (a 429 storm past RETRY_RATE_LIMIT_MAX) count as unanswered.
  const finish = async (ids: string[]) => {
    for (const id of ids) {
      const job = await queues['negotiation-steps'].getJob(id);
      if (!job) throw new Error(`no job ${id}`);
      await job.waitUntilFinished(events, 600_000).catch(() => undefined);
    }
  };

  // Openings, fast and unlimited: not measured.
  sandbox.traffic({});
  const negotiations = [];
  for (let i = 0; i < N; i += 1) negotiations.push(await seed(db, prefix, i));
  const opens = await Promise.all(negotiations.map(async (n) => {
    const id = jobIds.negotiationStep(n.id, undefined);
    await enqueue(queues, 'negotiation-steps', { negotiationId: n.id, kind: 'open' }, { jobId: id });
    return id;
  }));
  await finish(opens);

  // Every influencer answers at once; each reply is two LLM calls of 2 s under 600 RPM.
  sandbox.traffic({ latencyMs: LATENCY_MS, requestsPerMinute: RPM });
  sandbox.reset();
  const replies: string[] = [];
  for (const n of negotiations) {
    const gmailMessageId = `m-${n.id}`;
    await withTx(db, (tx) => tx.inboundMessage.create({ data: { gmailMessageId, negotiationId: n.id, gmailThreadId: n.gmailThreadId ?? '', messageIdHdr: `<${gmailMessageId}@creator.test>`, fromDomain: 'creator.test', subject: 'Re: Collaboration', text: 'Sounds good, I accept your offer.', receivedAt: new Date() } }));
    replies.push(gmailMessageId);
  }
  const started = Date.now();
  const rate = scenario.arrivalsPerSec;
  const ids = await Promise.all(negotiations.map(async (n, i) => {
    // A steady arrival rate: reply i reaches the queue i / rate seconds after the first.
    if (rate) await new Promise((resolve) => setTimeout(resolve, started + (i * 1000) / rate - Date.now()));
    const id = jobIds.negotiationStep(n.id, replies[i]);
    await enqueue(queues, 'negotiation-steps', { negotiationId: n.id, kind: 'reply', gmailMessageId: replies[i] }, { jobId: id });
    return id;
  }));
  await finish(ids);
  const seconds = (Date.now() - started) / 1000;
  const waits: number[] = [];
  for (const id of ids) {
    const job = await queues['negotiation-steps'].getJob(id);
    if (job?.finishedOn && (await job.isCompleted())) waits.push(job.finishedOn - job.timestamp);
  }
  waits.sort((a, b) => a - b);
  const calls = sandbox.calls();
  const ok = calls.filter((c) => c.status === 200);
  const span = ok.length > 1 ? (Date.parse(ok[ok.length - 1]!.at) - Date.parse(ok[0]!.at)) / 1000 : seconds;

  await Promise.all(runtimes.map((r) => r.close(5_000)));
  await events.close();
  await closeQueues(queues);
  await dropPrefix(redisUrl, prefix);
  await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  return { label: scenario.label, seconds, callsPerSec: ok.length / span, limited: calls.filter((c) => c.status === 429).length, p50: percentile(waits, 50) / 1000, p99: percentile(waits, 99) / 1000, answered: waits.length };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-llm-'));
  const dbUrl = `file:${path.join(dir, 'bench.db')}`;
  execFileSync(process.execPath, [path.resolve(__dirname, '../node_modules/prisma/build/index.js'), 'migrate', 'deploy'], { env: { ...process.env, DATABASE_URL: dbUrl }, stdio: 'pipe' });
  const db = openDatabase(dbUrl);
  await prepareDatabase(db);
  const sandbox = await startAnthropicSandbox({ apiKey: SANDBOX_API_KEY });
  const scenarios: Scenario[] = [
    { label: `before: concurrency 5 x ${PROCESSES} processes, no gate`, concurrency: 5, gate: false },
    { label: `concurrency 50 x ${PROCESSES}, no gate`, concurrency: 50, gate: false },
    { label: `after: concurrency 50 x ${PROCESSES}, gate at ${RPM} RPM`, concurrency: 50, gate: true },
    // Below the limit (8 calls/s of 10): a reply should wait for little more than its own two calls.
    { label: `steady: ${STEADY_RATE} replies/s arriving, 50 x ${PROCESSES}, gate at ${RPM} RPM`, concurrency: 50, gate: true, arrivalsPerSec: STEADY_RATE },
  ];
  const only = process.env.BENCH_LLM_CASES?.split(',').map(Number);
  const results: Result[] = [];
  for (const [i, s] of scenarios.entries()) if (!only || only.includes(i + 1)) results.push(await run(db, sandbox, s));
  const limitPerSec = RPM / 60;
  const byLabel = (prefix: string) => results.find((r) => r.label.startsWith(prefix));
  const before = byLabel('before');
  const after = byLabel('after');
  const steady = byLabel('steady');
  const lines = [
    `## LLM throughput: ${N} replies, a 2 s LLM limited to ${RPM} RPM`,
    '',
    `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, same process and machine for every row; two worker runtimes, each reply step two LLM calls (${(2 * LATENCY_MS) / 1000} s of LLM time per reply).`,
    '',
    '| case | replies answered | took (s) | LLM calls/s (200s) | vs the limit (10/s) | 429s | reply-to-answer p50 (s) | p99 (s) |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.label} | ${r.answered} | ${r.seconds.toFixed(1)} | ${r.callsPerSec.toFixed(2)} | ${(r.callsPerSec / limitPerSec).toFixed(2)} | ${r.limited} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`),
    '',
    ...(before && after ? [`After vs before: ${(after.callsPerSec / before.callsPerSec).toFixed(2)}x the LLM calls/s, p50 ${(before.p50 / after.p50).toFixed(2)}x and p99 ${(before.p99 / after.p99).toFixed(2)}x shorter.`] : []),
    ...(steady ? [`Steady arrivals: median reply-to-answer ${steady.p50.toFixed(1)} s against ${(2 * LATENCY_MS) / 1000} s of LLM time per reply (goal: at most 1 s more).`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await sandbox.close();
  await db.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
}

void main();
