import { isValidMessageId, messageIds, parseAddressList } from './address.parser';

describe('parseAddressList', () => {
  it.each<[string | null | undefined, string[]]>([
    [null, []],
    [undefined, []],
    ['', []],
    ['A@B.Co', ['a@b.co']],
    ['Bob bob@x.io', ['bob@x.io']],
    ['"Doe, Jane" <jane@x.io>, bob@y.io (Bob), Team: carl@z.io;', ['jane@x.io', 'bob@y.io', 'carl@z.io']],
    ['a@x.io; b@y.io', ['a@x.io', 'b@y.io']],
    ['Bob < bob@x.io >', ['bob@x.io']],
    ['Bob <a@x.io>, c@y.io', ['a@x.io', 'c@y.io']],
    ['(x) a@x.io, (y) b@y.io', ['a@x.io', 'b@y.io']],
  ])('%j → %j', (value, addresses) => expect(parseAddressList(value)).toEqual(addresses));

  it.each<[string, string[]]>([
    ['"x@evil.io" real@x.io', ['real@x.io']],
    ['"a \\" b@evil.io" <real@x.io>', ['real@x.io']],
    ['"a \\" b@evil.io" real@x.io', ['real@x.io']],
    ['(evil@e.io) real@x.io', ['real@x.io']],
    ['(a (b) c@evil.io) real@x.io', ['real@x.io']],
    ['(a \\) c@evil.io) real@x.io', ['real@x.io']],
    ['Team x@evil.io: carl@z.io', ['carl@z.io']],
    ['evil@e.io (c): carl@z.io', ['carl@z.io']],
  ])('a display name, comment or group never stands in for the address: %j', (value, addresses) => {
    expect(parseAddressList(value)).toEqual(addresses);
  });

  it('reads the address written right after a quoted name, a comment or a group name', () => {
    expect(parseAddressList('"Ana"ana@x.io')).toEqual(['ana@x.io']);
    expect(parseAddressList('(Ana)ana@x.io')).toEqual(['ana@x.io']);
    expect(parseAddressList('Team:carl@z.io;')).toEqual(['carl@z.io']);
  });

  it('a backslash outside quotes and comments escapes nothing', () => {
    expect(parseAddressList('a\\,b@c.io')).toEqual(['b@c.io']);
  });

  it.each<[string, string[]]>([
    ['Bob <bob@x.io', []],
    ['"Bob bob@x.io', []],
    ['bob@x.io (Bob', []],
    ['Bob <bob@x.io> (c', ['bob@x.io']],
    ['<a@x.io> <b@y.io', ['a@x.io']],
    ['a@x.io <b', []],
  ])('an unterminated bracket, quote or comment at the end: %j → %j', (value, addresses) => {
    expect(parseAddressList(value)).toEqual(addresses);
  });

  it.each(['@x.io', 'bob@', 'a@b@c.io', '<a b@c.io>', '<a@b.io x>', '<a[b]@c.io>', '<a"b@c.io>', '<a:b@c.io>', '<a\\b@c.io>'])('%j is no bare address', (value) => {
    expect(parseAddressList(value)).toEqual([]);
  });
});

describe('message ids', () => {
  it.each([
    ['abc@mail.gmail.com', true],
    ['CAFE+x.1=y@[10.0.0.1]', true],
    ['a@b', true],
    ['', false],
    ['no-at-sign', false],
    ['a@b@c', false],
    ['@b', false],
    ['a@', false],
    ['a b@c', false],
    ['<a@b>', false],
    ['a@b\r\nBcc: x@y', false],
    ['a[1]@b', false],
    ['é@b', false],
  ])('%j valid: %p', (id, valid) => expect(isValidMessageId(id)).toBe(valid));

  it('allows ids up to 250 characters', () => {
    expect(isValidMessageId(`${'a'.repeat(246)}@b.c`)).toBe(true);
    expect(isValidMessageId(`${'a'.repeat(247)}@b.c`)).toBe(false);
  });

  it('splits on whitespace, commas and brackets, keeps each valid id in brackets', () => {
    expect(messageIds('<a@b> <c@d>,e@f\r\n\t<bad> <g@h>')).toEqual(['<a@b>', '<c@d>', '<e@f>', '<g@h>']);
    expect(messageIds('  ')).toEqual([]);
    expect(messageIds('')).toEqual([]);
    expect(messageIds(null)).toEqual([]);
    expect(messageIds(undefined)).toEqual([]);
  });
});
