import type { ReplyReading } from '@parley/domain';

export interface LlmCallOptions {
  /** The job's signal: aborted when the job no longer runs here (lock lost, shutdown past grace). */
  signal?: AbortSignal;
}

/**
 * What the negotiation handlers need from a language model: read a reply into facts the
 * policy can act on, and put a decided action into words. It never decides a number.
 */
export interface LlmClient {
  readReply(input: ReadReplyInput, options?: LlmCallOptions): Promise<ReplyReading>;
  draftEmail(input: DraftRequest, options?: LlmCallOptions): Promise<{ subject: string; body: string }>;
}

export interface ReadReplyInput {
  influencerName: string;
  campaignName: string;
  /** The campaign's currency (ISO 4217); asked rates are converted to its minor units. */
  currency: string;
  currentOfferMinor: number;
  /** Every unanswered message of the thread, oldest first (plain text). */
  messages: string[];
}

export type DraftKind = 'opening' | 'counter' | 'accept' | 'decline_ack' | 'clarify' | 'follow_up';

export interface DraftRequest {
  kind: DraftKind;
  influencerName: string;
  campaignName: string;
  platform: string;
  deliverables: string;
  currency: string;
  /** The policy's price; the draft must state exactly formatMoney(priceMinor) and no other amount. Null: no money at all. */
  priceMinor: number | null;
  influencerMessages?: string[];
}

/** The label values of parley_llm_errors_total{type}. */
export type LlmErrorType = 'rate_limited' | 'spend_limit' | 'overloaded' | 'transient' | 'permanent' | 'invalid_output';
