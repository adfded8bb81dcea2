import { Queue, type JobsOptions } from 'bullmq';
import type { RedisConnection } from './connection';
import { DEFAULT_RETRY_POLICY, JOBS, maxAttempts, QUEUE_NAMES, type JobData, type JobInput, type QueueName, type RetryPolicy } from '@parley/contracts';

export type Queues = { readonly [Q in QueueName]: Queue };

const DAY_S = 86_400;

/** Default job options per queue. `backoff.type = 'parley'` routes retries through backoffStrategy. */
export function defaultJobOptions(queue: QueueName, policy: RetryPolicy = DEFAULT_RETRY_POLICY): JobsOptions {
  const common: JobsOptions = {
    attempts: maxAttempts(policy),
    backoff: { type: 'parley' },
    // Completed jobs stay a week so a redelivered webhook still collapses onto its id and the
    // delivery sweeper can tell "done" from "lost"; failed ones stay a month (the dead-letter
    // row in SQLite is the durable record).
    removeOnComplete: { age: 7 * DAY_S, count: 100_000 },
    removeOnFail: { age: 30 * DAY_S },
  };
  if (queue === 'maintenance') return { ...common, attempts: 3, removeOnComplete: { age: DAY_S, count: 1000 } };
  return common;
}

export function createQueues(connection: RedisConnection, prefix: string, policy: RetryPolicy = DEFAULT_RETRY_POLICY): Queues {
  const entries = QUEUE_NAMES.map((name) => [name, new Queue(name, { connection, prefix, defaultJobOptions: defaultJobOptions(name, policy) })]);
  return Object.fromEntries(entries) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

export interface EnqueueResult {
  jobId: string;
}

/**
 * The typed producer: the payload type follows from the queue, it is validated before it
 * reaches Redis, and the deterministic `jobId` makes a repeated enqueue a no-op.
 */
export async function enqueue<Q extends QueueName>(
  queues: Queues,
  queue: Q,
  data: JobInput<Q>,
  opts: Omit<JobsOptions, 'jobId'> & { jobId: string },
): Promise<EnqueueResult> {
  const contract = JOBS[queue];
  const parsed = contract.schema.parse(data) as JobData<Q>;
  const job = await queues[queue].add(contract.name, parsed, opts);
  return { jobId: job.id ?? opts.jobId };
}
