import { buildMime } from './mime.builder';

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
