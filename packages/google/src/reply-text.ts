/**
 * The text a person actually wrote in a reply: quoted history, forwarded blocks and signatures
 * are removed so the reader (and the LLM) sees only the new words, never an older offer quoted
 * below them.
 */

const ATTRIBUTION = [
  /^On\b.{0,400}\bwrote:\s*$/i,
  /^(Le|El|Am|Il|Op|Em|Den)\b.{0,400}\b(a écrit|escribió|schrieb|ha scritto|schreef|escreveu|skrev)\s*:?\s*$/i,
];
const FORWARD = [/^-{2,}\s*(Original Message|Forwarded message)\s*-{2,}/i, /^Begin forwarded message:?\s*$/i, /^_{10,}\s*$/];
const SIGNATURE = [/^--\s*$/, /^Sent from my\b/i, /^Get Outlook for\b/i, /^Sent from (Mail|Yahoo Mail|Outlook)\b/i];

/** An attribution line, possibly wrapped over up to three lines by the sender's client. */
function isAttribution(lines: string[], i: number): boolean {
  const first = lines[i]?.trim() ?? '';
  if (first === '') return false;
  for (let span = 1; span <= 3 && i + span <= lines.length; span++) {
    const joined = lines
      .slice(i, i + span)
      .map((l) => l.trim())
      .join(' ');
    if (ATTRIBUTION.some((re) => re.test(joined))) return true;
  }
  // "Someone <a@b> wrote:" directly above quoted lines, in any wording that ends with "wrote:".
  if (/\bwrote:\s*$/i.test(first)) {
    const next = lines.slice(i + 1).find((l) => l.trim() !== '');
    return next !== undefined && next.startsWith('>');
  }
  return false;
}

/** Outlook's plain-text reply header: "From: …" followed closely by "Sent:"/"Date:" and "To:"/"Subject:". */
function isOutlookHeader(lines: string[], i: number): boolean {
  if (!/^\*?From:\*?\s/i.test(lines[i]?.trim() ?? '')) return false;
  const next = lines.slice(i + 1, i + 5).map((l) => l.trim());
  return next.some((l) => /^\*?(Sent|Date):\*?\s/i.test(l)) && next.some((l) => /^\*?(To|Subject):\*?\s/i.test(l));
}

export function extractReplyText(plain: string): string {
  const lines = plain.replace(/\r\n?/g, '\n').split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const trimmed = line.trim();
    if (isAttribution(lines, i) || FORWARD.some((re) => re.test(trimmed)) || isOutlookHeader(lines, i)) break;
    if (SIGNATURE.some((re) => re.test(line.trimEnd()) || re.test(trimmed))) break;
    // Quoted lines go, but text written between them (inline answers) stays.
    if (trimmed.startsWith('>')) continue;
    kept.push(line.trimEnd());
  }
  const text = kept
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  // A message that is nothing but a forward or a quote still says something; keep it whole.
  return text === '' ? plain.replace(/\r\n?/g, '\n').trim() : text;
}
