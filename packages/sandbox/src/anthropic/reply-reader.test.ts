import { equalsMinor, formatMoney, readAmounts } from '@parley/domain';
import { extractFacts, writeDraft, writePrice } from './email-writer';
import { extractReplyBlocks, readOneReply, readReplies } from './reply-reader';

describe('sandbox reader (read_reply)', () => {
  it.each([
    ['That works for me, happy to accept $1,250.00.', 'accept', 1250, 'USD'],
    ['Thanks for reaching out! My rate for this would be $2,400.00.', 'counter', 2400, 'USD'],
    ['I am currently out of the office and will reply when I am back.', 'out_of_office', null, null],
    ['Thanks, but I am not interested.', 'decline', null, null],
    ['Sounds good, let us do it.', 'accept', null, null],
    ["It's a deal!", 'accept', null, null],
    ['Agreed.', 'accept', null, null],
    ['I will pass on this one, sorry.', 'decline', null, null],
    ['I have to decline.', 'decline', null, null],
    ['Auto-reply: I am travelling until Monday.', 'out_of_office', null, null],
    ['I would need $1250.00 for that.', 'counter', 1250, 'USD'],
    ['My fee is 1,250 USD.', 'counter', 1250, 'USD'],
    ['EUR 900 and we have a deal', 'accept', 900, 'EUR'],
    ['€900 would be my price.', 'counter', 900, 'EUR'],
    ['What exactly are the deliverables?', 'question', null, null],
    ['Could you do $2,000?', 'counter', 2000, 'USD'],
    ["I can't accept that, I need $3,000.", 'counter', 3000, 'USD'],
    ['Hmm.', 'unclear', null, null],
  ])('%j → %s', (text, intent, rate, currency) => {
    const r = readOneReply(text);
    expect(r).toMatchObject({ intent, asked_rate: rate, currency, hostile: false });
    expect(r.reason.length).toBeGreaterThan(0);
  });

  it.each(['Stop emailing me.', 'This is a scam, you idiots.'])('flags %j as hostile', (text) => {
    expect(readOneReply(text).hostile).toBe(true);
  });

  it('reads only the writer’s own words, not the signature or the quoted offer', () => {
    const reply = 'That works for me, happy to accept $1,250.00.\n\n-- \nAda Lovelace\n\nOn Mon, 1 Jan 2024 10:00:00 GMT, deals@brand.example wrote:\n> We would like to offer $1,000.00. Would that work for you?\n';
    expect(readOneReply(reply)).toMatchObject({ intent: 'accept', asked_rate: 1250 });
    const question = 'Back now. What rate did you have in mind?\n\n-- \nAda\n\nOn Mon, x wrote:\n> Our offer is $1,000.00.';
    expect(readOneReply(question)).toMatchObject({ intent: 'question', asked_rate: null });
  });

  it('takes the latest message that says something, and out-of-office only when nothing else was said', () => {
    expect(readReplies(['My rate would be $2,400.00.', 'I am out of the office until Monday.'])).toMatchObject({ intent: 'counter', asked_rate: 2400 });
    expect(readReplies(['My rate would be $2,400.00.', 'Actually $2,000.00 works for me.'])).toMatchObject({ intent: 'accept', asked_rate: 2000 });
    expect(readReplies(['Out of office.'])).toMatchObject({ intent: 'out_of_office' });
    expect(readReplies(['Stop emailing me.', 'Fine, $5,000.'])).toMatchObject({ intent: 'counter', hostile: true });
    expect(readReplies([])).toMatchObject({ intent: 'unclear' });
  });

  it('reads the <reply> blocks of a prompt in order, unescaping them', () => {
    expect(extractReplyBlocks('x <reply>\nfirst &lt;b&gt; &amp;\n</reply>\n<reply>second</reply>')).toEqual(['first <b> &', 'second']);
  });
});

describe('sandbox writer (draft_email)', () => {
  const base = { influencerName: 'Ada Lovelace', campaignName: 'Spring Launch', platform: 'YouTube', deliverables: '1 video', currency: 'USD' };

  it.each(['opening', 'counter', 'accept', 'clarify', 'follow_up'] as const)('%s states the price, in a notation that contains ours for USD', (kind) => {
    const draft = writeDraft({ ...base, kind, priceMinor: 125000, price: null });
    expect(draft.body).toContain(formatMoney(125000, 'USD'));
    const money = readAmounts(draft.body).filter((m) => m.money);
    expect(money).toHaveLength(1);
    expect(money[0]?.currency).toBe('USD');
    expect(money[0]?.values.every((v) => equalsMinor(v, 125000, 2))).toBe(true);
    expect(draft.body).toContain('Hi Ada,');
    expect(draft.subject).toContain('Spring Launch');
  });

  it('writes money in several notations, not only ours, each the same value', () => {
    const usd = new Set(['Ada', 'Bo', 'Cy', 'Di', 'Ed', 'Flo', 'Gus', 'Hal', 'Ivy', 'Jo', 'Kai', 'Lu', 'Max', 'Ned', 'Oz', 'Pia'].map((name) => writePrice(200000, 'USD', name)));
    expect([...usd].sort()).toEqual(['$2,000', '$2,000 USD', '$2,000.00', 'US$2,000', 'USD $2,000.00']);
    expect(writePrice(151250, 'USD', 'Ada|x')).toContain('$1,512.50');
    const eur = new Set(['Ada', 'Bo', 'Cy', 'Di', 'Ed', 'Flo', 'Gus', 'Hal', 'Ivy', 'Jo', 'Kai', 'Lu', 'Max', 'Ned', 'Oz', 'Pia'].map((name) => writePrice(90000, 'EUR', name)));
    expect([...eur].sort()).toEqual(['900 EUR', 'EUR 900', 'EUR 900.00', '€900']);
    expect(writePrice(900, 'JPY', 'Ada')).toMatch(/^(JPY 900|900 JPY|¥900)$/);
    expect(writePrice(90000, 'CHF', 'Cy')).toMatch(/^(CHF 900|CHF 900.00|900 CHF|CHF900)$/);
  });

  it('writes a decline acknowledgement with no money at all', () => {
    expect(writeDraft({ ...base, kind: 'decline_ack', priceMinor: null }).body).not.toMatch(/\$|\d/);
    expect(writeDraft({ ...base, currency: 'EUR', kind: 'counter', priceMinor: 90000 }).body).toMatch(/EUR 900|900 EUR|€900/);
  });

  it('reads the facts JSON out of a prompt', () => {
    const prompt = `<facts>\n${JSON.stringify({ ...base, kind: 'accept', price: '$1,250.00', priceMinor: 125000 })}\n</facts>`;
    expect(extractFacts(prompt)).toMatchObject({ kind: 'accept', price: '$1,250.00' });
    expect(extractFacts('<facts>not json</facts>')).toBeNull();
    expect(extractFacts('no facts')).toBeNull();
  });
});
