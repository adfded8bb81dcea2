import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Compares equal-length digests, so neither a secret's length nor its content leaks through timing. */
export function secretMatches(expected: string, given: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** `Authorization: Bearer <token>` carrying exactly `expected` (compared in constant time). */
export function bearerMatches(expected: string, header: string | undefined): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1] !== undefined && secretMatches(expected, match[1]);
}

/** What the refusal of a weak bearer secret tells the operator to do instead. */
export const SECRET_HINT = 'generate one with: openssl rand -hex 32';

export const MIN_SECRET_LENGTH = 24;

// Words people type when a value "will be changed later". A random hex or base64 value
// contains one of these with a probability in the order of 1e-6.
const PLACEHOLDER = /change|example|token|secret|passw|admin|test|default|placeholder|dummy|sample|letmein|qwerty|replace|todo|fixme/i;

/** Longest run of characters each one code point above (or below) the previous: `abcdef`, `987654`. */
function longestSequence(value: string): number {
  let longest = 1;
  let up = 1;
  let down = 1;
  for (let i = 1; i < value.length; i += 1) {
    const step = value.charCodeAt(i) - value.charCodeAt(i - 1);
    up = step === 1 ? up + 1 : 1;
    down = step === -1 ? down + 1 : 1;
    longest = Math.max(longest, up, down);
  }
  return longest;
}

/** Shannon entropy of the value's own character distribution, in bits for the whole value. */
function estimatedBits(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * value.length;
}

/**
 * Why a bearer secret (ADMIN_TOKEN, METRICS_TOKEN) does not look random, or undefined when it
 * does. The checks are heuristics against typed values, not a proof of randomness: 12 random
 * bytes in hex (24 characters, ~80 bits by this estimate) pass with overwhelming probability,
 * while placeholders, words and patterns do not. Linear in the value's length.
 */
export function weakSecretReason(value: string): string | undefined {
  if (value.length < MIN_SECRET_LENGTH) return `is shorter than ${MIN_SECRET_LENGTH} characters`;
  if (/\s/.test(value)) return 'contains whitespace';
  if (PLACEHOLDER.test(value)) return 'looks like a placeholder or a word';
  if (/(.)\1{6}/.test(value)) return 'repeats one character';
  if (longestSequence(value) >= 7) return 'contains a keyboard or alphabet run';
  if (/^(.{1,32}?)\1+$/.test(value)) return 'repeats a short pattern';
  if (new Set(value).size < 8 || estimatedBits(value) < 56) return 'has too little entropy';
  return undefined;
}
