import type { Db } from '@parley/db';
import type { LlmClient } from '@parley/llm';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import type { Queues } from '@parley/queue';

/** Everything the negotiation engine touches, injected (tests pass real Redis/SQLite and the sandbox LLM). */
export interface EngineDeps {
  db: Db;
  queues: Queues;
  llm: LlmClient;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
  /** The mailbox we send from; its domain names our Message-IDs. */
  mailbox: string;
  /** After the LLM has failed continuously this long, waiting negotiations go to a human. */
  llmOutageEscalateAfterMs: number;
  maxFollowUps: number;
  /** Offers are rounded to this many whole units of the currency (PRICE_STEP); absent: exact. */
  priceStep?: number;
}

export type EngineCore = Pick<EngineDeps, 'db' | 'queues' | 'metrics' | 'log' | 'now'>;
