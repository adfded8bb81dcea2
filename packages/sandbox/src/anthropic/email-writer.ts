import { currencyExponent, formatMoney } from '@parley/domain';
import { z } from 'zod';

/**
 * The sandbox's stand-in for the model's `draft_email`: a short polite email per kind, built
 * from the <facts> JSON of the prompt. Like a real model it writes the price in its own
 * notation, not always ours ("$2,000.00", "US$2,000", "2,000 EUR"), so the draft check is
 * exercised on every run; the choice is deterministic per email (name, kind, price).
 */
export const draftFacts = z.object({
  kind: z.enum(['opening', 'counter', 'accept', 'decline_ack', 'clarify', 'follow_up']),
  influencerName: z.string().default('there'),
  campaignName: z.string().default('our campaign'),
  platform: z.string().default(''),
  deliverables: z.string().default(''),
  currency: z.string().default('USD'),
  price: z.string().nullable().optional(),
  priceMinor: z.number().nullable().optional(),
});
export type DraftFacts = z.infer<typeof draftFacts>;

/** The facts of a draft prompt, or null when the prompt carries none that parse. */
export function extractFacts(prompt: string): DraftFacts | null {
  const m = /<facts>([\s\S]*?)<\/facts>/.exec(prompt);
  if (!m) return null;
  try {
    const parsed = draftFacts.safeParse(JSON.parse(m[1] ?? ''));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

const SYMBOLS: Record<string, string> = { EUR: '€', GBP: '£', JPY: '¥' };

/**
 * The price in one of the notations people use. Every USD form contains our own ("$2,000"
 * inside "$2,000.00", "US$2,000", "$2,000 USD"), so the personas, which read "$" amounts,
 * still find the offer; other currencies get forms without the code first ("2,000 EUR", "€2,000").
 */
export function writePrice(minor: number, currency: string, seed: string): string {
  const code = currency.toUpperCase();
  const ours = formatMoney(minor, code);
  const exp = currencyExponent(code);
  const withCents = minor % 10 ** exp === 0 && exp > 0 ? `${ours}.${'0'.repeat(exp)}` : ours;
  const amount = ours.replace(/^-?(?:\$|[A-Z]{3} )/, '');
  const symbol = SYMBOLS[code];
  const forms =
    code === 'USD'
      ? [ours, withCents, `US${ours}`, `${ours} USD`, `USD ${withCents}`]
      : [ours, withCents, `${amount} ${code}`, symbol ? `${symbol}${amount}` : `${code}${amount}`];
  let hash = 0;
  for (const ch of seed) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return forms[hash % forms.length] ?? ours;
}

export function writeDraft(facts: DraftFacts): { subject: string; body: string } {
  const seed = `${facts.influencerName}|${facts.kind}|${facts.priceMinor ?? ''}`;
  const price = facts.priceMinor === null || facts.priceMinor === undefined ? (facts.price ?? null) : writePrice(facts.priceMinor, facts.currency, seed);
  const first = facts.influencerName.trim().split(/\s+/)[0] || 'there';
  const work = facts.deliverables ? `${facts.deliverables}${facts.platform ? ` on ${facts.platform}` : ''}` : `a collaboration${facts.platform ? ` on ${facts.platform}` : ''}`;
  const sign = `Best regards,\nThe ${facts.campaignName} team`;
  const subject = `Collaboration: ${facts.campaignName}`;
  const p = price ?? 'our offer';
  const lines: Record<DraftFacts['kind'], string> = {
    opening: `We are running ${facts.campaignName} and would love to work with you on ${work}. We would like to offer ${p} for this. Would that work for you?`,
    counter: `Thank you for getting back to us. For ${work}, we can offer ${p}. Let us know if that works for you.`,
    accept: `Wonderful, we are happy to agree on ${p} for ${work}. We will follow up shortly with the next steps.`,
    decline_ack: `Thank you for letting us know, and for taking the time to reply. We would be glad to work with you on a future campaign.`,
    clarify: `Happy to clarify. The collaboration covers ${work} for ${facts.campaignName}, and our offer for it is ${p}.`,
    follow_up: `Just following up on our offer of ${p} for ${work} as part of ${facts.campaignName}. We would love to hear what you think.`,
  };
  return { subject, body: `Hi ${first},\n\n${lines[facts.kind]}\n\n${sign}` };
}
