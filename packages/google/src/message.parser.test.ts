import { htmlToText, parseAddressList, toParsedMessage } from './message.parser';

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
