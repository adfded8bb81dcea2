import type { LlmClient } from '@parley/llm';
import type { EngineCore } from '@parley/takeover';

/** Everything the negotiation engine touches, injected (tests pass real Redis/SQLite and the sandbox LLM). */
export interface EngineDeps extends EngineCore {
  llm: LlmClient;
  /** The mailbox we send from; its domain names our Message-IDs. */
  mailbox: string;
  /** After the LLM has failed continuously this long, waiting negotiations go to a human. */
  llmOutageEscalateAfterMs: number;
  maxFollowUps: number;
  /** Offers are rounded to this many whole units of the currency (PRICE_STEP); absent: exact. */
  priceStep?: number;
}
