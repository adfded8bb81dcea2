import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@parley/logging';

/** A real winston logger (redaction included) whose JSON lines the test can read back. */
export function capturingLogger(service: string, level = 'debug'): { log: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger({ service, level, stream }), lines, text: () => lines.map((l) => `${l}\n`).join('') };
}

/** What must never appear in a process's output or in anything sent to Sentry. */
export interface PrivateData {
  /** Full addresses (their domains alone may appear). */
  addresses: string[];
  /** Email text, as sentences (a log may name a price, not quote a sentence). */
  sentences: string[];
  /** Credentials: API keys, refresh and access tokens, webhook secrets, admin tokens. */
  secrets: string[];
  /** Credentials recognised by shape (e.g. access tokens issued during the run). */
  patterns?: RegExp[];
}

export interface Leak {
  source: string;
  kind: 'address' | 'sentence' | 'secret';
  /** The start of what leaked (enough to find it; the report itself stays short). */
  what: string;
  /** The line it was found on, cut to 300 characters. */
  line: string;
}

// Short fragments ("Hi Jane,", "Thanks!") occur in any text; only real sentences count.
const MIN_SENTENCE_CHARS = 24;
const MIN_SENTENCE_WORDS = 4;

/** The sentences of an email's text (quoted lines included, quote marks dropped). */
export function emailSentences(text: string): string[] {
  const out = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^[\s>]+/, '').trim();
    for (const part of line.split(/(?<=[.!?])\s+/)) {
      const sentence = part.trim();
      if (sentence.length >= MIN_SENTENCE_CHARS && sentence.split(/\s+/).length >= MIN_SENTENCE_WORDS) out.add(sentence);
    }
  }
  return [...out];
}

/** The bare address in `Name <a@b>` or `a@b`, lower-cased; null when there is none. */
export function bareAddress(value: string): string | null {
  return /([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})/.exec(value)?.[1]?.toLowerCase() ?? null;
}

/**
 * Finds every private datum in the given texts (process logs, Sentry envelopes), case
 * insensitively, as written or JSON-escaped (log lines and envelopes are JSON).
 */
export function findLeaks(texts: Record<string, string>, data: PrivateData): Leak[] {
  const needles: { kind: Leak['kind']; value: string }[] = [
    ...data.addresses.map((value) => ({ kind: 'address' as const, value })),
    ...data.sentences.map((value) => ({ kind: 'sentence' as const, value })),
    ...data.secrets.filter((s) => s.length >= 8).map((value) => ({ kind: 'secret' as const, value })),
  ];
  const leaks: Leak[] = [];
  for (const [source, text] of Object.entries(texts)) {
    const lower = text.toLowerCase();
    const lineAt = (index: number) => text.slice(text.lastIndexOf('\n', index) + 1, text.indexOf('\n', index) >= 0 ? text.indexOf('\n', index) : undefined).slice(0, 300);
    for (const needle of needles) {
      for (const form of new Set([needle.value, JSON.stringify(needle.value).slice(1, -1)])) {
        const at = lower.indexOf(form.toLowerCase());
        if (at >= 0) {
          leaks.push({ source, kind: needle.kind, what: needle.value.slice(0, 40), line: lineAt(at) });
          break;
        }
      }
    }
    for (const pattern of data.patterns ?? []) {
      const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(text);
      if (match) leaks.push({ source, kind: 'secret', what: match[0].slice(0, 40), line: lineAt(match.index) });
    }
  }
  return leaks;
}

/** A failure message listing the leaks, one per line. */
export function describeLeaks(leaks: Leak[]): string {
  return `${leaks.length} private value(s) reached logs or Sentry:\n${leaks.map((l) => `  ${l.source}: ${l.kind} "${l.what}" in: ${l.line}`).join('\n')}`;
}
