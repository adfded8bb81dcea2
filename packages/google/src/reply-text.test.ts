import { extractReplyText } from './reply-text';
import { MAIL_LIMITS } from './mail-limits';

const quote = '> Our offer is $1,000.00 for two videos.\n> Best, Brand';

describe('extractReplyText: quote attributions in each supported language', () => {
  const cases: [string, string][] = [
    ['English', 'On Tue, Nov 4, 2025 at 10:00 AM Brand <deals@brand.test> wrote:'],
    ['French', 'Le mar. 4 nov. 2025 à 10:00, Brand <deals@brand.test> a écrit :'],
    ['Spanish', 'El mar, 4 nov 2025 a las 10:00, Brand (<deals@brand.test>) escribió:'],
    ['German', 'Am Di., 4. Nov. 2025 um 10:00 Uhr schrieb Brand <deals@brand.test>:'],
    ['Italian', 'Il giorno mar 4 nov 2025 alle ore 10:00 Brand <deals@brand.test> ha scritto:'],
    ['Dutch', 'Op di 4 nov 2025 om 10:00 schreef Brand <deals@brand.test>:'],
    ['Portuguese', 'Em ter., 4 de nov. de 2025 às 10:00, Brand <deals@brand.test> escreveu:'],
    ['Scandinavian', 'Den tis 4 nov. 2025 kl 10:00 skrev Brand <deals@brand.test>:'],
  ];
  it.each(cases)('%s, top-posted', (_language, attribution) => {
    expect(extractReplyText(`My rate is $1,500.00.\n\n${attribution}\n${quote}\n`)).toBe('My rate is $1,500.00.');
  });
  it.each(cases)('%s, bottom-posted: the answer below the quote, without our old offer', (_language, attribution) => {
    expect(extractReplyText(`${attribution}\n${quote}\n\nMy rate is $1,500.00.\n`)).toBe('My rate is $1,500.00.');
  });

  it('an attribution wrapped over two lines by the sender\'s client', () => {
    expect(extractReplyText('Deal.\n\nOn Tue, Nov 4, 2025 at 10:00 AM Brand Partnerships Team\n<deals@brand.test> wrote:\n> offer $1.00')).toBe('Deal.');
  });

  it('history that is not quoted below an attribution is still cut', () => {
    expect(extractReplyText('Deal.\n\nOn Tue, Nov 4, 2025 Brand wrote:\nOur offer is $1,000.00')).toBe('Deal.');
  });
});

describe('extractReplyText: line handling', () => {
  it.each([
    ['CRLF and lone CR line ends', 'a\r\nb\rc', 'a\nb\nc'],
    ['trailing spaces of each line', 'a   \nb', 'a\nb'],
    ['three or more blank lines become one', 'a\n\n\n\nb', 'a\n\nb'],
    ['one blank line stays', 'a\n\nb', 'a\n\nb'],
    ['an answer written between two quotes', '> q1\nmy answer\n> q2', 'my answer'],
    ['an indented quote', 'ok\n   > q', 'ok'],
    ['a signature', 'Deal\n--\nAna', 'Deal'],
    ['a phone signature', 'Deal\nSent from my iPhone', 'Deal'],
    ['a forwarded block', 'FYI\n---------- Forwarded message ---------\nFrom: x', 'FYI'],
    ['nothing but a quote: kept whole', '> a\r\n> b', '> a\n> b'],
    ['nothing but a quote, with lone CR line ends: kept whole', '> a\r> b', '> a\n> b'],
    ['nothing but a forward: kept whole', '  -- \n-----Original Message-----\nold  ', '-- \n-----Original Message-----\nold'],
  ])('%s', (_what, input, output) => expect(extractReplyText(input)).toBe(output));
});

describe('extractReplyText: attributions', () => {
  it('an indented attribution', () => {
    expect(extractReplyText('Deal.\n   On Tue, Brand wrote:\nold')).toBe('Deal.');
    // The line is measured trimmed: at the limit with its indent, it still counts.
    const limit = `On ${'x'.repeat(MAIL_LIMITS.attributionLineChars - 10)} wrote:`;
    expect(extractReplyText(`Yes.\n ${limit}\n> q\nMine.`)).toBe('Yes.\nMine.');
  });

  it('an attribution on the last line still ends the reply', () => {
    expect(extractReplyText('Deal.\nOn Tue, Brand wrote:')).toBe('Deal.');
  });

  it('an attribution wrapped over three lines, but not four', () => {
    expect(extractReplyText('Deal.\nOn Tue, Nov 4\nBrand Team\n<d@b.test> wrote:\nold')).toBe('Deal.');
    expect(extractReplyText('Deal.\nOn Tue, Nov 4\nBrand\nTeam\n<d@b.test> wrote:\nold')).toBe('Deal.\nOn Tue, Nov 4\nBrand\nTeam\n<d@b.test> wrote:\nold');
  });

  it('a wrapped attribution above a quote, answered below it', () => {
    expect(extractReplyText('On Tue Brand Team\n<d@b.test> wrote:\n> q\nMine.')).toBe('Mine.');
    expect(extractReplyText('On Tue Brand Team\n<d@b.test> wrote:\n\n> q\n\nMine.')).toBe('Mine.');
  });

  it('a line too long to be an attribution is text, and so is its wrapped continuation', () => {
    const long = `On ${'x'.repeat(MAIL_LIMITS.attributionLineChars)} wrote:`;
    expect(extractReplyText(`Yes.\n${long}\n> q`)).toBe(`Yes.\n${long}`);
    const longer = 'y'.repeat(MAIL_LIMITS.attributionLineChars + 1);
    expect(extractReplyText(`Yes.\nOn Tue Brand\n${longer}\nwrote:\nold`)).toBe(`Yes.\nOn Tue Brand\n${longer}\nwrote:\nold`);
    const limit = `On ${'x'.repeat(MAIL_LIMITS.attributionLineChars - 10)} wrote:`;
    expect(limit.length).toBe(MAIL_LIMITS.attributionLineChars);
    // At the limit it still counts, as "… wrote:" above a quote (the language patterns read 400 characters at most).
    expect(extractReplyText(`Yes.\n${limit}\n> q\nMine.`)).toBe('Yes.\nMine.');
  });

  it('"Someone wrote:" in any wording counts only directly above a quote', () => {
    expect(extractReplyText('Yes.\nBrand Team <b@x.test> wrote:\n> q\nThanks')).toBe('Yes.\nThanks');
    expect(extractReplyText('Yes.\nBrand wrote:\n   \n  > q\nThanks')).toBe('Yes.\n\nThanks');
    expect(extractReplyText('Yes.\nBrand wrote:\nnot a quote')).toBe('Yes.\nBrand wrote:\nnot a quote');
    expect(extractReplyText('Yes.\nBrand wrote:')).toBe('Yes.\nBrand wrote:');
    expect(extractReplyText('Yes.\nBrand wrote: so\n> q')).toBe('Yes.\nBrand wrote: so');
    expect(extractReplyText('Yes.\nBrand wrote:x\n> q\nThanks')).toBe('Yes.\nBrand wrote:x\nThanks');
  });
});

describe('extractReplyText: Outlook reply headers', () => {
  const header = (gap: string) => `Deal.\n\nFrom: Brand <b@x.test>\n${gap}Sent: Tuesday\nTo: Ana\nSubject: offer\n\nOur offer is $1,000.00`;
  it('cuts at "From:" followed by "Sent:"/"Date:" and "To:"/"Subject:" within four lines', () => {
    expect(extractReplyText(header(''))).toBe('Deal.');
    expect(extractReplyText('Deal.\n*From:* Brand\n*Date:* Tue\n*Subject:* offer\nold')).toBe('Deal.');
    expect(extractReplyText('Deal.\n  from: Brand\ndate: Tue\nto: Ana\nold')).toBe('Deal.');
    expect(extractReplyText('Deal.\nFrom: Brand\n\n\nSent: Tue\nTo: Ana\nold')).toBe('Deal.');
    expect(extractReplyText('Deal.\nFrom: Brand\n  Sent: Tue\n  To: Ana\nold')).toBe('Deal.');
  });

  it('keeps a "From:" line that is no such header', () => {
    for (const text of [
      'Deal.\nFrom: me, with thanks\nSee you',
      'Deal.\nFrom: Brand\nSent: Tue\nold',
      'Deal.\nFrom: Brand\nTo: Ana\nold',
      'Deal.\nFrom: Brand\nx\ny\nz\nSent: Tue\nTo: Ana',
      'Deal.\nFrom:Brand\nSent: Tue\nTo: Ana',
      'Deal.\nFrom: Brand\nSent:Tue\nTo: Ana',
      'Deal.\nFrom: Brand\nSent: Tue\nTo:Ana',
      'Deal.\nX From: Brand\nSent: Tue\nTo: Ana',
      'Deal.\nFrom: Brand\nX Sent: Tue\nTo: Ana',
      'Deal.\nFrom: Brand\nSent: Tue\nX To: Ana',
      // "Sent:" above the "From:" line is not part of its header.
      'Sent: Tue\nFrom: Brand\nTo: Ana\nold',
    ]) {
      expect(extractReplyText(text)).toBe(text);
    }
  });
});
