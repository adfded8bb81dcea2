import { findMoneyAmounts, formatMoney, toMinor } from '@parley/domain';

/**
 * The price check on a draft: the words are the model's, the number is the policy's. The body
 * must state the policy's price exactly as formatMoney writes it, and neither subject nor body
 * may state any other amount of money (another value, or the same value in another currency).
 * Returns the problem in words the model can fix, or null when the draft is acceptable.
 */
export function checkDraftPrice(draft: { subject: string; body: string }, priceMinor: number | null, currency: string): string | null {
  const code = currency.toUpperCase();
  const expected = priceMinor === null ? null : formatMoney(priceMinor, code);
  if (expected !== null && !draft.body.includes(expected)) {
    return `the body must state the price exactly as "${expected}"`;
  }
  for (const mention of findMoneyAmounts(`${draft.subject}\n${draft.body}`)) {
    if (expected === null) return `the email must not state any amount of money, but it states "${mention.text}"`;
    if (mention.currency !== code || toMinor(mention.major, code) !== priceMinor) {
      return `the email states "${mention.text}", but the only amount it may state is "${expected}"`;
    }
  }
  return null;
}
