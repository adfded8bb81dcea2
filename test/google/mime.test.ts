import { buildMime, extractReplyText, htmlToText } from '@parley/google';
import { failure, startGoogleHarness, type GoogleHarness } from './google.harness';

function decode(raw: string): string {
  return Buffer.from(raw, 'base64url').toString('utf8');
}

describe('buildMime', () => {
  const base = { from: 'Brand Deals <deals@brand.test>', to: 'ana@influencer.test', subject: 'Hello', body: 'Hi', messageIdHdr: 'neg-1.open@parley.test' };

  it('produces base64url RFC 2822 with bracketed ids and a References chain ending in In-Reply-To', () => {
    const raw = buildMime({ ...base, inReplyTo: 'CAabc@mail.gmail.com', references: '<neg-1.open@parley.test>' });
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    const text = decode(raw);
    const [head] = text.split('\r\n\r\n');
    expect(head).toContain('Message-ID: <neg-1.open@parley.test>');
    expect(head).toContain('In-Reply-To: <CAabc@mail.gmail.com>');
    expect(head).toContain('References: <neg-1.open@parley.test> <CAabc@mail.gmail.com>');
    expect(head).toContain('From: Brand Deals <deals@brand.test>');
    expect(head).toMatch(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/m);
  });

  it('cannot be made to inject headers through a subject or address', () => {
    const text = decode(buildMime({ ...base, subject: 'Hi\r\nBcc: victim@evil.test', to: 'ana@influencer.test\nBcc: x@evil.test' }));
    const head = text.split('\r\n\r\n')[0] ?? '';
    expect(head.split('\r\n').filter((l) => /^Bcc:/i.test(l))).toEqual([]);
  });

  it('refuses a Message-ID that would silently break threading', () => {
    expect(() => buildMime({ ...base, messageIdHdr: 'not an id' })).toThrow(/Message-ID/);
  });

  describe('through Gmail (the sandbox) and back', () => {
    let h: GoogleHarness;
    beforeAll(async () => {
      h = await startGoogleHarness({ mailbox: 'deals@brand.test' });
    });
    afterAll(async () => {
      await h.sandbox.close();
    });

    it('keeps non-ASCII subjects, names and bodies intact', async () => {
      const subject = 'Kooperation für Zoë 🎥 — a long subject that needs several encoded words to stay under the limit';
      const body = 'Grüße! Our offer is $1,250.00 for one vidéo.\n\nLine two — ✓';
      const sent = await h.gmail.send(buildMime({ ...base, from: 'Zoë’s Brand <deals@brand.test>', to: '"Müller, Zoë" <zoe@influencer.test>', subject, body }));
      const [view] = h.sandbox.sent();
      expect(view).toMatchObject({ subject, text: body, from: 'Zoë’s Brand <deals@brand.test>', to: 'Müller, Zoë <zoe@influencer.test>' });
      const read = await h.gmail.getMessage(sent.id);
      expect(read).toMatchObject({ subject, from: 'deals@brand.test', to: 'zoe@influencer.test', text: body, messageIdHdr: '<neg-1.open@parley.test>' });
      const head = decode(buildMime({ ...base, subject })).split('\r\n\r\n')[0] ?? '';
      for (const line of head.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    });

    it('is refused by Gmail without a recipient', async () => {
      const error = await failure(h.gmail.send(buildMime({ ...base, to: 'nobody' })));
      expect(error.name).toBe('PermanentError');
    });
  });
});

describe('extractReplyText', () => {
  it('strips a Gmail attribution (wrapped over two lines) and the quote below it', () => {
    const plain = 'Sounds good, $1,400.00 works.\r\n\r\nOn Tue, Nov 4, 2025 at 10:00 AM Brand Deals <\r\ndeals@brand.test> wrote:\r\n\r\n> Our offer is $1,250.00.\r\n';
    expect(extractReplyText(plain)).toBe('Sounds good, $1,400.00 works.');
  });

  it('keeps inline answers written between quoted lines', () => {
    const plain = '> Can you do two videos?\nYes, two videos.\n> And by Friday?\nFriday is fine.';
    expect(extractReplyText(plain)).toBe('Yes, two videos.\nFriday is fine.');
  });

  it('cuts signatures and mobile footers', () => {
    expect(extractReplyText('My rate is $2,000.00.\n\n-- \nAna Lopez\nCreator')).toBe('My rate is $2,000.00.');
    expect(extractReplyText('Deal!\n\nSent from my iPhone')).toBe('Deal!');
    expect(extractReplyText('Ok\n\nGet Outlook for iOS')).toBe('Ok');
  });

  it('cuts forwarded blocks and Outlook reply headers', () => {
    expect(extractReplyText('See below.\n\n---------- Forwarded message ---------\nFrom: a@b.c\nOffer $9.00')).toBe('See below.');
    expect(extractReplyText('Agreed.\n\n-----Original Message-----\nFrom: Brand\nOffer $1.00')).toBe('Agreed.');
    expect(extractReplyText('Agreed.\n\nFrom: Brand Deals <deals@brand.test>\nSent: Tuesday, November 4, 2025 10:00 AM\nTo: Ana\nSubject: Offer\n\nOur offer is $1.00')).toBe('Agreed.');
    expect(extractReplyText('Merci !\n\nLe mar. 4 nov. 2025 à 10:00, Brand <deals@brand.test> a écrit :\n> offre')).toBe('Merci !');
  });

  it('does not mistake ordinary sentences for quote markers', () => {
    const plain = 'On Monday I can post the video.\nFrom: my side, all good.';
    expect(extractReplyText(plain)).toBe(plain);
  });

  it('keeps a message that is nothing but a quote rather than returning nothing', () => {
    expect(extractReplyText('> only a quote')).toBe('> only a quote');
  });
});

describe('htmlToText', () => {
  it('drops quoted blockquotes and decodes entities', () => {
    const html = '<div dir="ltr">Happy to accept &#36;1,250.00 &amp; start Monday.<br>Ana</div><div class="gmail_quote"><blockquote>Our offer is $1,250.00</blockquote></div>';
    expect(htmlToText(html).trim()).toBe('Happy to accept $1,250.00 & start Monday.\nAna');
  });
});
