import { ceilingPrice, offerForRound, validTerms, type PricingTerms } from './pricing';

/**
 * The negotiation policy. Numbers are decided here, never by the LLM: the LLM only reads a
 * reply into a ReplyReading and words the email for the Decision this returns.
 */
export type ReplyIntent = 'accept' | 'counter' | 'decline' | 'question' | 'out_of_office' | 'unclear';

export interface ReplyReading {
  intent: ReplyIntent;
  /** The rate the influencer asked for (or agreed to), in minor units of `currency`. */
  askedRateMinor?: number;
  /** The currency the reply named, if it named one (ISO 4217). */
  currency?: string;
  hostile?: boolean;
  reason: string;
}

export type Decision =
  | { action: 'accept'; rateMinor: number }
  | { action: 'counter'; offerMinor: number; round: number }
  | { action: 'escalate'; reason: string }
  | { action: 'acknowledge_decline' }
  /** Answer a question, restating the current offer; not a round. */
  | { action: 'clarify' }
  /** Out-of-office: no email, not a round. */
  | { action: 'wait' };

export interface NegotiationPosition {
  /** Counters we have sent so far (the opening offer is round 0). */
  round: number;
  /** The offer on the table, in minor units. */
  currentOfferMinor: number;
}

const isAmount = (n: number) => Number.isSafeInteger(n) && n >= 0;

export function decide(t: PricingTerms, s: NegotiationPosition, r: ReplyReading): Decision {
  return guard(t, s, decideUnguarded(t, s, r));
}

function decideUnguarded(t: PricingTerms, s: NegotiationPosition, r: ReplyReading): Decision {
  if (!validTerms(t)) return { action: 'escalate', reason: 'the campaign pricing terms are invalid' };
  if (!isAmount(s.currentOfferMinor) || !Number.isInteger(s.round) || s.round < 0) {
    return { action: 'escalate', reason: 'the negotiation has no valid current offer' };
  }
  if (r.currency && r.currency.toUpperCase() !== t.currency.toUpperCase()) {
    return { action: 'escalate', reason: `reply names ${r.currency.toUpperCase()}, the campaign is in ${t.currency.toUpperCase()}` };
  }
  if (r.hostile) return { action: 'escalate', reason: 'hostile reply' };
  if (r.intent === 'unclear') return { action: 'escalate', reason: 'unclear reply' };
  if (r.intent === 'decline') return { action: 'acknowledge_decline' };
  if (r.intent === 'question') return { action: 'clarify' };
  if (r.intent === 'out_of_office') return { action: 'wait' };

  const ask = r.askedRateMinor;
  if (ask !== undefined && !isAmount(ask)) return { action: 'escalate', reason: 'the asked rate is not a valid amount' };

  if (r.intent === 'accept') {
    if (ask === undefined || ask <= s.currentOfferMinor) {
      return { action: 'accept', rateMinor: ask === undefined ? s.currentOfferMinor : ask };
    }
    // "Happy to accept $X" with X above our offer is a counter in polite words.
  }

  if (ask === undefined) return { action: 'clarify' };
  if (ask <= s.currentOfferMinor) return { action: 'accept', rateMinor: ask };

  const ceiling = ceilingPrice(t);
  // Never retreat below what is already on the table, even if the stored round lags.
  const next = Math.max(offerForRound(t, s.round + 1), s.currentOfferMinor);
  if (ask <= ceiling) {
    if (next >= ask) return { action: 'accept', rateMinor: ask };
    return { action: 'counter', offerMinor: next, round: s.round + 1 };
  }
  if (s.round >= t.maxRounds) return { action: 'escalate', reason: 'ask above ceiling after the last round' };
  return { action: 'counter', offerMinor: next, round: s.round + 1 };
}

/**
 * The last line of defence for the invariant: whatever the inputs (a corrupted row, odd terms),
 * no decision offers or accepts more than the ceiling or less than zero. Out-of-bounds → human.
 */
function guard(t: PricingTerms, s: NegotiationPosition, d: Decision): Decision {
  const amount = d.action === 'accept' ? d.rateMinor : d.action === 'counter' ? d.offerMinor : null;
  if (amount === null) return d;
  if (!isAmount(amount) || amount > ceilingPrice(t)) {
    return { action: 'escalate', reason: `policy refused an amount outside 0..ceiling (offer on the table ${s.currentOfferMinor})` };
  }
  return d;
}
