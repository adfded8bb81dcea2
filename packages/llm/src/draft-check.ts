import { findMoneyAmounts, formatMoney, toMinor } from '@parley/domain';

// What may follow a bare number without it being money: audience sizes and deliverables.
const NOT_MONEY_AFTER = /^k?\s*(?:average\s+)?(?:views?|followers?|subscribers?|impressions?|plays?|likes?|videos?|reels?|posts?|stories|streams?|mentions?|integrations?|shorts?|days?|weeks?|months?|hours?|minutes?|rounds?|%)\b/i;
const CURRENCY_BEFORE = /(?:[$€£¥]|\b(?:usd|eur|gbp|jpy|cad|aud|chf|dollars?|euros?|pounds?|bucks))\s?$/i;
const CURRENCY_AFTER = /^\s?(?:[$€£¥]|k\b|(?:usd|eur|gbp|jpy|cad|aud|chf|dollars?|euros?|pounds?|bucks|grand)\b)/i;
const YEAR = /^(?:19|20)\d{2}$/;

/**
 * The price check on a draft: the words are the model's, the number is the policy's. The body
 * must state the policy's price exactly as formatMoney writes it, and neither subject nor body
 * may state any other amount of money (another value, or the same value in another currency).
 * Beyond the amounts `findMoneyAmounts` recognises, any number next to a currency word or
 * symbol in any case ("1800$", "usd1800", "1.200 €"), and any bare number of three or more
 * digits that is not an audience size, a deliverable count or a year ("1,800"), counts as
 * another amount: a model that writes one gets the problem back and is re-asked.
 * Returns the problem in words the model can fix, or null when the draft is acceptable.
 */
export function checkDraftPrice(draft: { subject: string; body: string }, priceMinor: number | null, currency: string): string | null {
  const code = currency.toUpperCase();
  const expected = priceMinor === null ? null : formatMoney(priceMinor, code);
  if (expected !== null && !draft.body.includes(expected)) {
    return `the body must state the price exactly as "${expected}"`;
  }
  const text = `${draft.subject}\n${draft.body}`;
  const allowed: [number, number][] = [];
  for (const mention of findMoneyAmounts(text)) {
    if (expected === null) return `the email must not state any amount of money, but it states "${mention.text}"`;
    if (mention.currency !== code || toMinor(mention.major, code) !== priceMinor) {
      return `the email states "${mention.text}", but the only amount it may state is "${expected}"`;
    }
    allowed.push([mention.index, mention.index + mention.text.length]);
  }
  for (const m of text.matchAll(/\d(?:[\d.,]*\d)?/g)) {
    const start = m.index;
    const end = start + m[0].length;
    if (allowed.some(([a, b]) => start >= a && end <= b)) continue;
    const before = text.slice(Math.max(0, start - 8), start);
    const after = text.slice(end, end + 32);
    const marked = CURRENCY_BEFORE.test(before) || (CURRENCY_AFTER.test(after) && !NOT_MONEY_AFTER.test(after));
    const digits = m[0].replace(/[.,]/g, '');
    const large = digits.length >= 3 && !YEAR.test(m[0]) && !NOT_MONEY_AFTER.test(after);
    if (marked || large) {
      const shown = text.slice(Math.max(0, start - 4), Math.min(text.length, end + 4)).trim();
      return expected === null
        ? `the email must not state any amount of money, but it states "${shown}"`
        : `the email states "${shown}", which reads as another amount; the only amount it may state is "${expected}"`;
    }
  }
  return null;
}
