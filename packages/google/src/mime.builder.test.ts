import { angleId, buildMime, encodeHeaderWords, formatAddressList, rfc2822Date } from './mime.builder';

const decode = (raw: string) => Buffer.from(raw, 'base64url').toString('utf8');
const headerBlock = (raw: string) => decode(raw).split('\r\n\r\n')[0] ?? '';
const base = { from: 'Brand <deals@brand.test>', to: 'Ana <ana@creators.test>', subject: 'Re: Offer', body: 'Hello', messageIdHdr: '<neg-1.r-1@brand.test>', date: new Date('2025-11-04T10:00:00Z') };

describe('buildMime: the influencer\'s Message-IDs', () => {
  it('drops an In-Reply-To without "@" instead of failing the send, and keeps our own reference', () => {
    const headers = headerBlock(buildMime({ ...base, inReplyTo: '<no-at-sign-here>', references: '<neg-1.open@brand.test> <no-at-sign-here>' }));
    expect(headers).not.toMatch(/In-Reply-To/);
    expect(headers).toMatch(/^References: <neg-1\.open@brand\.test>$/m);
  });

  it('never lets CR/LF or other controls from an id into the headers', () => {
    const headers = headerBlock(buildMime({ ...base, inReplyTo: '<a@b.test>\r\nBcc: victim@x.test', references: '<c@d.test>\nX-Injected: 1 <e@f.test\u0000>' }));
    expect(headers).not.toMatch(/^Bcc:/im);
    expect(headers).not.toMatch(/^X-Injected:/im);
    expect([...headers].filter((c) => c.charCodeAt(0) < 0x20 && c !== '\r' && c !== '\n' && c !== ' ')).toEqual([]);
    expect(headers).toMatch(/^References: <c@d\.test>/m);
  });

  it('keeps valid ids and folds a long References line', () => {
    const refs = Array.from({ length: 30 }, (_, i) => `<message-${i}.abcdefghij@mail.gmail.com>`).join(' ');
    const headers = headerBlock(buildMime({ ...base, inReplyTo: '<message-29.abcdefghij@mail.gmail.com>', references: refs }));
    expect(headers).toMatch(/^In-Reply-To: <message-29\.abcdefghij@mail\.gmail\.com>$/m);
    for (const line of headers.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
  });
});

const b64w = (text: string) => `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
/** The text of a header value made of RFC 2047 B-words, decoded and joined. */
const decodeWords = (value: string) =>
  value
    .split('\r\n ')
    .map((word) => {
      const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/.exec(word);
      if (!m) throw new Error(`not an encoded word: ${word}`);
      return Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    })
    .join('');

describe('encodeHeaderWords', () => {
  it('leaves printable ASCII as it is, on one line, trimmed', () => {
    expect(encodeHeaderWords('Re: Offer ~ 100%')).toBe('Re: Offer ~ 100%');
    expect(encodeHeaderWords('  Re:\r\n\tOffer\n\nnow  ')).toBe('Re: Offer now');
    expect(encodeHeaderWords('')).toBe('');
  });

  it('B-encodes anything else, at most 39 bytes of UTF-8 per word, split between characters', () => {
    // 39 bytes: one word.
    const exactly = `a${'é'.repeat(19)}`;
    expect(Buffer.byteLength(exactly)).toBe(39);
    expect(encodeHeaderWords(exactly)).toBe(b64w(exactly));
    // 40 bytes: 19 "é" (38 bytes) fill the first word, the 20th starts the next.
    expect(encodeHeaderWords('é'.repeat(20))).toBe(`${b64w('é'.repeat(19))}\r\n ${b64w('é')}`);
    // A 4-byte character is never cut: 9 of them are 36 bytes, the 10th would make 40.
    expect(encodeHeaderWords('😀'.repeat(10))).toBe(`${b64w('😀'.repeat(9))}\r\n ${b64w('😀')}`);
    expect(encodeHeaderWords('\u007f')).toBe(b64w('\u007f'));
  });

  it('round-trips long text, every word and folded line within the limits', () => {
    const text = 'Angebot für dich: 1.500 € pro Video — „einverstanden“? '.repeat(5).trim();
    const encoded = encodeHeaderWords(text);
    expect(decodeWords(encoded)).toBe(text);
    for (const word of encoded.split('\r\n ')) expect(word.length).toBeLessThanOrEqual(75);
    expect(`Subject: ${encoded.split('\r\n ')[0] ?? ''}`.length).toBeLessThanOrEqual(78);
  });
});

describe('formatAddressList', () => {
  it.each([
    ['bob@y.test', 'bob@y.test'],
    ['<bob@y.test>', '<bob@y.test>'],
    ['Ana <ana@x.test>', 'Ana <ana@x.test>'],
    ['Ana<ana@x.test>', 'Ana <ana@x.test>'],
    ['  Ana   <ana@x.test>  ', 'Ana <ana@x.test>'],
    ['"Ana" <ana@x.test>', 'Ana <ana@x.test>'],
    ['"" <ana@x.test>', '<ana@x.test>'],
    ["O'Brien-Smith <o@x.test>", "O'Brien-Smith <o@x.test>"],
    ['J. Doe <j@x.test>', '"J. Doe" <j@x.test>'],
    ['"Doe, Jane" <j@x.test>', '"Doe, Jane" <j@x.test>'],
    ['a "b" \\ c <j@x.test>', '"a \\"b\\" \\\\ c" <j@x.test>'],
    ['Brand (Deals) <d@x.test>', '"Brand (Deals)" <d@x.test>'],
    ['Zoë <z@x.test>', `${b64w('Zoë')} <z@x.test>`],
    ['Ana <ana x@x.test>', 'Ana <ana x@x.test>'],
    ['Ana <ana@x.test> (work)', 'Ana <ana@x.test> (work)'],
    ['Ana <anax.test>', 'Ana <anax.test>'],
    ['Ana "Bee" <a@x.test>', '"Ana \\"Bee\\"" <a@x.test>'],
    ['"Ana" Bee <a@x.test>', '"\\"Ana\\" Bee" <a@x.test>'],
    // A line separator is no line break to singleLine, but the name is not ASCII: it is encoded.
    ['Ana\u2028Bee <a@x.test>', `${b64w('Ana\u2028Bee')} <a@x.test>`],
  ])('%j → %j', (value, formatted) => expect(formatAddressList(value)).toBe(formatted));

  it('splits on commas outside quotes and angle brackets only', () => {
    expect(formatAddressList('"Doe, J." <j@x.test>, J. Roe <r@x.test>,  ,bob@y.test')).toBe('"Doe, J." <j@x.test>, "J. Roe" <r@x.test>, bob@y.test');
    // A "<" or ">" inside a quoted name opens or closes nothing.
    expect(formatAddressList('"a <b", J. Roe <r@x.test>')).toBe('"a <b", "J. Roe" <r@x.test>');
    expect(formatAddressList('<"a>b"x,y@x.test>, J. Roe <r@x.test>')).toBe('<"a>b"x,y@x.test>, "J. Roe" <r@x.test>');
    expect(formatAddressList('<a,b@x.test>, J. Roe <r@x.test>')).toBe('<a,b@x.test>, "J. Roe" <r@x.test>');
    expect(formatAddressList('Ana <a@x.test>\r\n, J. Roe\t<r@x.test>')).toBe('Ana <a@x.test>, "J. Roe" <r@x.test>');
  });
});

describe('angleId', () => {
  it('puts a valid id in angle brackets, with or without them', () => {
    expect(angleId('neg-1.r-1@brand.test')).toBe('<neg-1.r-1@brand.test>');
    expect(angleId('<neg-1.r-1@brand.test>')).toBe('<neg-1.r-1@brand.test>');
    expect(angleId(' <neg-1@brand.test>\r\n')).toBe('<neg-1@brand.test>');
  });

  it.each(['no-at-sign', '<<a@b.test>>', 'a<b@c.test', 'a>b@c.test', '', 'a b@c.test'])('refuses %j', (value) => {
    expect(() => angleId(value)).toThrow(`not a Message-ID: ${JSON.stringify(value)}`);
  });

  it('quotes at most 100 characters of a refused value', () => {
    expect(() => angleId('x'.repeat(300))).toThrow(`not a Message-ID: "${'x'.repeat(100)}"`);
  });
});

describe('rfc2822Date', () => {
  it('writes the date in UTC with a numeric zone', () => {
    expect(rfc2822Date(new Date('2025-11-04T10:00:00Z'))).toBe('Tue, 04 Nov 2025 10:00:00 +0000');
    expect(rfc2822Date(new Date('2026-02-28T23:59:59.999+01:00'))).toBe('Sat, 28 Feb 2026 22:59:59 +0000');
  });
});

describe('buildMime: the message', () => {
  const parts = (raw: string) => {
    const text = decode(raw);
    const at = text.indexOf('\r\n\r\n');
    return { headers: text.slice(0, at).split('\r\n'), body: text.slice(at + 4) };
  };

  it('writes every header in order, and the body base64 in lines of 76', () => {
    const body = 'Hello Ana,\n'.repeat(20);
    const { headers, body: encoded } = parts(buildMime({ ...base, from: 'J. Doe <deals@brand.test>', subject: 'Réponse', body }));
    expect(headers).toEqual([
      'From: "J. Doe" <deals@brand.test>',
      'To: Ana <ana@creators.test>',
      `Subject: ${b64w('Réponse')}`,
      'Date: Tue, 04 Nov 2025 10:00:00 +0000',
      'Message-ID: <neg-1.r-1@brand.test>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset="UTF-8"',
      'Content-Transfer-Encoding: base64',
    ]);
    expect(encoded.endsWith('\r\n')).toBe(true);
    const lines = encoded.slice(0, -2).split('\r\n');
    expect(lines.slice(0, -1).every((l) => l.length === 76)).toBe(true);
    expect((lines.at(-1) ?? '').length).toBeGreaterThan(0);
    expect((lines.at(-1) ?? '').length).toBeLessThanOrEqual(76);
    expect(Buffer.from(lines.join(''), 'base64').toString('utf8')).toBe(body.replace(/\n/g, '\r\n'));
  });

  it('ends a body of exactly one base64 line with a single line break', () => {
    // 57 bytes are 76 base64 characters.
    const { body } = parts(buildMime({ ...base, body: 'x'.repeat(57) }));
    expect(body).toBe(`${Buffer.from('x'.repeat(57)).toString('base64')}\r\n`);
  });

  it('writes every line end of the body as CRLF', () => {
    const { body } = parts(buildMime({ ...base, body: 'a\nb\r\nc\rd\n\ne' }));
    expect(Buffer.from(body, 'base64').toString('utf8')).toBe('a\r\nb\r\nc\r\nd\r\n\r\ne');
  });

  it('dates the message now when no date is given', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const { headers } = parts(buildMime({ ...base, date: undefined }));
    const date = Date.parse((headers.find((h) => h.startsWith('Date: ')) ?? '').slice('Date: '.length));
    expect(date).toBeGreaterThanOrEqual(before);
    expect(date).toBeLessThanOrEqual(Date.now());
  });

  it('answers the first valid In-Reply-To id, and ends References with it once', () => {
    const reply = parts(buildMime({ ...base, inReplyTo: 'junk <a@b.test> <c@d.test>', references: '<x@y.test> <a@b.test> <x@y.test>' }));
    expect(reply.headers).toContain('In-Reply-To: <a@b.test>');
    expect(reply.headers).toContain('References: <x@y.test> <a@b.test>');
    const added = parts(buildMime({ ...base, inReplyTo: '<a@b.test>', references: '<x@y.test>' }));
    expect(added.headers).toContain('References: <x@y.test> <a@b.test>');
    const only = parts(buildMime({ ...base, inReplyTo: '<a@b.test>' }));
    expect(only.headers).toContain('References: <a@b.test>');
    const none = parts(buildMime({ ...base, inReplyTo: null, references: null }));
    expect(none.headers.filter((h) => /^(In-Reply-To|References):/.test(h))).toEqual([]);
    const refsOnly = parts(buildMime({ ...base, references: '<x@y.test>' }));
    expect(refsOnly.headers.filter((h) => /^(In-Reply-To|References):/.test(h))).toEqual(['References: <x@y.test>']);
  });

  it('folds References between ids once a line would pass 78 characters', () => {
    const id = (bare: number) => `<${'i'.repeat(bare - 7)}@x.test>`;
    // "References:" (11) + " " + 20 + " " + 45 = 78: fits; one more id goes to the next line.
    const fits = [id(18), id(43), id(10)];
    expect(fits.map((i) => i.length)).toEqual([20, 45, 12]);
    const text = decode(buildMime({ ...base, references: fits.join(' ') }));
    expect(text).toContain(`\r\nReferences: ${fits[0]} ${fits[1]}\r\n ${fits[2]}\r\n`);
    // One character more and the second id starts a line of its own.
    const over = [id(18), id(44)];
    expect(decode(buildMime({ ...base, references: over.join(' ') }))).toContain(`\r\nReferences: ${over[0]}\r\n ${over[1]}\r\n`);
    // An id too long for the first line still goes on it: a header line never holds only its name.
    const long = id(120);
    expect(decode(buildMime({ ...base, references: `${long} ${id(10)}` }))).toContain(`\r\nReferences: ${long}\r\n ${id(10)}\r\n`);
  });
});
