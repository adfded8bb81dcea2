import { MAIL_LIMITS } from './mail-limits';
import { bodyText, htmlToText, parseAddressList, referencedIds, toParsedMessage } from './message.parser';

const b64 = (text: string, encoding: BufferEncoding = 'utf8') => Buffer.from(text, encoding).toString('base64url');

/** A Gmail `format=full` resource as messages.get returns it. */
function gmailMessage(payload: Record<string, unknown>, headers: { name: string; value: string }[] = []) {
  return {
    id: '18c0000000000001',
    threadId: '18c0000000000000',
    labelIds: ['INBOX'],
    internalDate: '1762250400000',
    payload: { ...payload, headers: [{ name: 'From', value: 'Ana <ana@creators.test>' }, { name: 'Subject', value: 'Re: Offer' }, ...headers, ...((payload.headers as []) ?? [])] },
  };
}

describe('toParsedMessage', () => {
  it('reads an HTML-only email with a numeric entity beyond Unicode instead of throwing', () => {
    const html = '<div>My rate is $1,500.00 &#x110000; &#99999999999; &#65;</div>';
    const parsed = toParsedMessage(gmailMessage({ mimeType: 'text/html', body: { data: b64(html) } }));
    expect(parsed.text).toBe('My rate is $1,500.00 \uFFFD \uFFFD A');
  });

  it('decodes the body in its declared charset (ISO-8859-1, windows-1252, quoted in the header)', () => {
    const latin1 = toParsedMessage(gmailMessage({ mimeType: 'text/plain', headers: [{ name: 'Content-Type', value: 'text/plain; charset=ISO-8859-1' }], body: { data: b64('Très bien, ça marche', 'latin1') } }));
    expect(latin1.text).toBe('Très bien, ça marche');
    const cp1252 = Buffer.from([0x93, 0x4f, 0x4b, 0x94, 0x20, 0x80, 0x31, 0x30]).toString('base64url');
    const win = toParsedMessage(gmailMessage({ mimeType: 'text/plain', headers: [{ name: 'Content-Type', value: 'text/plain; charset="windows-1252"' }], body: { data: cp1252 } }));
    expect(win.text).toBe('\u201cOK\u201d \u20ac10');
    // An unknown charset falls back to UTF-8 rather than failing the message.
    const unknown = toParsedMessage(gmailMessage({ mimeType: 'text/plain', headers: [{ name: 'Content-Type', value: 'text/plain; charset=x-klingon' }], body: { data: b64('Qapla $5') } }));
    expect(unknown.text).toBe('Qapla $5');
  });

  it('decodes RFC 2047 subjects (B and Q, adjacent words joined, other charsets)', () => {
    const parsed = toParsedMessage(
      gmailMessage({ mimeType: 'text/plain', body: { data: b64('ok') } }, [
        { name: 'Subject', value: '=?UTF-8?B?UmU6IE9mZmVy?= =?UTF-8?Q?_f=C3=BCr_dich?= =?ISO-8859-1?Q?_=E0_vous?=' },
      ]),
    );
    // The first Subject header wins (gmailMessage puts a default one first), so read it from a message with only this one.
    expect(parsed.subject).toBe('Re: Offer');
    const only = toParsedMessage({ id: 'a', threadId: 'a', payload: { mimeType: 'text/plain', headers: [{ name: 'Subject', value: '=?UTF-8?B?UmU6IE9mZmVy?= =?UTF-8?Q?_f=C3=BCr_dich?= =?ISO-8859-1?Q?_=E0_vous?=' }], body: { data: b64('ok') } } });
    expect(only.subject).toBe('Re: Offer für dich à vous');
  });

  it('ignores attachments: a text/plain file attached is not the reply', () => {
    const parsed = toParsedMessage(
      gmailMessage({
        mimeType: 'multipart/mixed',
        parts: [
          { mimeType: 'text/plain', filename: 'old-offer.txt', body: { attachmentId: 'ANGjdJ8', data: b64('Offer: $1.00') } },
          { mimeType: 'application/pdf', filename: 'rates.pdf', body: { attachmentId: 'ANGjdJ9' } },
          { mimeType: 'multipart/alternative', parts: [{ mimeType: 'text/plain', body: { data: b64('See my rates attached: $900.') } }, { mimeType: 'text/html', body: { data: b64('<b>ignored</b>') } }] },
        ],
      }),
    );
    expect(parsed.text).toBe('See my rates attached: $900.');
  });

  it('takes the sender from the address, not from a display name that looks like one', () => {
    const parsed = toParsedMessage(gmailMessage({ mimeType: 'text/plain', body: { data: b64('hi') } }, []));
    expect(parsed.from).toBe('ana@creators.test');
    const spoof = toParsedMessage({ id: 'a', threadId: 'a', payload: { mimeType: 'text/plain', headers: [{ name: 'From', value: '=?UTF-8?B?' + Buffer.from('deals@brand.test <deals@brand.test>').toString('base64') + '?= <mallory@evil.test>' }], body: { data: b64('hi') } } });
    expect(spoof.from).toBe('mallory@evil.test');
  });

  it('caps what it reads: subject, headers and body', () => {
    const parsed = toParsedMessage(
      gmailMessage({ mimeType: 'text/plain', body: { data: b64(`Deal.\n${'x'.repeat(2_000_000)}`) } }, [{ name: 'References', value: `<a@b> ${'<c@d> '.repeat(40_000)}` }]),
    );
    expect(parsed.text.length).toBeLessThanOrEqual(20_000);
    expect((parsed.references ?? '').length).toBeLessThanOrEqual(8_192);
    const long = toParsedMessage({ id: 'a', threadId: 'a', payload: { mimeType: 'text/plain', headers: [{ name: 'Subject', value: 's'.repeat(100_000) }], body: { data: b64('ok') } } });
    expect(long.subject.length).toBeLessThanOrEqual(1_000);
  });
});

describe('htmlToText', () => {
  it('keeps an inline answer written between two quotes', () => {
    const html = '<blockquote>Our offer is $1,000.00.</blockquote><div>Too low: $1,400.00 for me.</div><blockquote>Two videos?</blockquote><div>Yes, two.</div>';
    expect(htmlToText(html).trim()).toBe('Too low: $1,400.00 for me.\nYes, two.');
  });

  it('drops nested quotes whole, and head, style and script content', () => {
    const html = '<html><head><title>x</title><style>p{color:red}</style></head><body><script>alert(1)</script><p>Fine by me.</p><blockquote>a<blockquote>b</blockquote>c</blockquote></body></html>';
    expect(htmlToText(html).trim()).toBe('Fine by me.');
  });

  it('keeps a stray "<" that opens no tag', () => {
    expect(htmlToText('<p>budget < $2,000 &amp; 2 posts</p>').trim()).toBe('budget < $2,000 & 2 posts');
  });
});

describe('parseAddressList', () => {
  it('parses quoted names, comments, groups and bare addresses', () => {
    expect(parseAddressList('"Doe, Jane" <Jane@X.test>, bob@y.test (Bob), Team: carl@z.test;, undisclosed-recipients:;')).toEqual(['jane@x.test', 'bob@y.test', 'carl@z.test']);
    expect(parseAddressList('"a <b@c.test>" <real@d.test>')).toEqual(['real@d.test']);
    expect(parseAddressList('not an address')).toEqual([]);
  });
});

/** A message with exactly these headers and a text/plain body. */
const withHeaders = (headers: { name: string | null; value: string | null }[], body = 'ok') => ({ id: 'm', threadId: 't', payload: { mimeType: 'text/plain', headers, body: { data: b64(body) } } });
const subjectOf = (value: string) => toParsedMessage(withHeaders([{ name: 'Subject', value }])).subject;
const plain = (text: string, headers: { name: string; value: string }[] = [], extra: Record<string, unknown> = {}) => ({ mimeType: 'text/plain', headers, body: { data: b64(text) }, ...extra });

/** Every field of a parsed message that a resource without content leaves at its default. */
const EMPTY_FIELDS = { labelIds: [], from: '', to: '', subject: '', messageIdHdr: null, inReplyTo: null, references: null, internalDate: new Date(0), text: '' };

describe('toParsedMessage: the resource', () => {
  it('reads ids, labels, date, addresses and the id headers', () => {
    const parsed = toParsedMessage(
      gmailMessage({ mimeType: 'text/plain', body: { data: b64('Deal at $900.') } }, [
        { name: 'To', value: 'Brand <Deals@Brand.test>, "Ops, Team" <ops@brand.test>' },
        { name: 'Message-ID', value: '<m1@creators.test>' },
        { name: 'In-Reply-To', value: '<neg-1@brand.test>' },
        { name: 'References', value: '<neg-0@brand.test> <neg-1@brand.test>' },
      ]),
    );
    expect(parsed).toEqual({
      id: '18c0000000000001',
      threadId: '18c0000000000000',
      labelIds: ['INBOX'],
      from: 'ana@creators.test',
      to: 'deals@brand.test, ops@brand.test',
      subject: 'Re: Offer',
      messageIdHdr: '<m1@creators.test>',
      inReplyTo: '<neg-1@brand.test>',
      references: '<neg-0@brand.test> <neg-1@brand.test>',
      internalDate: new Date(1762250400000),
      text: 'Deal at $900.',
      problem: null,
    });
  });

  it('defaults what the resource leaves out', () => {
    expect(toParsedMessage({ id: 'm', threadId: 't' })).toEqual({ ...EMPTY_FIELDS, id: 'm', threadId: 't', problem: null });
    expect(toParsedMessage({ id: 'm', threadId: 't', labelIds: null, internalDate: null, payload: null }).problem).toBeNull();
  });

  it.each([
    [{ id: '', threadId: 't' }, 'id'],
    [{ id: 'm', threadId: '' }, 'threadId'],
    [{ id: 'm', threadId: 't', internalDate: '12a' }, 'internalDate'],
    [{ id: 'm', threadId: 't', internalDate: 'x1' }, 'internalDate'],
    [{ id: 'm', threadId: 't', internalDate: '1'.repeat(17) }, 'internalDate'],
    [{ id: 'm', threadId: 't', labelIds: [1] }, 'labelIds.0'],
    [{ id: 'm', threadId: 't', payload: { parts: [{ mimeType: 7 }] } }, 'payload.parts.0.mimeType'],
    [{ id: 'm', threadId: 't', payload: { headers: [{ name: 'From', value: 1 }] } }, 'payload.headers.0.value'],
    [{ id: 'm', threadId: 't', payload: { filename: 1 } }, 'payload.filename'],
    [{ id: 'm', threadId: 't', payload: { body: { attachmentId: 1 } } }, 'payload.body.attachmentId'],
  ])('a malformed resource %j is a problem naming %s, with the fallback ids', (raw, path) => {
    const parsed = toParsedMessage(raw, { id: 'fallback-id', threadId: 'fallback-thread' });
    expect(parsed).toEqual({ ...EMPTY_FIELDS, id: 'fallback-id', threadId: 'fallback-thread', problem: `unparseable: resource: malformed message resource (${path})` });
  });

  it('accepts a 16-digit date', () => {
    expect(toParsedMessage({ id: 'm', threadId: 't', internalDate: '1'.repeat(16) }).internalDate).toEqual(new Date(Number('1'.repeat(16))));
  });

  it('names a thrown error on one short line, and has empty ids without a fallback', () => {
    const throwing = (thrown: unknown) =>
      toParsedMessage({
        id: 'm',
        get threadId(): string {
          throw thrown;
        },
      });
    expect(throwing(new TypeError('bad\n\t  value'))).toMatchObject({ id: '', threadId: '', problem: 'unparseable: resource: TypeError: bad value' });
    expect(throwing('plain  text').problem).toBe('unparseable: resource: plain text');
    expect(throwing(new Error('x'.repeat(500))).problem).toBe(`unparseable: resource: Error: ${'x'.repeat(113)}`);
  });

  it('finds headers by name in any case, skipping ones without a value, the first one winning', () => {
    const parsed = toParsedMessage(
      withHeaders([
        { name: null, value: 'x' },
        { name: 'SUBJECT', value: null },
        { name: 'subject', value: 'first' },
        { name: 'Subject', value: 'second' },
      ]),
    );
    expect(parsed.subject).toBe('first');
  });

  it('reads a header on one line, trimmed, and at most MAIL_LIMITS.headerChars of it', () => {
    const parsed = toParsedMessage(withHeaders([{ name: 'Message-ID', value: ` <a@b.test>\r\n\t<c@d.test>\0\0x ` }, { name: 'References', value: `<a@b> ${'y'.repeat(20_000)}` }]));
    expect(parsed.messageIdHdr).toBe('<a@b.test> <c@d.test> x');
    expect(parsed.references).toHaveLength(MAIL_LIMITS.headerChars);
  });

  it('keeps at most MAIL_LIMITS.subjectChars of the subject and MAIL_LIMITS.replyTextChars of the text', () => {
    const parsed = toParsedMessage(withHeaders([{ name: 'Subject', value: 's'.repeat(5_000) }], 'x'.repeat(50_000)));
    expect(parsed.subject).toHaveLength(MAIL_LIMITS.subjectChars);
    expect(parsed.text).toHaveLength(MAIL_LIMITS.replyTextChars);
  });

  it('lists the valid ids of In-Reply-To and References', () => {
    expect(referencedIds({ inReplyTo: '<a@b.test> junk', references: '<c@d.test>, <e@f.test> <no-at>' })).toEqual(['<a@b.test>', '<c@d.test>', '<e@f.test>']);
    expect(referencedIds({ inReplyTo: null, references: null })).toEqual([]);
  });
});

describe('toParsedMessage: RFC 2047 subjects', () => {
  it.each([
    ['=?UTF-8?B?UmU6IE9mZmVy?=', 'Re: Offer'],
    ['=?utf-8?b?UmU6IE9mZmVy?=', 'Re: Offer'],
    ['=?UTF-8?q?f=c3=bcr_dich?=', 'für dich'],
    ['=?UTF-8?Q?a?=  =?UTF-8?Q?b?=', 'ab'],
    ['=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=', 'ab'],
    ['=?UTF-8?Q?Re:?= Offer', 'Re: Offer'],
    ['Re: =?UTF-8?Q?Offer?= now', 'Re: Offer now'],
    ['=?UTF-8*en?Q?hello?=', 'hello'],
    ['=?UTF-8*en-US?Q?hello?=', 'hello'],
    ['=?x-klingon?Q?Qapla?=', 'Qapla'],
    ['=?windows-1252?Q?=80_5?=', '€ 5'],
    ['=?UTF-8?X?abc?=', '=?UTF-8?X?abc?='],
    ['=??Q?abc?=', '=??Q?abc?='],
    [`=?${'u'.repeat(41)}?Q?abc?=`, `=?${'u'.repeat(41)}?Q?abc?=`],
    [`=?${'u'.repeat(40)}?Q?abc?=`, 'abc'],
    ['=?UTF-8?Q?a b?=', '=?UTF-8?Q?a b?='],
    ['=?UTF-8?Q??=', ''],
  ])('%j → %j', (value, subject) => expect(subjectOf(value)).toBe(subject));
});

describe('bodyText', () => {
  it('prefers the plain part, wherever the HTML part is', () => {
    expect(bodyText({ mimeType: 'multipart/alternative', parts: [{ mimeType: 'text/html', body: { data: b64('<p>html</p>') } }, plain('plain')] })).toBe('plain');
    expect(bodyText({ mimeType: 'multipart/alternative', parts: [{ mimeType: 'TEXT/HTML', body: { data: b64('<p>html</p>') } }] })).toBe('html\n');
    expect(bodyText({ mimeType: 'Text/Plain', body: { data: b64('upper') } })).toBe('upper');
    expect(bodyText(null)).toBe('');
    expect(bodyText({ mimeType: 'multipart/mixed', parts: [{ mimeType: 'image/png', body: { data: b64('png') } }] })).toBe('');
  });

  it('skips a part without data, and parts that are attachments however they say so', () => {
    const parts = (first: Record<string, unknown>) => ({ mimeType: 'multipart/mixed', parts: [first, plain('the reply')] });
    expect(bodyText(parts({ mimeType: 'text/plain', body: { data: '' } }))).toBe('the reply');
    expect(bodyText(parts({ mimeType: 'text/plain', body: null }))).toBe('the reply');
    expect(bodyText(parts(plain('old', [], { filename: 'old.txt' })))).toBe('the reply');
    expect(bodyText(parts(plain('old', [], { body: { data: b64('old'), attachmentId: 'A1' } })))).toBe('the reply');
    expect(bodyText(parts(plain('old', [{ name: 'Content-Disposition', value: '  ATTACHMENT; filename=x' }])))).toBe('the reply');
    // Not attachments: an empty file name, an empty attachment id, an inline disposition.
    expect(bodyText(parts(plain('first', [], { filename: '' })))).toBe('first');
    expect(bodyText(parts(plain('first', [], { body: { data: b64('first'), attachmentId: '' } })))).toBe('first');
    expect(bodyText(parts(plain('first', [{ name: 'Content-Disposition', value: 'inline; filename="attachment.txt"' }])))).toBe('first');
    expect(bodyText(parts(plain('first', [{ name: 'Content-Disposition', value: 'inline;filename=attachment.txt' }])))).toBe('first');
  });

  it(`follows nesting ${MAIL_LIMITS.partDepth} parts deep, not deeper`, () => {
    const nested = (depth: number): Record<string, unknown> => (depth === 0 ? plain('deep') : { mimeType: 'multipart/mixed', parts: [nested(depth - 1)] });
    expect(bodyText(nested(MAIL_LIMITS.partDepth))).toBe('deep');
    expect(bodyText(nested(MAIL_LIMITS.partDepth + 1))).toBe('');
  });

  it('reads the charset wherever the Content-Type puts it, UTF-8 without one', () => {
    // 0xA4 is "€" in ISO-8859-15 and "¤" in ISO-8859-1.
    const latin = Buffer.from([0x70, 0x72, 0xea, 0x74, 0x20, 0xa4]).toString('base64url');
    expect(bodyText({ mimeType: 'text/plain', headers: [{ name: 'content-type', value: 'text/plain; format=flowed; CHARSET = "ISO-8859-15"; delsp=yes' }], body: { data: latin } })).toBe('prêt €');
    expect(bodyText({ mimeType: 'text/plain', headers: [{ name: 'Content-Type', value: 'text/plain;charset=iso-8859-1' }], body: { data: latin } })).toBe('prêt ¤');
    expect(bodyText({ mimeType: 'text/plain', body: { data: b64('prêt à 5 €') } })).toBe('prêt à 5 €');
    expect(bodyText({ mimeType: 'text/plain', headers: [{ name: 'Content-Type', value: 'text/plain; charset=' }], body: { data: b64('prêt') } })).toBe('prêt');
  });

  it('maps only the C1 range of windows-1252, not text that is UTF-8', () => {
    const win = Buffer.from([0x80, 0x81, 0x8d, 0x9f, 0xa0, 0xe9]).toString('base64url');
    expect(bodyText({ mimeType: 'text/plain', headers: [{ name: 'Content-Type', value: 'text/plain; charset=windows-1252' }], body: { data: win } })).toBe('\u20ac\u0081\u008d\u0178\u00a0\u00e9');
    expect(bodyText({ mimeType: 'text/plain', body: { data: b64('a\u0085b\u0080') } })).toBe('a\u0085b\u0080');
  });

  it('decodes at most MAIL_LIMITS.bodyBytes of the body', () => {
    const limit = MAIL_LIMITS.bodyBytes;
    expect(bodyText(plain('x'.repeat(limit + 1_000)))).toHaveLength(limit - (limit % 3));
    expect(bodyText(plain('x'.repeat(limit - 7)))).toHaveLength(limit - 7);
  });
});
