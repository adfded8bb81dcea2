import { bareAddress, describeLeaks, emailSentences, findLeaks } from '../support/logs';

/** The scan every e2e teardown runs (loop-harness close): what it finds and what it lets pass. */
describe('privacy scan of process logs and Sentry envelopes', () => {
  const data = {
    addresses: ['ava+tag@creators.test'],
    sentences: emailSentences('Hi Ava,\n\nThanks for reaching out! My rate for this would be $3,500.00.\n> On Monday we wrote: Our offer for one video is $1,000.00 flat.\nCheers'),
    secrets: ['sk-ant-sandbox-key', 'short'],
    patterns: [/ya29\.[A-Za-z0-9._-]{8,}/],
  };

  it('splits email text into sentences long enough to be telling (quotes included)', () => {
    expect(data.sentences).toEqual(['Thanks for reaching out!', 'My rate for this would be $3,500.00.', 'On Monday we wrote: Our offer for one video is $1,000.00 flat.']);
    expect(bareAddress('Ava <AVA+tag@Creators.test>')).toBe('ava+tag@creators.test');
    expect(bareAddress('no address')).toBeNull();
  });

  it('finds addresses, sentences (as written or JSON-escaped) and credentials, case-insensitively', () => {
    const logs = {
      'api#0': '{"message":"reply","from":"AVA+TAG@creators.test"}\n',
      'worker#1': `{"text":${JSON.stringify('x My rate for this would be $3,500.00. y')}}\n`,
      'sentry envelope #0': '{"exception":{"values":[{"value":"401 for ya29.a0AfH6SMBsecret"}]}}\n{"key":"sk-ant-sandbox-key"}',
    };
    const leaks = findLeaks(logs, data);
    expect(leaks.map((l) => [l.source, l.kind])).toEqual([
      ['api#0', 'address'],
      ['worker#1', 'sentence'],
      ['sentry envelope #0', 'secret'],
      ['sentry envelope #0', 'secret'],
    ]);
    expect(describeLeaks(leaks)).toMatch(/^4 private value\(s\) reached logs or Sentry:\n {2}api#0: address "ava\+tag@creators\.test" in: /);
  });

  it('lets redacted lines, domains, prices and short values through', () => {
    const logs = { 'worker#1': '{"message":"reply","from":"***@creators.test","ask":"$3,500.00","note":"short"}\n{"error":"401 for [redacted]"}' };
    expect(findLeaks(logs, data)).toEqual([]);
  });
});
