import { findMoneyAmounts } from '@parley/domain';

/**
 * The sandbox's stand-in for the model's `read_reply`: a deterministic reading of the
 * influencer's messages by phrases, so tests and the demo get the same answer every time.
 * It recognises the phrasings the simulated influencers use and a little more.
 */
export interface ReplyReadout {
  intent: 'accept' | 'counter' | 'decline' | 'question' | 'out_of_office' | 'unclear';
  asked_rate: number | null;
  currency: string | null;
  hostile: boolean;
  reason: string;
}

const OUT_OF_OFFICE = /out of (the )?office|auto-?reply|automatic reply/i;
const DECLINE = /not interested|pass on this|\bdeclin(e|ing)\b/i;
const ACCEPT = /\baccept|works for me|\bdeal\b|sounds good|\bagreed?\b/i;
// "can't accept", "not acceptable", "no deal": the accept word is there, the acceptance is not.
const NEGATED_ACCEPT = /\b(can't|cannot|can not|won't|will not|don't|do not|not|no)\s+(accept|agree|deal)/i;
const HOSTILE = /stop (emailing|contacting|messaging|spamming|writing)|leave me alone|\b(idiots?|stupid|moron|scam(mer)?s?|spammers?|pathetic|shut up|f+u+c+k\w*)\b/i;

/** The <reply> blocks of a prompt, in order, with the escaping undone. */
export function extractReplyBlocks(prompt: string): string[] {
  return [...prompt.matchAll(/<reply>([\s\S]*?)<\/reply>/g)].map((m) => unescapeTags((m[1] ?? '').trim()));
}

function unescapeTags(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The writer's own words: stops at the signature or the quoted original, skips quoted lines. */
export function ownWords(text: string): string {
  const own: string[] = [];
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    const t = line.trim();
    if (line === '-- ' || t === '--' || /^On .*wrote:$/.test(t) || /^-{2,}\s*(Original|Forwarded) message/i.test(t)) break;
    if (t.startsWith('>')) continue;
    own.push(line);
  }
  return own.join('\n').trim();
}

export function readOneReply(raw: string): ReplyReadout {
  const text = ownWords(raw);
  const hostile = HOSTILE.test(text);
  const amount = findMoneyAmounts(text).at(-1) ?? null;
  const money = { asked_rate: amount?.major ?? null, currency: amount?.currency ?? null };
  const none = { asked_rate: null, currency: null };
  if (OUT_OF_OFFICE.test(text)) return { intent: 'out_of_office', ...none, hostile, reason: 'an out-of-office notice' };
  if (DECLINE.test(text)) return { intent: 'decline', ...none, hostile, reason: 'they are not interested' };
  if (ACCEPT.test(text) && !NEGATED_ACCEPT.test(text)) {
    return { intent: 'accept', ...money, hostile, reason: amount ? `they accept ${amount.text}` : 'they accept our offer' };
  }
  if (amount) return { intent: 'counter', ...money, hostile, reason: `they ask for ${amount.text}` };
  if (text.includes('?')) return { intent: 'question', ...none, hostile, reason: 'they ask a question' };
  return { intent: 'unclear', ...none, hostile, reason: hostile ? 'a hostile reply' : 'nothing recognisable' };
}

/**
 * Several unanswered messages: the latest one that says something wins; an out-of-office
 * notice only when nothing else was said; hostile if any message is.
 */
export function readReplies(messages: readonly string[]): ReplyReadout {
  const readings = messages.map(readOneReply);
  const hostile = readings.some((r) => r.hostile);
  const meaningful = readings.filter((r) => r.intent !== 'unclear' && r.intent !== 'out_of_office').at(-1);
  const chosen = meaningful ?? readings.filter((r) => r.intent === 'out_of_office').at(-1) ?? readings.at(-1);
  if (!chosen) return { intent: 'unclear', asked_rate: null, currency: null, hostile: false, reason: 'no reply to read' };
  return { ...chosen, hostile };
}
