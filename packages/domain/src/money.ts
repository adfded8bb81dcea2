/**
 * Money is integer minor units plus an ISO 4217 code. These helpers turn it into the one
 * written form every email uses, and find amounts written in free text (replies and drafts).
 */

const exponentCache = new Map<string, number>();

/** Minor-unit digits of a currency (2 for USD/EUR, 0 for JPY); 2 when the code is unknown. */
export function currencyExponent(currency: string): number {
  const code = currency.toUpperCase();
  const cached = exponentCache.get(code);
  if (cached !== undefined) return cached;
  let digits = 2;
  try {
    digits = new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    digits = 2;
  }
  exponentCache.set(code, digits);
  return digits;
}

/** Major units (as an LLM or a person writes them, e.g. 1250.5) to integer minor units. */
export function toMinor(major: number, currency: string): number {
  return Math.round(major * 10 ** currencyExponent(currency));
}

function group(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * A price as people write it: "$1,500" for a whole amount, "$1,512.50" otherwise (never
 * "$1,500.00"); "EUR 900" (code, space, amount) for every currency but USD. The draft check
 * compares amounts by value, so this is the form we show, not a form the model must copy.
 */
export function formatMoney(minor: number, currency: string): string {
  const code = currency.toUpperCase();
  const exp = currencyExponent(code);
  const rounded = Math.round(minor);
  const abs = Math.abs(rounded);
  const scale = 10 ** exp;
  const whole = group(String(Math.floor(abs / scale)));
  const cents = abs % scale;
  const amount = cents === 0 ? whole : `${whole}.${String(cents).padStart(exp, '0')}`;
  const sign = rounded < 0 ? '-' : '';
  return code === 'USD' ? `${sign}$${amount}` : `${sign}${code} ${amount}`;
}

/**
 * A roster's average views: "12500", "12,500", "12.5k", "1.2m" (case and spaces ignored).
 * Anything else, zero, or a negative number is null (the row is reported, not guessed at).
 */
export function parseAverageViews(raw: string): number | null {
  // Every blank goes ("12 500", " 1.2m "), so no separate trim.
  const s = String(raw).toLowerCase().replace(/\s/g, '');
  const m = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?([km])?$/.exec(s);
  if (!m) return null;
  const [, whole = '', frac, suffix] = m;
  const value = Number(`${whole.replace(/,/g, '')}${frac ? `.${frac}` : ''}`);
  const multiplier = suffix === 'k' ? 1_000 : suffix === 'm' ? 1_000_000 : 1;
  const views = Math.round(value * multiplier);
  return Number.isSafeInteger(views) && views > 0 ? views : null;
}

/** An amount of money found in text. `major` is in major units (1250.5 for "$1,250.50"). */
export interface MoneyMention {
  text: string;
  index: number;
  currency: string;
  major: number;
}

const SYMBOLS: Record<string, string> = { $: 'USD', '€': 'EUR', '£': 'GBP', '¥': 'JPY' };
const WORDS: Record<string, string> = { dollar: 'USD', dollars: 'USD', euro: 'EUR', euros: 'EUR', pound: 'GBP', pounds: 'GBP' };
// A curated list rather than every ISO code: "ALL 3 videos" or "TOP 10" must not read as money.
export const KNOWN_CURRENCIES = [
  'USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'NZD', 'CHF', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK', 'HUF', 'RON', 'INR',
  'BRL', 'MXN', 'SGD', 'HKD', 'CNY', 'KRW', 'ZAR', 'AED', 'SAR', 'TRY', 'ILS', 'THB', 'IDR', 'PHP', 'MYR',
] as const;

const NUM = String.raw`(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?`;
const CODES = KNOWN_CURRENCIES.join('|');
const MONEY_RE = new RegExp(
  [
    String.raw`(?<sym>[$€£¥])\s?(?<n1>${NUM})(?<k1>[kK]\b)?`,
    String.raw`\b(?<code1>${CODES})\s?(?<n2>${NUM})(?<k2>[kK]\b)?`,
    String.raw`(?<![\d.,])(?<n3>${NUM})(?<k3>[kK])?\s?(?<code2>${CODES}|[Dd]ollars?|[Ee]uros?|[Pp]ounds?)\b`,
  ].join('|'),
  'g',
);

/** Every amount written with a currency marker ("$1,250", "1,250 USD", "EUR 900", "€900", "$1.2k"). */
export function findMoneyAmounts(text: string): MoneyMention[] {
  const found: MoneyMention[] = [];
  for (const m of text.matchAll(MONEY_RE)) {
    const g = m.groups ?? {};
    const digits = g.n1 ?? g.n2 ?? g.n3;
    const marker = g.sym ?? g.code1 ?? g.code2;
    if (digits === undefined || marker === undefined) continue;
    const currency = SYMBOLS[marker] ?? WORDS[marker.toLowerCase()] ?? marker.toUpperCase();
    const thousands = (g.k1 ?? g.k2 ?? g.k3) !== undefined ? 1_000 : 1;
    const major = Number(digits.replace(/,/g, '')) * thousands;
    if (Number.isFinite(major)) found.push({ text: m[0], index: m.index ?? 0, currency, major });
  }
  return found;
}
