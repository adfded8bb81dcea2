import { allowsFollowUp, compareHistoryIds, FOLLOW_UP_STATES, historyIdValue, isHistoryId, maxHistoryId, replySubject } from './mail-rules';
import { NEGOTIATION_STATES } from './state-machine';

describe('follow-up states', () => {
  it('are exactly the states that wait for the influencer after our email', () => {
    expect([...FOLLOW_UP_STATES]).toEqual(['awaiting_reply', 'counter_sent']);
    expect(NEGOTIATION_STATES.filter(allowsFollowUp)).toEqual(['awaiting_reply', 'counter_sent']);
    expect(allowsFollowUp('stale')).toBe(false);
    expect(allowsFollowUp('')).toBe(false);
  });
});

describe('replySubject', () => {
  it.each([
    ['Collab with Acme', 'Re: Collab with Acme'],
    ['Re: Collab with Acme', 'Re: Collab with Acme'],
    ['RE: Collab', 'Re: Collab'],
    ['re:Collab', 'Re: Collab'],
    ['  Re:   Collab', 'Re: Collab'],
    ['Regarding rates', 'Re: Regarding rates'],
    ['Collab re: rates', 'Re: Collab re: rates'],
    ['', 'Re: '],
  ])('%j -> %j', (subject, expected) => {
    expect(replySubject(subject)).toBe(expected);
  });

  it('adds only one prefix however often it is applied', () => {
    expect(replySubject(replySubject(replySubject('Hello')))).toBe('Re: Hello');
  });
});

describe('history ids', () => {
  const past2to53 = '9007199254740993'; // 2^53 + 1: a JavaScript number reads it as 2^53

  it('are unsigned decimal strings', () => {
    expect(isHistoryId('0')).toBe(true);
    expect(isHistoryId('18446744073709551615')).toBe(true);
    for (const bad of ['', '-1', '1.5', '1e3', ' 12', '12 ', 'abc', '184467440737095516150', 12, null, undefined]) expect(isHistoryId(bad)).toBe(false);
  });

  it('compare exactly past 2^53, a missing id being the oldest', () => {
    expect(compareHistoryIds(past2to53, '9007199254740992')).toBe(1);
    expect(compareHistoryIds('9007199254740992', past2to53)).toBe(-1);
    expect(compareHistoryIds(past2to53, past2to53)).toBe(0);
    expect(compareHistoryIds('10', '9')).toBe(1);
    expect(compareHistoryIds(null, '0')).toBe(0);
    expect(compareHistoryIds(undefined, '1')).toBe(-1);
    expect(compareHistoryIds('1', '')).toBe(1);
    expect(historyIdValue(past2to53)).toBe(9007199254740993n);
    expect(() => historyIdValue('12a')).toThrow('not a Gmail history id: "12a"');
  });

  it('keep the newer of the stored and the candidate id', () => {
    expect(maxHistoryId('100', '99')).toBe('100');
    expect(maxHistoryId('99', '100')).toBe('100');
    expect(maxHistoryId('100', '100')).toBe('100');
    expect(maxHistoryId('9007199254740992', past2to53)).toBe(past2to53);
    expect(maxHistoryId(null, '5')).toBe('5');
    expect(maxHistoryId(undefined, '5')).toBe('5');
    expect(maxHistoryId('garbage', '5')).toBe('5');
    // A tie keeps the stored id as written.
    expect(maxHistoryId('7', '007')).toBe('7');
  });
});
