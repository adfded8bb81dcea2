/**
 * Log redaction: email bodies, full addresses and credentials never reach a log line.
 * Applied to every log record (message and metadata, recursively) by the logger's format.
 */

const SECRET_KEYS = /^(authorization|cookie|set-cookie|password|secret|token|access_?token|refresh_?token|id_?token|api_?key|x-api-key|client_?secret|signature|x-signature|private_?key|raw|body|text|html|content|snippet|data)$/i;
const TOKEN_PATTERNS: RegExp[] = [
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\bBasic\s+[A-Za-z0-9+/=]{8,}/gi,
  /\bxox[abpr]-[A-Za-z0-9-]+/g,
  /\bxapp-[A-Za-z0-9-]+/g,
  /\bsk-ant-[A-Za-z0-9_-]+/g,
  /\bpk_[A-Za-z0-9_]+/g,
  /\bya29\.[A-Za-z0-9._-]+/g,
  /\b1\/\/[A-Za-z0-9._-]{10,}/g,
];

export const REDACTED = '[redacted]';

const LOCAL_CHAR = /[A-Za-z0-9._%+-]/;
const DOMAIN_CHAR = /[A-Za-z0-9.-]/;
const LETTER = /[A-Za-z]/;

/**
 * Replaces each `local@domain.tld` with `***@domain.tld`, as the regex
 * `([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})` would, but in linear time: that regex
 * backtracks quadratically on a long run without "@" (200 KB of letters took 40 s), and subjects
 * and error messages written by strangers pass through here. Each "@" looks left over its run of
 * local characters (never past the previous match) and right over its run of domain characters.
 */
function redactEmails(value: string): string {
  let out = '';
  let copied = 0;
  for (let at = value.indexOf('@'); at >= 0; at = value.indexOf('@', at + 1)) {
    let start = at;
    while (start > copied && LOCAL_CHAR.test(value[start - 1] ?? '')) start -= 1;
    if (start === at) continue;
    let runEnd = at + 1;
    while (runEnd < value.length && DOMAIN_CHAR.test(value[runEnd] ?? '')) runEnd += 1;
    // The greedy domain gives back characters until it ends in "." and two letters or more:
    // the last dot in the run that has one character before it and two letters after it.
    let end = -1;
    // Only within the run: lastIndexOf would scan back past it, to the start of the text, for every "@".
    for (let dot = runEnd - 1; dot > at + 1; dot--) {
      if (value[dot] !== '.') continue;
      let letters = dot + 1;
      while (letters < runEnd && LETTER.test(value[letters] ?? '')) letters += 1;
      if (letters - dot - 1 >= 2) {
        end = letters;
        break;
      }
    }
    if (end < 0) continue;
    out += `${value.slice(copied, start)}***@${value.slice(at + 1, end)}`;
    copied = end;
    at = end - 1;
  }
  return copied === 0 ? value : out + value.slice(copied);
}

/** The first "eyJ" in a segment that starts on a word boundary (segment start, or after "-"), or -1. */
function jwtStart(segment: string): number {
  for (let p = segment.indexOf('eyJ'); p >= 0; p = segment.indexOf('eyJ', p + 1)) {
    if (p === 0 || segment[p - 1] === '-') return p;
  }
  return -1;
}

/** A character of a JWT run: base64url letters and digits, "_", "-", and "." between segments. */
function isJwtChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || // a-z
    (code >= 65 && code <= 90) || // A-Z
    (code >= 48 && code <= 57) || // 0-9
    code === 95 || // _
    code === 46 || // .
    code === 45 // -
  );
}

/** One maximal run of JWT characters, split on "." once, its segments checked in order. */
function redactJwtRun(run: string): string {
  if (!run.includes('eyJ')) return run;
  const segments = run.split('.');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    const p = jwtStart(segment);
    const payload = segments[i + 1];
    if (p >= 0 && segment.length - p - 3 >= 5 && payload !== undefined && payload.length >= 5 && segments[i + 2] !== undefined) {
      out.push(`${segment.slice(0, p)}${REDACTED}`);
      i += 2;
    } else out.push(segment);
  }
  return out.join('.');
}

/**
 * JWTs (`eyJ<5+>.<5+>.<any>` in base64url). The regex form re-scans the rest of a base64url run
 * from every "eyJ" in it (quadratic on "eyJ-eyJ-…"); here each maximal run of JWT characters is
 * found by a scan (a `[A-Za-z0-9_.-]+` regex over a run of megabytes overflows V8's backtrack
 * stack and throws) and handled once.
 */
function redactJwts(value: string): string {
  if (!value.includes('eyJ')) return value;
  const parts: string[] = [];
  let i = 0;
  while (i < value.length) {
    let start = i;
    while (start < value.length && !isJwtChar(value.charCodeAt(start))) start++;
    let end = start;
    while (end < value.length && isJwtChar(value.charCodeAt(end))) end++;
    parts.push(value.slice(i, start), redactJwtRun(value.slice(start, end)));
    i = end;
  }
  return parts.join('');
}

/** Replaces addresses with their domain and credentials with a marker. */
export function redactString(value: string): string {
  let out = redactEmails(value);
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  return redactJwts(out);
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEYS.test(key) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

/** The domain of an address, the only part of it that may be logged. */
export function emailDomain(address: string): string {
  const at = address.lastIndexOf('@');
  // Everything from the ">" on goes, line breaks included (a raw header may carry more lines).
  return at >= 0 ? address.slice(at + 1).replace(/>.*$/s, '').toLowerCase() : 'unknown';
}
