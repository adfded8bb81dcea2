import type { NegotiationState } from './state-machine';

/**
 * The states in which our last email waits for the influencer: a thread silent past
 * FOLLOW_UP_AFTER gets a follow-up (the engine's sweep and step) and shows as overdue (the
 * dashboard's problem list). One list, so the two never disagree.
 */
export const FOLLOW_UP_STATES = ['awaiting_reply', 'counter_sent'] as const satisfies readonly NegotiationState[];

export function allowsFollowUp(state: string): boolean {
  return (FOLLOW_UP_STATES as readonly string[]).includes(state);
}

/** The subject of our email in an existing thread: the thread's subject with one `Re: ` before it. */
export function replySubject(threadSubject: string): string {
  return `Re: ${threadSubject.replace(/^\s*re:\s*/i, '')}`;
}

/**
 * Gmail history ids are unsigned 64-bit integers written in decimal (at most 20 digits): past
 * 2^53 a JavaScript number loses digits, so they are kept as strings and compared as BigInt.
 */
export function isHistoryId(value: unknown): value is string {
  return typeof value === 'string' && /^\d{1,20}$/.test(value);
}

/** A history id's value; a missing one (no sync yet) counts as 0. */
export function historyIdValue(id: string | null | undefined): bigint {
  if (id === null || id === undefined || id === '') return 0n;
  if (!isHistoryId(id)) throw new Error(`not a Gmail history id: ${JSON.stringify(id)}`);
  return BigInt(id);
}

/** -1, 0 or 1 as `a` is older than, the same as or newer than `b` (a missing id is the oldest). */
export function compareHistoryIds(a: string | null | undefined, b: string | null | undefined): -1 | 0 | 1 {
  const x = historyIdValue(a);
  const y = historyIdValue(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The newer of a stored id (missing or unreadable: replaced) and a candidate. */
export function maxHistoryId(current: string | null | undefined, candidate: string): string {
  if (!isHistoryId(current)) return candidate;
  return compareHistoryIds(candidate, current) > 0 ? candidate : current;
}
