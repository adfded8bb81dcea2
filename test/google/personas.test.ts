import { buildMime } from '@parley/google';
import type { HistoryNotification } from '@parley/sandbox/google';
import { attachPersonas, type Persona, type PersonasHandle } from '@parley/sandbox/personas';
import { waitFor } from '../support/wait';
import { startGoogleHarness, type GoogleHarness } from './google.harness';

const DELAY_MS = 30;
const PERSONAS: Record<string, Persona> = {
  'ana@influencer.test': { kind: 'accepts', name: 'Ana Lopez' },
  'ben@influencer.test': { kind: 'counters', target: 1500 },
  'cy@influencer.test': { kind: 'greedy' },
  'dee@influencer.test': { kind: 'out_of_office' },
  'eli@influencer.test': { kind: 'silent' },
};

let h: GoogleHarness;
let personas: PersonasHandle;
let notifications: HistoryNotification[];
let counter = 0;

beforeEach(async () => {
  h = await startGoogleHarness({ mailbox: 'deals@brand.test' });
  notifications = [];
  h.sandbox.onHistory((n) => notifications.push(n));
  personas = attachPersonas(h.sandbox, { delayMs: DELAY_MS, personas: PERSONAS });
});
afterEach(async () => {
  personas.detach();
  await h.sandbox.close();
});

/** Sends an email as the agent does; returns its Gmail ids and Message-ID. */
async function agentSends(to: string, body: string, thread?: { threadId: string; subject: string; inReplyTo: string }) {
  counter += 1;
  const messageIdHdr = `<neg-${counter}@parley.brand.test>`;
  const subject = thread ? `Re: ${thread.subject}` : `Sponsored video ${counter}`;
  const sent = await h.gmail.send(
    buildMime({ from: 'Brand <deals@brand.test>', to, subject, body, messageIdHdr, inReplyTo: thread?.inReplyTo ?? null }),
    thread?.threadId,
  );
  return { ...sent, messageIdHdr, subject: thread?.subject ?? subject };
}

/** Waits until the thread holds `count` messages and returns the influencer's replies as the agent reads them. */
async function repliesIn(threadId: string, count: number) {
  await waitFor(`${count} messages in thread ${threadId}`, () => h.sandbox.messagesInThread(threadId).length >= count, 15_000, 10);
  const thread = await h.gmail.getThread(threadId);
  return thread.filter((m) => !m.labelIds.includes('SENT'));
}

describe('simulated influencers', () => {
  it('accepts: answers in the thread with the offer, threaded by In-Reply-To/References, and notifies', async () => {
    const offer = await agentSends('Ana <ana@influencer.test>', 'Hi Ana,\n\nWe can offer $1,250.00 for one video.\n\nBest');
    const [reply] = await repliesIn(offer.threadId, 2);
    expect(reply).toMatchObject({
      from: 'ana@influencer.test',
      subject: `Re: ${offer.subject}`,
      inReplyTo: offer.messageIdHdr,
      references: offer.messageIdHdr,
      labelIds: ['INBOX', 'UNREAD'],
      text: 'That works for me, happy to accept $1,250.00.',
    });
    const raw = h.sandbox.messagesInThread(offer.threadId)[1];
    expect(raw?.text).toContain('> We can offer $1,250.00');
    expect(raw?.from).toBe('"Ana Lopez" <ana@influencer.test>');
    const delivered = personas.replies()[0]?.delivered;
    expect(delivered?.id).toBe(reply?.id);
    expect(notifications).toEqual([{ emailAddress: 'deals@brand.test', historyId: delivered?.historyId }]);
    // The deal is done: a confirmation email gets no further answer.
    await agentSends('ana@influencer.test', 'Great, confirmed at $1,250.00.', { threadId: offer.threadId, subject: offer.subject, inReplyTo: reply?.messageIdHdr ?? '' });
    expect(personas.pending()).toBe(0);
  });

  it('counters: asks for the target while the offer is below it, then accepts the offer', async () => {
    const first = await agentSends('ben@influencer.test', 'Our offer is $1,000.00.');
    const [ask] = await repliesIn(first.threadId, 2);
    expect(ask?.text).toBe('Thanks for reaching out! My rate for this would be $1,500.00.');

    // The agent quotes the influencer below its own text; the persona reads only the new offer.
    const second = await agentSends('ben@influencer.test', `We can go to $1,200.00.\n\nOn Tue, Ben wrote:\n> My rate for this would be $1,500.00.`, {
      threadId: first.threadId,
      subject: first.subject,
      inReplyTo: ask?.messageIdHdr ?? '',
    });
    expect(second.threadId).toBe(first.threadId);
    const asks = await repliesIn(first.threadId, 4);
    expect(asks[1]?.text).toBe('Thanks for reaching out! My rate for this would be $1,500.00.');

    await agentSends('ben@influencer.test', 'Final: $1,600.00.', { threadId: first.threadId, subject: first.subject, inReplyTo: asks[1]?.messageIdHdr ?? '' });
    const all = await repliesIn(first.threadId, 6);
    expect(all[2]?.text).toBe('That works for me, happy to accept $1,600.00.');
  });

  it('greedy: always asks ten times the offer, answering each email once', async () => {
    const first = await agentSends('cy@influencer.test', 'We offer $800.00 per post.');
    const [ask] = await repliesIn(first.threadId, 2);
    expect(ask?.text).toBe('Thanks for reaching out! My rate for this would be $8,000.00.');
    await agentSends('cy@influencer.test', 'Could you do $1,234.50?', { threadId: first.threadId, subject: first.subject, inReplyTo: ask?.messageIdHdr ?? '' });
    const asks = await repliesIn(first.threadId, 4);
    expect(asks.map((m) => m.text)).toEqual([
      'Thanks for reaching out! My rate for this would be $8,000.00.',
      'Thanks for reaching out! My rate for this would be $12,345.00.',
    ]);
    expect(personas.replies().filter((r) => r.influencer === 'cy@influencer.test')).toHaveLength(2);
  });

  it('out_of_office: an auto-reply first, then back and accepting the offer', async () => {
    const offer = await agentSends('dee@influencer.test', 'Offer: $1,100.00 for a reel.');
    const replies = await repliesIn(offer.threadId, 3);
    expect(replies.map((m) => m.text)).toEqual([
      'I am currently out of the office and will reply when I am back.',
      'Back now. That works for me, happy to accept $1,100.00.',
    ]);
    expect(replies.every((m) => m.inReplyTo === offer.messageIdHdr)).toBe(true);
    expect(personas.pending()).toBe(0);
  });

  it('silent: never answers, while the others do', async () => {
    const silent = await agentSends('eli@influencer.test', 'Offer: $500.00.');
    expect(personas.pending()).toBe(0);
    const other = await agentSends('ana@influencer.test', 'Offer: $500.00.');
    await repliesIn(other.threadId, 2);
    expect(h.sandbox.messagesInThread(silent.threadId)).toHaveLength(1);
    expect(personas.replies().map((r) => r.influencer)).toEqual(['ana@influencer.test']);
  });

  it('ignores email to addresses that are not personas', async () => {
    await agentSends('stranger@elsewhere.test', 'Offer: $500.00.');
    expect(personas.pending()).toBe(0);
  });
});
