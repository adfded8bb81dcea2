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
