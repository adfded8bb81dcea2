import type { Job } from 'bullmq';
import type { Logger } from '@parley/logging';
import type { JobData, QueueName } from '@parley/contracts';

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
  /**
   * Aborted when this process no longer owns the job: its lock was lost (another worker may
   * be running it) or shutdown outlasted the grace period and the job was handed back.
   * A long handler should check it between side effects. Always set by the runtime; optional
   * only so hand-built contexts in unit tests need not create one.
   */
  signal?: AbortSignal;
}

export type Handler<Q extends QueueName> = (data: JobData<Q>, ctx: JobContext) => Promise<unknown>;

/** One handler per queue: a queue without a handler does not compile. */
export type HandlerMap = { [Q in QueueName]: Handler<Q> };
