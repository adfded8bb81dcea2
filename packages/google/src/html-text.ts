/**
 * HTML to plain text in one linear pass over tokens. Email HTML is hostile input: a tag regex
 * like `<[^>]+>` backtracks quadratically on a run of "<", and a greedy blockquote regex
 * removes the answer a person wrote between two quotes. Here a "<" that opens no tag before
 * the next "<" is text, quotes are tracked by nesting depth, and head/style/script content is
 * skipped up to its own end tag.
 */

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const SKIPPED = new Set(['head', 'style', 'script', 'title']);
const LINE_BREAK_AFTER = new Set(['p', 'div', 'li', 'tr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

/** A numeric character reference to its character; a code point outside Unicode (or a surrogate) is U+FFFD. */
function numericEntity(entity: string): string | null {
  const hex = entity[1]?.toLowerCase() === 'x';
  const digits = hex ? entity.slice(2) : entity.slice(1);
  if (digits === '' || digits.length > 8) return '\uFFFD';
  const code = parseInt(digits, hex ? 16 : 10);
  if (!Number.isFinite(code)) return null;
  if (code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
  return String.fromCodePoint(code);
}

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,16}|#[0-9]{1,16}|[a-z]{1,10});/gi, (whole, entity: string) => {
    if (entity.startsWith('#')) return numericEntity(entity) ?? whole;
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

/** HTML to plain text for messages without a text part; quoted history (blockquotes, Gmail's quote block) is dropped. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  let quoteDepth = 0;
  let skipping: string | null = null;
  // Depth of divs inside Gmail's <div class="gmail_quote"> (attribution + quote): 0 when outside it.
  let gmailQuote = 0;
  // A tag, a run of text, or a lone "<" (text). `[^<>]*` stops at the next "<", so no position is rescanned.
  const token = /<[^<>]*>|[^<]+|</g;
  for (let m = token.exec(html); m !== null; m = token.exec(html)) {
    const piece = m[0];
    const isTag = piece.length > 1 && piece.startsWith('<') && piece.endsWith('>');
    if (!isTag) {
      if (skipping === null && quoteDepth === 0 && gmailQuote === 0) out.push(piece);
      continue;
    }
    const tag = /^<\s*(\/?)\s*([a-zA-Z][a-zA-Z0-9]*)/.exec(piece);
    if (!tag) continue;
    const closing = tag[1] === '/';
    const name = (tag[2] ?? '').toLowerCase();
    if (skipping !== null) {
      if (closing && name === skipping) skipping = null;
      continue;
    }
    if (SKIPPED.has(name) && !closing && !piece.endsWith('/>')) {
      skipping = name;
      continue;
    }
    if (name === 'blockquote') {
      quoteDepth = closing ? Math.max(0, quoteDepth - 1) : quoteDepth + 1;
      continue;
    }
    if (name === 'div' && gmailQuote > 0) {
      gmailQuote += closing ? -1 : 1;
      continue;
    }
    // Gmail wraps the attribution and the quote in <div class="gmail_quote">: history up to its end tag.
    if (name === 'div' && !closing && piece.toLowerCase().includes('gmail_quote')) {
      gmailQuote = 1;
      continue;
    }
    if (quoteDepth > 0 || gmailQuote > 0) continue;
    if (name === 'br' || (closing && LINE_BREAK_AFTER.has(name))) out.push('\n');
  }
  return decodeEntities(out.join(''));
}
