import fc from 'fast-check';
import { emailDomain, redact, REDACTED, redactString } from './redact';

// Mutation testing runs these once per mutant: a tenth of the cases there, all of them here.
const cases = (n: number) => (process.env.STRYKER_MUTATOR_WORKER === undefined ? n : n / 10);

// The regexes the linear scanners stand for (backtracking, so only fed short strings here).
const EMAIL_REGEX = /([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
const JWT_REGEX = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

describe('redactString', () => {
  it('keeps only the domain of an address', () => {
    expect(redactString('from ana.lopez+deals@creators.test, cc bob@mail.y.co')).toBe('from ***@creators.test, cc ***@mail.y.co');
    expect(redactString('a@b.com5x@c.com')).toBe('***@b.com5x@c.com'.replace('5x@c.com', '***@c.com'));
  });

  it('leaves text without an address alone, whatever it looks like', () => {
    expect(redactString('user@localhost and @@@ and a@b.c')).toBe('user@localhost and @@@ and a@b.c');
  });

  it('redacts a JWT, but not a run of base64-like text that only starts like one', () => {
    expect(redactString('token eyJhbGciOi.eyJzdWIiOi.sig-nature done')).toBe('token [redacted] done');
    expect(redactString('eyJ-eyJ-eyJ-eyJabc')).toBe('eyJ-eyJ-eyJ-eyJabc');
  });

  it.each([
    ['a@b.co', '***@b.co'],
    ['<a@b.co>', '<***@b.co>'],
    ['a@.co', 'a@.co'],
    ['a@b.c.de', '***@b.c.de'],
    ['a@b.de.f', '***@b.de.f'],
    ['a@b.de1', '***@b.de1'],
    ['a@b.d1e', 'a@b.d1e'],
    ['x a@b@c.de', 'x a@***@c.de'],
    ['a@b.co@c.de', '***@b.co@c.de'],
    ['a@b.co d@e.fg', '***@b.co ***@e.fg'],
    ['a@b.co-d@e.fg', '***@b.co***@e.fg'],
    ['a@b.co-@e.fg', '***@b.co***@e.fg'],
    ['a@b.co1@e.fg', '***@b.co***@e.fg'],
    ['a@b.co.uk.', '***@b.co.uk.'],
    ['a@b.com!', '***@b.com!'],
    ['é@b.com', 'é@b.com'],
    ['xé@b.com', 'xé@b.com'],
    ['é x@b.com', 'é ***@b.com'],
  ])('%j → %j', (input, output) => expect(redactString(input)).toBe(output));

  it('redacts addresses exactly as the reference regex would', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'B', '1', '.', '-', '+', '@', ' ', 'é', 'co', '@b.', '.de'), maxLength: 24 });
    fc.assert(
      fc.property(text, (s) => expect(redactString(s)).toBe(s.replace(EMAIL_REGEX, '***@$2'))),
      { numRuns: cases(3000) },
    );
  });

  it('redacts JWTs exactly as the reference regex would', () => {
    const text = fc.string({ unit: fc.constantFrom('eyJ', 'a', 'J1_', '-', '.', ' ', 'aaaaa', '!'), maxLength: 20 });
    fc.assert(
      fc.property(text, (s) => expect(redactString(s)).toBe(s.replace(JWT_REGEX, REDACTED))),
      { numRuns: cases(3000) },
    );
  });

  it.each([
    ['a jwt at the start of a run', 'xx-eyJabcde.fghij.k', 'xx-[redacted]'],
    ['a payload one short', 'eyJabcd.fghij.k', 'eyJabcd.fghij.k'],
    ['a payload one short after a "-"', 'xx-eyJabcd.fghij.k', 'xx-eyJabcd.fghij.k'],
    ['a body one short', 'eyJabcde.fghi.k', 'eyJabcde.fghi.k'],
    ['no signature dot', 'eyJabcde.fghij', 'eyJabcde.fghij'],
    ['an empty signature', 'eyJabcde.fghij.', '[redacted]'],
    ['after a word character', '_eyJabcde.fghij.k', '_eyJabcde.fghij.k'],
    ['the second of two', 'a.eyJabcde.fghij.k.eyJabcde.fghij.m', 'a.[redacted].[redacted]'],
    ['text after it', 'eyJabcde.fghij.k.tail', '[redacted].tail'],
    ['from the first "eyJ" of its segment', 'eyJ-eyJabcde.fghij.k', '[redacted]'],
    ['a later "eyJ" when the first is not on a boundary', 'aeyJ-eyJabcde.fghij.k', 'aeyJ-[redacted]'],
  ])('JWT: %s', (_what, input, output) => expect(redactString(input)).toBe(output));

  it.each([
    ['Authorization: Bearer abc.DEF-123', 'Authorization: [redacted]'],
    ['Basic dXNlcjpwYXNz', '[redacted]'],
    ['xoxb-123-abc', '[redacted]'],
    ['xapp-1-A', '[redacted]'],
    ['sk-ant-api03_x', '[redacted]'],
    ['pk_live_1', '[redacted]'],
    ['ya29.a0Af', '[redacted]'],
    ['1//0gAbCdEfGhIj', '[redacted]'],
  ])('credential %j', (input, output) => expect(redactString(input)).toBe(output));
});

describe('redact', () => {
  it('redacts strings anywhere in records and arrays, and leaves other values alone', () => {
    expect(redact({ to: 'a@b.co', n: 3, ok: true, none: null, list: ['x@y.io', 4], nested: { why: 'Bearer zzz' } })).toEqual({
      to: '***@b.co',
      n: 3,
      ok: true,
      none: null,
      list: ['***@y.io', 4],
      nested: { why: REDACTED },
    });
    expect(redact(undefined)).toBeUndefined();
    expect(redact(7)).toBe(7);
    expect(redact('a@b.co')).toBe('***@b.co');
  });

  it('replaces the values of secret keys whatever they hold, but not absent ones', () => {
    expect(redact({ Authorization: 'x', body: { a: 1 }, text: 'hi', access_token: 't', accessToken: 't', 'X-API-KEY': 'k', tokens: 'kept' })).toEqual({
      Authorization: REDACTED,
      body: REDACTED,
      text: REDACTED,
      access_token: REDACTED,
      accessToken: REDACTED,
      'X-API-KEY': REDACTED,
      tokens: 'kept',
    });
    expect(redact({ body: undefined, text: null })).toEqual({ body: undefined, text: null });
    expect(Object.hasOwn(redact({ body: undefined }) as object, 'body')).toBe(true);
  });

  it('logs an error as its name and redacted message only', () => {
    const e = new TypeError('no mailbox for a@b.co');
    (e as unknown as { body: string }).body = 'secret';
    expect(redact(e)).toEqual({ name: 'TypeError', message: 'no mailbox for ***@b.co' });
    expect(redact({ error: e })).toEqual({ error: { name: 'TypeError', message: 'no mailbox for ***@b.co' } });
  });

  it('stops descending past 8 levels', () => {
    let deep: unknown = 'a@b.co';
    for (let i = 0; i < 9; i++) deep = { next: deep };
    let out = redact(deep) as { next: unknown };
    for (let i = 0; i < 8; i++) out = out.next as { next: unknown };
    expect(out).toEqual({ next: '[depth]' });
    expect(redact(['a@b.co'], 8)).toEqual(['[depth]']);
    expect(redact('a@b.co', 8)).toBe('***@b.co');
    expect(redact('a@b.co', 9)).toBe('[depth]');
  });
});

describe('emailDomain', () => {
  it.each([
    ['Ana@Creators.TEST', 'creators.test'],
    ['Ana Lopez <ana@x.io>', 'x.io'],
    ['Ana <ana@x.io>\r\n (Ana Lopez, personal)', 'x.io'],
    ['a@b@c.io', 'c.io'],
    ['@x.io', 'x.io'],
    ['x.io> and more', 'unknown'],
    ['no address', 'unknown'],
  ])('%j → %j', (address, domain) => expect(emailDomain(address)).toBe(domain));
});
