/**
 * Caps applied to inbound mail before any parsing. Mail is written by strangers, so every
 * parser below them is linear, and these bounds keep even linear work small: the LLM reads at
 * most 8,000 characters of a message anyway (`MAX_MESSAGE_CHARS` in @parley/llm).
 */
export const MAIL_LIMITS = {
  /** Decoded bytes of the text part (or HTML part) that are read; the rest is ignored. A reply is at the top. */
  bodyBytes: 512 * 1024,
  /** Characters of reply text kept after quote stripping (stored, forwarded, read by the LLM). */
  replyTextChars: 20_000,
  /** Characters of any header value read (From, To, Message-ID, In-Reply-To, References, Content-Type). */
  headerChars: 8_192,
  /** Characters of a decoded Subject kept (RFC 5322 lines stop at 998). */
  subjectChars: 1_000,
  /** Lines longer than this are never an attribution ("On … wrote:") line. */
  attributionLineChars: 1_000,
  /** MIME nesting followed when looking for the text part. */
  partDepth: 20,
} as const;
