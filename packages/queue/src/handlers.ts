import type { Job } from 'bullmq';
import type { Logger } from '@parley/logging';
import type { JobData, QueueName } from './contracts';

/** What a handler gets besides its payload: a scoped logger and the job's identity. */
export interface JobContext {
  queue: QueueName;
  jobId: string;
  /** 1 for the first attempt. */
  attempt: number;
  log: Logger;
  /** Appends a line to the job's BullMQ log (visible in the dashboard). */
  note: (line: string) => Promise<void>;
  job: Job;
}

export type Handler<Q extends QueueName> = (data: JobData<Q>, ctx: JobContext) => Promise<unknown>;

/** One handler per queue: a queue without a handler does not compile. */
export type HandlerMap = { [Q in QueueName]: Handler<Q> };
