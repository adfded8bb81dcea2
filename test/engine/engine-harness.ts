import { capturingLogger } from '../support/logs';
import { QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { withTx, type Db } from '@parley/db';
import { createNegotiationStepHandler, escalationAlertId, type EngineDeps } from '@parley/engine';
import { createLlmClient } from '@parley/llm';
import type { Logger } from '@parley/logging';
import { createMetrics, type Metrics } from '@parley/metrics';
import {
  closeQueues,
  createQueues,
  createRedis,
  enqueue,
  jobIds,
  PermanentError,
  QUEUE_NAMES,
  startWorkers,
  type Handler,
  type HandlerMap,
  type JobInput,
  type QueueName,
  type Queues,
  type RetryPolicy,
  type WorkerRuntime,
} from '@parley/queue';
import { SANDBOX_API_KEY, startAnthropicSandbox, type AnthropicSandbox } from '../../packages/sandbox/src/anthropic';
import { createTestDatabase } from '../support/db';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';

/** Short waits with production's shape (SPEC section 4), so retries happen within a test. */
export const ENGINE_POLICY: RetryPolicy = {
  transientBaseMs: 200,
  transientAttempts: 4,
  overloadedBaseMs: 500,
  overloadedCapMs: 5_000,
  overloadedAttempts: 5,
  rateLimitDefaultMs: 1_000,
  rateLimitMax: 5,
};

export const MAILBOX = 'deals@brand.test';

export interface HarnessOptions {
  policy?: RetryPolicy;
  llmOutageEscalateAfterMs?: number;
  maxFollowUps?: number;
}

export interface EngineHarness {
  db: Db;
  dbUrl: string;
  queues: Queues;
  sandbox: AnthropicSandbox;
  deps: EngineDeps;
  metrics: Metrics;
  log: Logger;
  logs: string[];
  prefix: string;
  redisUrl: string;
  policy: RetryPolicy;
  /** Starts the real worker runtime on `negotiation-steps` only. */
  start: (options?: { concurrency?: number; lockDurationMs?: number; stalledIntervalMs?: number }) => Promise<WorkerRuntime>;
  /** Enqueues a step under its deterministic id (or `jobId`) and returns the job id. */
  step: (data: JobInput<'negotiation-steps'>, jobId?: string) => Promise<string>;
  /** Resolves with the job's return value once it completes; rejects when it fails for good. */
  finished: (jobId: string, timeoutMs?: number) => Promise<unknown>;
  job: (jobId: string) => Promise<Job>;
  close: () => Promise<void>;
}

function notUnderTest<Q extends QueueName>(queue: Q): Handler<Q> {
  return async () => {
    throw new PermanentError(`${queue} is not under test`);
  };
}

/** The handler map for these tests: the real step handler, every other queue refuses. */
export function engineHandlers(deps: EngineDeps): HandlerMap {
  const map = Object.fromEntries(QUEUE_NAMES.map((q) => [q, notUnderTest(q)])) as HandlerMap;
  return { ...map, 'negotiation-steps': createNegotiationStepHandler(deps) };
}

/** Real Redis (own prefix), a fresh SQLite file, the Anthropic sandbox over HTTP, the real SDK. */
export async function createEngineHarness(label: string, options: HarnessOptions = {}): Promise<EngineHarness> {
  const policy = options.policy ?? ENGINE_POLICY;
  const database = await createTestDatabase();
  const sandbox = await startAnthropicSandbox({ apiKey: SANDBOX_API_KEY });
  const prefix = uniquePrefix(label);
  const url = redisUrl();
  const producer = createRedis(url, 'producer');
  const connections: Redis[] = [producer];
  const queues = createQueues(producer, prefix, policy);
  const metrics = createMetrics();
  const { log, lines: logs } = capturingLogger('engine-test', 'info');
  const llm = createLlmClient({
    apiKey: SANDBOX_API_KEY,
    baseURL: sandbox.url,
    model: 'claude-sandbox',
    timeoutMs: 10_000,
    metrics,
    log,
    defaultRateLimitWaitMs: policy.rateLimitDefaultMs,
  });
  const deps: EngineDeps = {
    db: database.db,
    queues,
    llm,
    metrics,
    log,
    now: () => new Date(),
    mailbox: MAILBOX,
    llmOutageEscalateAfterMs: options.llmOutageEscalateAfterMs ?? 60 * 60_000,
    maxFollowUps: options.maxFollowUps ?? 2,
  };
  const eventsConnection = createRedis(url, 'worker');
  connections.push(eventsConnection);
  const events = new QueueEvents('negotiation-steps', { connection: eventsConnection, prefix });
  await events.waitUntilReady();
  const runtimes: WorkerRuntime[] = [];

  const job = async (jobId: string): Promise<Job> => {
    const found = await queues['negotiation-steps'].getJob(jobId);
    if (!found) throw new Error(`no job ${jobId}`);
    return found;
  };

  return {
    db: database.db,
    dbUrl: database.url,
    queues,
    sandbox,
    deps,
    metrics,
    log,
    logs,
    prefix,
    redisUrl: url,
    policy,
    start: async (o = {}) => {
      const connection = createRedis(url, 'worker');
      connections.push(connection);
      const runtime = startWorkers({
        connection,
        prefix,
        handlers: engineHandlers(deps),
        policy,
        concurrency: o.concurrency ?? 1,
        lockDurationMs: o.lockDurationMs ?? 30_000,
        stalledIntervalMs: o.stalledIntervalMs ?? 30_000,
        maxStalledCount: 1,
        only: ['negotiation-steps'],
        db: database.db,
        queues,
        metrics,
        log,
      });
      await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
      runtimes.push(runtime);
      return runtime;
    },
    step: async (data, jobId) => {
      const id = jobId ?? jobIds.negotiationStep(data.negotiationId, data.gmailMessageId);
      await enqueue(queues, 'negotiation-steps', data, { jobId: id });
      return id;
    },
    finished: async (jobId, timeoutMs = 30_000) => (await job(jobId)).waitUntilFinished(events, timeoutMs),
    job,
    close: async () => {
      await Promise.all(runtimes.map((r) => r.close(10_000)));
      await events.close();
      await closeQueues(queues);
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
      await sandbox.close();
      await database.cleanup();
      await dropPrefix(url, prefix);
    },
  };
}

export interface CampaignTerms {
  name?: string;
  cpmFloorMinor?: number;
  cpmCeilingMinor?: number;
  maxRounds?: number;
  currency?: string;
}

let seq = 0;
const unique = (label: string) => `${label}-${process.pid}-${(seq += 1)}`;

/** A campaign and one negotiation in state `new`, written as campaign ingest would. */
export async function seedNegotiation(db: Db, terms: CampaignTerms = {}, influencer: { name?: string; averageViews?: number; state?: string } = {}) {
  const key = unique('n');
  return withTx(db, async (tx) => {
    const campaign = await tx.campaign.create({
      data: {
        clickupTaskId: `task-${key}`,
        name: terms.name ?? 'Spring Launch',
        currency: terms.currency ?? 'USD',
        cpmFloorMinor: terms.cpmFloorMinor ?? 2_000,
        cpmCeilingMinor: terms.cpmCeilingMinor ?? 4_000,
        maxRounds: terms.maxRounds ?? 3,
        rosterSheetId: 'sheet-1',
      },
    });
    return tx.negotiation.create({
      data: {
        campaignId: campaign.id,
        influencerName: influencer.name ?? 'Ana Lima',
        influencerEmail: `${key}@creator.test`,
        platform: 'YouTube',
        averageViews: influencer.averageViews ?? 100_000,
        deliverables: '1 dedicated video',
        gmailThreadId: `thread-${key}`,
        state: influencer.state ?? 'new',
      },
      include: { campaign: true },
    });
  });
}

/** An influencer's reply, recorded as mailbox sync records it (unprocessed). */
export async function addReply(db: Db, negotiationId: string, text: string, gmailMessageId = unique('msg')) {
  const negotiation = await db.negotiation.findUniqueOrThrow({ where: { id: negotiationId } });
  await withTx(db, (tx) =>
    tx.inboundMessage.create({
      data: {
        gmailMessageId,
        negotiationId,
        gmailThreadId: negotiation.gmailThreadId ?? `thread-${negotiationId}`,
        messageIdHdr: `<${gmailMessageId}@creator.test>`,
        fromDomain: 'creator.test',
        subject: 'Re: Collaboration',
        text,
        receivedAt: new Date(),
      },
    }),
  );
  return gmailMessageId;
}

/** Everything the engine wrote for one negotiation, in order. */
export async function snapshot(db: Db, negotiationId: string) {
  const [negotiation, transitions, outbox, inbound, audits] = await Promise.all([
    db.negotiation.findUniqueOrThrow({ where: { id: negotiationId } }),
    db.transition.findMany({ where: { negotiationId }, orderBy: { at: 'asc' } }),
    db.outboxEmail.findMany({ where: { negotiationId }, orderBy: { createdAt: 'asc' } }),
    db.inboundMessage.findMany({ where: { negotiationId }, orderBy: { receivedAt: 'asc' } }),
    db.auditEntry.findMany({ where: { negotiationId }, orderBy: { at: 'asc' } }),
  ]);
  return { negotiation, transitions, outbox, inbound, audits };
}

/** Planned retry delays, in order, read back from the job's BullMQ log. */
export async function plannedDelays(h: Pick<EngineHarness, 'queues'>, jobId: string): Promise<number[]> {
  const { logs } = await h.queues['negotiation-steps'].getJobLogs(jobId);
  return logs.map((line) => /retry in (\d+) ms/.exec(line)?.[1]).filter((v): v is string => v !== undefined).map(Number);
}

/** The alert job for the negotiation's latest escalation, if one was enqueued. */
export async function escalationAlert(h: Pick<EngineHarness, 'db' | 'queues'>, negotiationId: string) {
  const t = await h.db.transition.findFirst({ where: { negotiationId, toState: 'escalated' }, orderBy: { at: 'desc' } });
  return t ? h.queues.alerts.getJob(jobIds.alert(escalationAlertId(t.id))) : undefined;
}

/** Millisecond timestamps of the sandbox's recorded calls. */
export function callTimes(sandbox: AnthropicSandbox): number[] {
  return sandbox.calls().map((c) => Date.parse(c.at));
}
