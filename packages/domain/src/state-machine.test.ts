import {
  InvalidTransitionError,
  NEGOTIATION_EVENTS,
  NEGOTIATION_STATES,
  canTransition,
  isNegotiationState,
  isTerminal,
  nextState,
  type NegotiationEvent,
  type NegotiationState,
} from './state-machine';

// The table from the design, written out edge by edge; everything not listed must throw.
const ALLOWED: [NegotiationState, NegotiationEvent, NegotiationState][] = [
  ['new', 'outreach_queued', 'outreach_sent'],
  ['outreach_sent', 'email_delivered', 'awaiting_reply'],
  ['awaiting_reply', 'reply_received', 'counter_received'],
  ['outreach_sent', 'reply_received', 'counter_received'],
  ['counter_sent', 'reply_received', 'counter_received'],
  ['stale', 'reply_received', 'counter_received'],
  ['counter_received', 'counter_queued', 'counter_sent'],
  ['counter_received', 'accepted', 'agreed'],
  ['counter_received', 'declined', 'declined'],
  ['counter_received', 'clarification_queued', 'awaiting_reply'],
  ['counter_received', 'waiting', 'awaiting_reply'],
  ['counter_sent', 'email_delivered', 'counter_sent'],
  ['awaiting_reply', 'follow_up_queued', 'awaiting_reply'],
  ['counter_sent', 'follow_up_queued', 'counter_sent'],
  ['awaiting_reply', 'went_stale', 'stale'],
  ['counter_sent', 'went_stale', 'stale'],
  ['outreach_sent', 'went_stale', 'stale'],
  ['new', 'escalated', 'escalated'],
  ['outreach_sent', 'escalated', 'escalated'],
  ['awaiting_reply', 'escalated', 'escalated'],
  ['counter_received', 'escalated', 'escalated'],
  ['counter_sent', 'escalated', 'escalated'],
  ['escalated', 'escalated', 'escalated'],
  ['stale', 'escalated', 'escalated'],
  ['new', 'claimed', 'human_managed'],
  ['outreach_sent', 'claimed', 'human_managed'],
  ['awaiting_reply', 'claimed', 'human_managed'],
  ['counter_received', 'claimed', 'human_managed'],
  ['counter_sent', 'claimed', 'human_managed'],
  ['escalated', 'claimed', 'human_managed'],
  ['human_managed', 'claimed', 'human_managed'],
  ['stale', 'claimed', 'human_managed'],
  ['human_managed', 'resumed', 'awaiting_reply'],
  ['human_managed', 'resumed_before_outreach', 'new'],
];

describe('negotiation state machine', () => {
  it.each(ALLOWED)('%s --%s--> %s', (from, event, to) => {
    expect(nextState(from, event)).toBe(to);
    expect(canTransition(from, event)).toBe(true);
  });

  const allowed = new Set(ALLOWED.map(([f, e]) => `${f}/${e}`));
  const refused = NEGOTIATION_STATES.flatMap((s) => NEGOTIATION_EVENTS.map((e) => [s, e] as const)).filter(([s, e]) => !allowed.has(`${s}/${e}`));

  it('refuses every other (state, event) pair with InvalidTransitionError', () => {
    expect(refused.length).toBe(NEGOTIATION_STATES.length * NEGOTIATION_EVENTS.length - ALLOWED.length);
    for (const [from, event] of refused) {
      expect(canTransition(from, event)).toBe(false);
      expect(() => nextState(from, event)).toThrow(InvalidTransitionError);
    }
  });

  it('names the refused edge in the error', () => {
    expect(() => nextState('agreed', 'claimed')).toThrow('no transition from "agreed" on "claimed"');
    const error = (() => {
      try {
        nextState('agreed', 'claimed');
      } catch (e) {
        return e as InvalidTransitionError;
      }
      throw new Error('nextState did not throw');
    })();
    // Logs and dead letters show the error's name next to its class.
    expect(error.name).toBe('InvalidTransitionError');
    expect([error.from, error.event]).toEqual(['agreed', 'claimed']);
  });

  it('refuses a state it does not know (a stored row from an older or newer deploy) with the same error', () => {
    const stored = 'archived' as NegotiationState;
    expect(() => nextState(stored, 'reply_received')).toThrow(InvalidTransitionError);
  });

  it('recognises exactly the states of the table', () => {
    for (const s of NEGOTIATION_STATES) expect(isNegotiationState(s)).toBe(true);
    for (const v of ['archived', '', 'AGREED', 'agreed ', 'constructor', '__proto__']) expect(isNegotiationState(v)).toBe(false);
  });

  it('treats only agreed and declined as terminal, and they accept no event at all', () => {
    expect(NEGOTIATION_STATES.filter(isTerminal)).toEqual(['agreed', 'declined']);
    for (const s of ['agreed', 'declined'] as const) for (const e of NEGOTIATION_EVENTS) expect(canTransition(s, e)).toBe(false);
  });

  it('never lets the agent act on a human-managed thread except through resume', () => {
    const agentEvents = NEGOTIATION_EVENTS.filter((e) => e !== 'claimed' && e !== 'resumed' && e !== 'resumed_before_outreach');
    for (const e of agentEvents) expect(canTransition('human_managed', e)).toBe(false);
  });
});
