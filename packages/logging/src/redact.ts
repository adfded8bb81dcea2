/**
 * Log redaction: email bodies, full addresses and credentials never reach a log line.
 * Applied to every log record (message and metadata, recursively) by the logger's format.
 */

const SECRET_KEYS = /^(authorization|cookie|set-cookie|password|secret|token|access_?token|refresh_?token|id_?token|api_?key|x-api-key|client_?secret|signature|x-signature|private_?key|raw|body|text|html|content|snippet|data)$/i;
const EMAIL = /([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
const TOKEN_PATTERNS: RegExp[] = [
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\bBasic\s+[A-Za-z0-9+/=]{8,}/gi,
  /\bxox[abpr]-[A-Za-z0-9-]+/g,
  /\bxapp-[A-Za-z0-9-]+/g,
  /\bsk-ant-[A-Za-z0-9_-]+/g,
  /\bpk_[A-Za-z0-9_]+/g,
  /\bya29\.[A-Za-z0-9._-]+/g,
  /\b1\/\/[A-Za-z0-9._-]{10,}/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
];

export const REDACTED = '[redacted]';

/** Replaces addresses with their domain and credentials with a marker. */
export function redactString(value: string): string {
  let out = value.replace(EMAIL, (_m, _local: string, domain: string) => `***@${domain}`);
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  return out;
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
  return at >= 0 ? address.slice(at + 1).replace(/>.*$/, '').toLowerCase() : 'unknown';
}
