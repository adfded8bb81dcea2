/**
 * The text a person actually wrote in a reply: quoted history, forwarded blocks and signatures
 * are removed so the reader (and the LLM) sees only the new words, never an older offer quoted
 * around them. One pass over the lines; nothing rescans the rest of the body per line, so the
 * work stays linear in the size of the (capped) body.
 */
import { MAIL_LIMITS } from './mail-limits';

const ATTRIBUTION = [
  // English, and the Romance languages whose verb ends the line: "On … wrote:", "Le … a écrit :".
  /^On\b.{0,400}\bwrote:\s{0,20}$/i,
  /^(Le|El|Il|Em)\b.{0,400}\b(a écrit|escribió|ha scritto|escreveu)\s{0,5}:?\s{0,20}$/i,
  // German, Dutch, Scandinavian: the verb comes before the sender ("Am … schrieb Brand <x@y>:").
  /^(Am|Op|Den)\b.{0,400}\b(schrieb|schreef|skrev)\b[^:]{0,400}:\s{0,20}$/i,
];
const FORWARD = [/^-{2,}\s*(Original Message|Forwarded message)\s*-{2,}/i, /^Begin forwarded message:?\s*$/i, /^_{10,}\s*$/];
const SIGNATURE = [/^--$/, /^Sent from my\b/i, /^Get Outlook for\b/i, /^Sent from (Mail|Yahoo Mail|Outlook)\b/i];

/** For each line, the index of the next non-empty line after it (lines.length when none): one backward pass. */
function nextNonEmpty(lines: string[]): number[] {
  const next = new Array<number>(lines.length);
  let after = lines.length;
  for (let i = lines.length - 1; i >= 0; i--) {
    next[i] = after;
    if ((lines[i] ?? '').trim() !== '') after = i;
  }
  return next;
}

/** How many lines (1-3) an attribution starting at line i spans, possibly wrapped by the sender's client; 0 when it is none. */
function attributionSpan(lines: string[], i: number, next: number[]): number {
  const first = lines[i]?.trim() ?? '';
  if (first === '' || first.length > MAIL_LIMITS.attributionLineChars) return 0;
  let joined = '';
  for (let span = 1; span <= 3 && i + span <= lines.length; span++) {
    const line = lines[i + span - 1]?.trim() ?? '';
    if (line.length > MAIL_LIMITS.attributionLineChars) break;
    joined = span === 1 ? line : `${joined} ${line}`;
    if (ATTRIBUTION.some((re) => re.test(joined))) return span;
  }
  // "Someone <a@b> wrote:" directly above quoted lines, in any wording that ends with "wrote:".
  if (/\bwrote:\s{0,20}$/i.test(first) && (lines[next[i] ?? lines.length] ?? '').trimStart().startsWith('>')) return 1;
  return 0;
}

/** Outlook's plain-text reply header: "From: …" followed closely by "Sent:"/"Date:" and "To:"/"Subject:". */
function isOutlookHeader(lines: string[], i: number): boolean {
  if (!/^\*?From:\*?\s/i.test(lines[i]?.trim() ?? '')) return false;
  const next = lines.slice(i + 1, i + 5).map((l) => l.trim());
  return next.some((l) => /^\*?(Sent|Date):\*?\s/i.test(l)) && next.some((l) => /^\*?(To|Subject):\*?\s/i.test(l));
}

export function extractReplyText(plain: string): string {
  const lines = plain.replace(/\r\n?/g, '\n').split('\n');
  const next = nextNonEmpty(lines);
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const trimmed = line.trim();
    // Quoted lines go, but text written between them (inline answers) stays.
    if (trimmed.startsWith('>')) continue;
    const span = attributionSpan(lines, i, next);
    if (span > 0) {
      const after = lines[next[i + span - 1] ?? lines.length] ?? '';
      // An attribution above a quote: the quote is skipped line by line, and what follows it
      // (a bottom-posted or inline answer) is kept. Above unquoted history: the reply ends here.
      if (after.trimStart().startsWith('>')) {
        i += span - 1;
        continue;
      }
      break;
    }
    if (FORWARD.some((re) => re.test(trimmed)) || isOutlookHeader(lines, i)) break;
    if (SIGNATURE.some((re) => re.test(trimmed))) break;
    kept.push(line.trimEnd());
  }
  const text = kept
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  // A message that is nothing but a forward or a quote still says something; keep it whole.
  return text === '' ? plain.replace(/\r\n?/g, '\n').trim() : text;
}
