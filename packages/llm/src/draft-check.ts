import { currencyExponent, equalsMinor, formatMoney, MAX_MONEY_TEXT, readAmounts, type AmountMention } from '@parley/domain';

/**
 * The price check on a draft: the words are the model's, the number is the policy's. Amounts
 * are compared by value and currency, whatever their notation ("$500", "$500.00", "USD 500",
 * "500 dollars", "＄５００", Arabic-Indic digits, "five hundred dollars"). The body must state
 * the policy's price with its currency; neither subject nor body may state any other amount
 * (another value, the same value in another currency, a bare number of three or more digits
 * that is not an audience size, a deliverable count or a year, "1.5k", "two grand"), any
 * percentage, or the price per unit or multiplied ("$500 per video", "x 3"). Text longer than
 * MAX_MONEY_TEXT is refused unread, so hostile output costs at most linear work on a bounded
 * input. Returns the problem in words the model can fix, or null when the draft is acceptable.
 */
export function checkDraftPrice(draft: { subject: string; body: string }, priceMinor: number | null, currency: string): string | null {
  const code = currency.toUpperCase();
  const expected = priceMinor === null ? null : formatMoney(priceMinor, code);
  const text = `${draft.subject}\n${draft.body}`;
  if (text.length > MAX_MONEY_TEXT) return `the email is too long (over ${MAX_MONEY_TEXT} characters); keep it short`;
  const only = expected === null ? 'the email must not state any amount of money' : `the only amount it may state is ${expected}`;
  const exp = currencyExponent(code);
  const isPrice = (m: AmountMention) => priceMinor !== null && m.values.length > 0 && m.values.every((v) => equalsMinor(v, priceMinor, exp));
  const bodyStart = draft.subject.length + 1;
  let stated = false;

  for (const m of readAmounts(text)) {
    if (m.percent) return `the email states a percentage (${m.text}); state no percentages, only ${expected === null ? 'no money at all' : `the price ${expected}`}`;
    if (m.money) {
      if (m.multiplied) return `the email states "${m.text}" per item or multiplied; ${expected === null ? 'state no money at all' : `state the total price ${expected}, nothing per item`}`;
      if (m.currency !== null && m.currency !== code) {
        return expected === null ? `${only}, but it states "${m.text}"` : `the email states "${m.text}", another currency or amount; ${only} (${code})`;
      }
      if (!isPrice(m)) return expected === null ? `${only}, but it states "${m.text}"` : `the email states "${m.text}", but ${only}`;
      if (m.currency === code && m.index >= bodyStart) stated = true;
      continue;
    }
    // Three digits read as an amount ("300", "12.5", "1,2,3"); with fewer digits (so one value)
    // a number in words or with a scale reads as one from 100 ("three hundred", "2k").
    const first = m.values[0];
    const looksLikeAmount = m.digits >= 3 || (first !== undefined && first.units >= 100n * 10n ** BigInt(first.scale));
    if (m.counts || !looksLikeAmount) continue;
    if (isPrice(m)) continue;
    return expected === null ? `${only}, but it states "${m.text}"` : `the email states "${m.text}", which reads as another amount; ${only}`;
  }
  if (expected !== null && !stated) return `the body must state the price, ${expected} (${code})`;
  return null;
}
