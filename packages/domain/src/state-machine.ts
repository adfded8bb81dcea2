/**
 * The negotiation state machine. This table is the source of truth: the handlers ask it for
 * the next state and record every transition (from, event, to) themselves.
 */
export const NEGOTIATION_STATES = [
  'new',
  'outreach_sent',
  'awaiting_reply',
  'counter_received',
  'counter_sent',
  'agreed',
  'declined',
  'escalated',
  'human_managed',
  'stale',
] as const;

export type NegotiationState = (typeof NEGOTIATION_STATES)[number];

export const NEGOTIATION_EVENTS = [
  'outreach_queued',
  'email_delivered',
  'reply_received',
  'counter_queued',
  'accepted',
  'declined',
  'clarification_queued',
  'waiting',
  'follow_up_queued',
  'went_stale',
  'escalated',
  'claimed',
  'resumed',
  'resumed_before_outreach',
] as const;

export type NegotiationEvent = (typeof NEGOTIATION_EVENTS)[number];

export class InvalidTransitionError extends Error {
  override name = 'InvalidTransitionError';
  constructor(
    readonly from: NegotiationState,
    readonly event: NegotiationEvent,
  ) {
    super(`no transition from "${from}" on "${event}"`);
  }
}

const TERMINAL: ReadonlySet<NegotiationState> = new Set<NegotiationState>(['agreed', 'declined']);

/** Agreed and declined are final: only these two refuse every event (even a human claim). */
export function isTerminal(s: NegotiationState): boolean {
  return TERMINAL.has(s);
}

type Table = Partial<Record<NegotiationEvent, NegotiationState>>;

function buildTable(): Record<NegotiationState, Table> {
  const t = Object.fromEntries(NEGOTIATION_STATES.map((s) => [s, {} as Table])) as Record<NegotiationState, Table>;
  const on = (from: readonly NegotiationState[], event: NegotiationEvent, to: NegotiationState | 'same') => {
    for (const f of from) t[f][event] = to === 'same' ? f : to;
  };
  on(['new'], 'outreach_queued', 'outreach_sent');
  on(['outreach_sent'], 'email_delivered', 'awaiting_reply');
  // A reply that arrives before Gmail confirmed our send, or after we gave up, still counts.
  on(['awaiting_reply', 'outreach_sent', 'counter_sent', 'stale'], 'reply_received', 'counter_received');
  on(['counter_received'], 'counter_queued', 'counter_sent');
  on(['counter_received'], 'accepted', 'agreed');
  on(['counter_received'], 'declined', 'declined');
  // A clarification or an out-of-office reply is not a round: back to waiting for them.
  on(['counter_received'], 'clarification_queued', 'awaiting_reply');
  on(['counter_received'], 'waiting', 'awaiting_reply');
  // A counter stays "counter_sent" once Gmail accepts it (the round is already counted).
  on(['counter_sent'], 'email_delivered', 'counter_sent');
  on(['awaiting_reply', 'counter_sent'], 'follow_up_queued', 'same');
  on(['awaiting_reply', 'counter_sent', 'outreach_sent'], 'went_stale', 'stale');
  const escalatable = NEGOTIATION_STATES.filter((s) => !isTerminal(s) && s !== 'human_managed');
  on(escalatable, 'escalated', 'escalated');
  on(
    NEGOTIATION_STATES.filter((s) => !isTerminal(s)),
    'claimed',
    'human_managed',
  );
  on(['human_managed'], 'resumed', 'awaiting_reply');
  // Claimed before the opening email went out: the agent starts over from the opening offer.
  on(['human_managed'], 'resumed_before_outreach', 'new');
  return t;
}

/** Every allowed (from, event) → to, frozen. */
export const TRANSITIONS: Readonly<Record<NegotiationState, Readonly<Table>>> = Object.freeze(buildTable());

export function canTransition(from: NegotiationState, event: NegotiationEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}

/** The state after `event`; throws InvalidTransitionError when the table has no such edge. */
export function nextState(from: NegotiationState, event: NegotiationEvent): NegotiationState {
  const to = TRANSITIONS[from]?.[event];
  if (to === undefined) throw new InvalidTransitionError(from, event);
  return to;
}

export function isNegotiationState(value: string): value is NegotiationState {
  return (NEGOTIATION_STATES as readonly string[]).includes(value);
}
