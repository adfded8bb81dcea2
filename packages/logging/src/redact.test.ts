import { redactString } from './redact';

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
});
