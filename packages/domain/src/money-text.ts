import { KNOWN_CURRENCIES } from './money';

/**
 * Reading amounts of money out of text a model wrote, whatever the notation: digits of any
 * script, full-width forms, thousands separators of either convention, "1.5k", "2 grand",
 * English number words ("fifteen hundred"), a currency symbol, code or word on either side.
 * It is one linear pass over a bounded input (the caller rejects longer text), so hostile
 * model output costs no more than its length.
 */

/** Longer text is not read at all: the caller treats it as a problem. */
export const MAX_MONEY_TEXT = 20_000;

/** A number as an exact decimal: units / 10^scale (so 1250.5 is 12505n / 10^1). */
export interface ExactAmount {
  units: bigint;
  scale: number;
}

export interface AmountMention {
  /** The text as normalised (ASCII digits), for messages. */
  text: string;
  index: number;
  /** Every value the notation may mean ("1.250" is 1.25 or 1250); empty when it is unreadable. */
  values: ExactAmount[];
  /** ISO code for an explicit currency marker, 'XXX' for a symbol we cannot name, null for none. */
  currency: string | null;
  /** A currency marker (symbol, code, currency word, "grand") is next to the number. */
  money: boolean;
  /** "50%", "fifty percent". */
  percent: boolean;
  /** "per video", "each", "x 3", "3 x", "a post" next to an amount of money. */
  multiplied: boolean;
  /** Digits written (0 for number words): a bare 3-digit number reads as an amount. */
  digits: number;
  /** A bare number that counts something (views, videos, days) or is a year. */
  counts: boolean;
}

type TokenKind = 'num' | 'word' | 'sym' | 'other';
interface Token {
  kind: TokenKind;
  text: string;
  lower: string;
  index: number;
  end: number;
}

// Numbers, words and currency symbols are tokens of their own; any other character ("%", "/", "×",
// punctuation) is a token of one character; whitespace only separates.
const TOKEN_RE = /(\d+(?:[.,]\d+)*)|([A-Za-z]+)|(\p{Sc})|(\s+)|([\s\S])/gu;
const GROUP_SEP_RE = /(?<=\p{Nd})[\u00A0\u2007\u2009\u202F'\u2019\u066C](?=\p{Nd})/gu;
const ARABIC_DECIMAL_RE = /(?<=\p{Nd})\u066B(?=\p{Nd})/gu;
const DIGIT_RE = /\p{Nd}/gu;

let digitMap: Map<string, string> | null = null;
/**
 * Every Unicode decimal digit to its ASCII digit. Unicode guarantees decimal digits are encoded
 * in contiguous runs of ten from zero, so a digit's value is its distance from its run's start.
 */
function digitsToAscii(): Map<string, string> {
  if (digitMap) return digitMap;
  const map = new Map<string, string>();
  const isDigit = /^\p{Nd}$/u;
  let runStart = -1;
  for (let cp = 0x80; cp <= 0x1fbff; cp++) {
    const ch = String.fromCodePoint(cp);
    if (!isDigit.test(ch)) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = cp;
    map.set(ch, String((cp - runStart) % 10));
  }
  digitMap = map;
  return map;
}

/** The text in the form the reader scans: separators between digits unified, NFKC, ASCII digits. */
export function normalizeMoneyText(text: string): string {
  const map = digitsToAscii();
  return text
    .replace(ARABIC_DECIMAL_RE, '.')
    .replace(GROUP_SEP_RE, ',')
    .normalize('NFKC')
    .replace(DIGIT_RE, (d) => map.get(d) ?? d);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const m of text.matchAll(TOKEN_RE)) {
    if (m[4] !== undefined) continue;
    const kind: TokenKind = m[1] !== undefined ? 'num' : m[2] !== undefined ? 'word' : m[3] !== undefined ? 'sym' : 'other';
    tokens.push({ kind, text: m[0], lower: m[0].toLowerCase(), index: m.index, end: m.index + m[0].length });
  }
  return tokens;
}

const pow10 = (n: number) => 10n ** BigInt(n);
const exact = (whole: string, frac = ''): ExactAmount => ({ units: BigInt(`${whole}${frac}`), scale: frac.length });

/**
 * The values a digit string may mean. Commas group thousands ("1,250", "1,250.50"); dots group
 * them the European way ("1.250.000", "1.250,50"); "1.250" alone is either; anything else that
 * is not plain digits with one decimal mark is unreadable (no values).
 */
export function numberValues(s: string): ExactAmount[] {
  if (s.length > 40) return [];
  if (/^\d+$/.test(s)) return [exact(s)];
  let m = /^(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?$/.exec(s);
  if (m) return [exact((m[1] ?? '').replace(/,/g, ''), m[2])];
  m = /^(\d{1,3}(?:\.\d{3})+),(\d+)$/.exec(s);
  if (m) return [exact((m[1] ?? '').replace(/\./g, ''), m[2])];
  m = /^(\d{1,3})\.(\d{3})$/.exec(s);
  if (m) return [exact(m[1] ?? '', m[2]), exact(`${m[1] ?? ''}${m[2] ?? ''}`)];
  if (/^\d{1,3}(?:\.\d{3}){2,}$/.test(s)) return [exact(s.replace(/\./g, ''))];
  m = /^(\d+)[.,](\d+)$/.exec(s);
  if (m) return [exact(m[1] ?? '', m[2])];
  return [];
}

const UNITS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
  twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};
const SCALES: Record<string, number> = { thousand: 1_000, grand: 1_000, million: 1_000_000, billion: 1_000_000_000 };
/** Scales glued to digits: "1.5k", "2m", "3bn". */
const SUFFIX_SCALES: Record<string, number> = { k: 1_000, m: 1_000_000, mm: 1_000_000, mn: 1_000_000, b: 1_000_000_000, bn: 1_000_000_000 };

const SYMBOLS: Record<string, string> = { $: 'USD', '€': 'EUR', '£': 'GBP', '¥': 'JPY', '₹': 'INR', '₩': 'KRW', '₪': 'ILS', '₺': 'TRY', '₽': 'RUB', '฿': 'THB', '₱': 'PHP', '₫': 'VND', '₦': 'NGN' };
/** Letters written before "$": "US$", "C$", "A$". */
const DOLLAR_PREFIXES: Record<string, string> = { us: 'USD', c: 'CAD', ca: 'CAD', a: 'AUD', au: 'AUD', nz: 'NZD', hk: 'HKD', s: 'SGD', sg: 'SGD', r: 'BRL', mx: 'MXN' };
const CURRENCY_WORDS: Record<string, string> = {
  dollar: 'USD', dollars: 'USD', buck: 'USD', bucks: 'USD', euro: 'EUR', euros: 'EUR', pound: 'GBP', pounds: 'GBP', quid: 'GBP',
  yen: 'JPY', rupee: 'INR', rupees: 'INR', franc: 'CHF', francs: 'CHF', cent: 'XXX', cents: 'XXX', pence: 'GBP',
};
const CODES = new Set<string>(KNOWN_CURRENCIES.map((c) => c.toLowerCase()));
const PERCENT_WORDS = new Set(['percent', 'pct', 'percentage']);
/** What a bare number may count without being money. */
const COUNTED = new Set([
  'view', 'views', 'follower', 'followers', 'subscriber', 'subscribers', 'sub', 'subs', 'impression', 'impressions', 'play', 'plays', 'like', 'likes',
  'video', 'videos', 'reel', 'reels', 'post', 'posts', 'story', 'stories', 'stream', 'streams', 'mention', 'mentions', 'integration', 'integrations',
  'short', 'shorts', 'day', 'days', 'week', 'weeks', 'month', 'months', 'hour', 'hours', 'minute', 'minutes', 'second', 'seconds', 'round', 'rounds',
  'year', 'years', 'word', 'words', 'comment', 'comments', 'share', 'shares', 'average', 'monthly', 'weekly', 'daily', 'deliverable', 'deliverables',
  'tiktok', 'tiktoks', 'photo', 'photos', 'image', 'images', 'piece', 'pieces', 'listener', 'listeners', 'viewer', 'viewers', 'reader', 'readers',
]);
/** Units a price may be quoted per ("$500 a video", "$500 per post"). */
const PER_UNIT = new Set([...COUNTED].filter((w) => !['average', 'monthly', 'weekly', 'daily'].includes(w)));
const MULTIPLY_OPS = new Set(['x', '×', '*', 'times']);

interface Quantity {
  first: number;
  last: number;
  values: ExactAmount[];
  digits: number;
  impliesMoney: boolean;
  plainYear: boolean;
}

/** Own keys only: a model writing "constructor" must not find Object.prototype. */
const own = <T>(record: Record<string, T>, key: string): T | undefined => (Object.hasOwn(record, key) ? record[key] : undefined);

const scaleBy = (values: ExactAmount[], factor: number): ExactAmount[] => values.map((v) => ({ units: v.units * BigInt(factor), scale: v.scale }));

/** A number written in digits at token i, with a scale after it ("1.5k", "2 grand", "15 hundred"). */
function digitQuantity(tokens: Token[], i: number): Quantity {
  const t = tokens[i] as Token;
  let values = numberValues(t.text);
  let last = i;
  let impliesMoney = false;
  const next = tokens[i + 1];
  if (next?.kind === 'word') {
    const glued = next.index === t.end;
    const suffix = glued ? own(SUFFIX_SCALES, next.lower) : undefined;
    const word = own(SCALES, next.lower) ?? (next.lower === 'hundred' ? 100 : undefined);
    const factor = suffix ?? word;
    if (factor !== undefined) {
      values = scaleBy(values, factor);
      last = i + 1;
      impliesMoney = next.lower === 'grand';
    }
  }
  return { first: i, last, values, digits: t.text.replace(/\D/g, '').length, impliesMoney, plainYear: last === i && /^(?:19|20)\d{2}$/.test(t.text) };
}

/**
 * English number words from token i: "two thousand five hundred and fifty", "fifteen hundred",
 * "twenty-five", "a thousand", "a grand". Null when token i does not start one.
 */
function wordQuantity(tokens: Token[], i: number): Quantity | null {
  const start = tokens[i] as Token;
  let j = i;
  if (start.lower === 'a' || start.lower === 'an') {
    const next = tokens[i + 1]?.lower ?? '';
    if (own(SCALES, next) === undefined && next !== 'hundred') return null;
    j = i + 1;
  } else if (own(UNITS, start.lower) === undefined) {
    return null;
  }
  let total = 0;
  // "a thousand": the scale after "a" or "an" counts one (`current || 1` below).
  let current = 0;
  let last = i;
  let impliesMoney = false;
  for (; j < tokens.length; j++) {
    const t = tokens[j] as Token;
    const unit = own(UNITS, t.lower);
    const scale = own(SCALES, t.lower);
    if (unit !== undefined) {
      current += unit;
    } else if (t.lower === 'hundred') {
      current = (current || 1) * 100;
    } else if (scale !== undefined) {
      total += (current || 1) * scale;
      current = 0;
      impliesMoney ||= t.lower === 'grand';
    } else if ((t.lower === 'and' || t.text === '-') && own(UNITS, tokens[j + 1]?.lower ?? '') !== undefined) {
      continue;
    } else {
      break;
    }
    last = j;
  }
  return { first: i, last, values: [{ units: BigInt(total + current), scale: 0 }], digits: 0, impliesMoney, plainYear: false };
}

/** The currency marker right before token `first` (and where it starts), if any. */
function markerBefore(tokens: Token[], first: number): { currency: string; at: number } | null {
  const prev = tokens[first - 1];
  if (!prev) return null;
  if (prev.kind === 'sym') {
    const before = tokens[first - 2];
    const prefixed = prev.text === '$' && before?.kind === 'word' && before.end === prev.index ? own(DOLLAR_PREFIXES, before.lower) : undefined;
    if (prefixed !== undefined) return { currency: prefixed, at: first - 2 };
    const code = before?.kind === 'word' && CODES.has(before.lower) ? before.text.toUpperCase() : null;
    const currency = own(SYMBOLS, prev.text) ?? 'XXX';
    // "USD $500" names the currency twice; a clash ("EUR $500") is another currency.
    return { currency: code !== null && code !== currency ? 'XXX' : currency, at: code !== null ? first - 2 : first - 1 };
  }
  if (CODES.has(prev.lower)) return { currency: prev.text.toUpperCase(), at: first - 1 };
  return null;
}

function markerAfter(tokens: Token[], last: number): { currency: string; at: number } | null {
  const next = tokens[last + 1];
  if (!next) return null;
  if (next.kind === 'sym') return { currency: own(SYMBOLS, next.text) ?? 'XXX', at: last + 1 };
  if (CODES.has(next.lower)) return { currency: next.text.toUpperCase(), at: last + 1 };
  const named = own(CURRENCY_WORDS, next.lower);
  return named === undefined ? null : { currency: named, at: last + 1 };
}

function isPercent(tokens: Token[], last: number): boolean {
  const next = tokens[last + 1];
  if (!next) return false;
  if (next.text === '%' || PERCENT_WORDS.has(next.lower)) return true;
  return next.lower === 'per' && tokens[last + 2]?.lower === 'cent';
}

/** "per video", "each", "apiece", "/post", "x 3", "a reel" after; "3 x", "each" before. */
function isMultiplied(tokens: Token[], from: number, to: number): boolean {
  for (let k = to + 1; k <= to + 3 && k < tokens.length; k++) {
    const t = tokens[k] as Token;
    if (t.lower === 'per' || t.lower === 'each' || t.lower === 'apiece' || t.text === '/' || MULTIPLY_OPS.has(t.lower)) return true;
    if (k === to + 1 && (t.lower === 'a' || t.lower === 'an') && PER_UNIT.has(tokens[k + 1]?.lower ?? '')) return true;
    if (t.kind === 'num' || t.kind === 'sym' || t.text === '.' || t.text === ';') break;
  }
  for (let k = from - 1; k >= from - 3 && k >= 0; k--) {
    const t = tokens[k] as Token;
    if (t.lower === 'each' || t.lower === 'per' || MULTIPLY_OPS.has(t.lower)) return true;
    if (t.text === '.' || t.text === ';') break;
  }
  return false;
}

/** Every number in `text` (already bounded by the caller), read as described above. */
export function readAmounts(text: string): AmountMention[] {
  const normalized = normalizeMoneyText(text);
  const tokens = tokenize(normalized);
  const found: AmountMention[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const q = t.kind === 'num' ? digitQuantity(tokens, i) : wordQuantity(tokens, i);
    if (q === null) continue;
    const before = markerBefore(tokens, q.first);
    const after = markerAfter(tokens, q.last);
    const marker = before ?? after;
    const currency = before && after && before.currency !== after.currency ? 'XXX' : (marker?.currency ?? null);
    const money = marker !== null || q.impliesMoney;
    const first = before?.at ?? q.first;
    const last = after?.at ?? q.last;
    const nextWord = tokens[last + 1]?.lower ?? '';
    found.push({
      text: normalized.slice((tokens[first] as Token).index, (tokens[last] as Token).end),
      index: (tokens[first] as Token).index,
      values: q.values,
      currency,
      money,
      percent: isPercent(tokens, last),
      multiplied: money && isMultiplied(tokens, first, last),
      digits: q.digits,
      counts: !money && (q.plainYear || COUNTED.has(nextWord)),
    });
    i = last;
  }
  return found;
}

/** Whether an exact value is `minor` minor units of a currency with `exponent` minor digits. */
export function equalsMinor(v: ExactAmount, minor: number, exponent: number): boolean {
  return v.units * pow10(exponent) === BigInt(minor) * pow10(v.scale);
}
