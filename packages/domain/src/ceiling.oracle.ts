import { currencyExponent } from './money';
import { readAmounts } from './money-text';

/**
 * The ceiling price computed independently of pricing.ts, for tests: exact integer arithmetic
 * (BigInt) on CPM x views / 1000, rounded half up, with no floating point and no call into the
 * production formula. A test that checks amounts against this catches a changed rounding in
 * `priceAtCpm` that a test using `ceilingPrice` would silently follow.
 */
export function ceilingOracle(cpmCeilingMinor: number, averageViews: number): bigint | null {
  if (!Number.isSafeInteger(cpmCeilingMinor) || !Number.isSafeInteger(averageViews) || cpmCeilingMinor < 0 || averageViews < 0) return null;
  const product = BigInt(cpmCeilingMinor) * BigInt(averageViews);
  return (product * 2n + 1000n) / 2000n;
}

/** Null when `amount` is a whole non-negative number at or under the oracle's ceiling; else what is wrong. */
export function ceilingViolation(amount: number, cpmCeilingMinor: number, averageViews: number): string | null {
  const ceiling = ceilingOracle(cpmCeilingMinor, averageViews);
  if (ceiling === null) return `an amount (${amount}) under terms with no valid ceiling (cpm ${cpmCeilingMinor}, views ${averageViews})`;
  if (!Number.isSafeInteger(amount) || amount < 0) return `${amount} is not a whole non-negative amount`;
  if (BigInt(amount) > ceiling) return `${amount} is above the ceiling ${ceiling} (cpm ${cpmCeilingMinor} x ${averageViews} views / 1000)`;
  return null;
}

/**
 * Every amount of money an email states (in any notation `readAmounts` reads) that is above the
 * oracle's ceiling or in another currency, as text; empty when there is none. An amount that
 * may mean several values ("1.250") counts when any of them is above.
 */
export function amountsAboveCeiling(text: string, currency: string, cpmCeilingMinor: number, averageViews: number): string[] {
  const ceiling = ceilingOracle(cpmCeilingMinor, averageViews);
  const exp = BigInt(currencyExponent(currency));
  const code = currency.toUpperCase();
  const found: string[] = [];
  for (const m of readAmounts(text)) {
    if (!m.money) continue;
    const above = m.values.some((v) => ceiling === null || v.units * 10n ** exp > ceiling * 10n ** BigInt(v.scale));
    if (above || m.values.length === 0 || (m.currency !== null && m.currency !== code)) found.push(m.text);
  }
  return found;
}
