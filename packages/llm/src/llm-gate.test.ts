import { estimateInputTokens, llmGateKeys, readRateLimitHeaders } from './llm-gate';

describe('readRateLimitHeaders', () => {
  it('reads limit and remaining per bucket (requests, input tokens, output tokens)', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2026-11-29T18:00:01Z',
      'anthropic-ratelimit-input-tokens-limit': '30000',
      'anthropic-ratelimit-input-tokens-remaining': '0',
      'anthropic-ratelimit-output-tokens-limit': '8000',
    });
    expect(readRateLimitHeaders(headers)).toEqual([
      { limit: 50, remaining: 49 },
      { limit: 30000, remaining: 0 },
      { limit: 8000, remaining: null },
    ]);
  });

  it('treats hostile or unusable values as absent', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '0',
      'anthropic-ratelimit-requests-remaining': '-1',
      'anthropic-ratelimit-input-tokens-limit': '1e9',
      'anthropic-ratelimit-input-tokens-remaining': '12.5',
      'anthropic-ratelimit-output-tokens-limit': '9'.repeat(40),
      'anthropic-ratelimit-output-tokens-remaining': ' 7 ',
    });
    expect(readRateLimitHeaders(headers)).toEqual([
      { limit: null, remaining: null },
      { limit: null, remaining: null },
      { limit: null, remaining: 7 },
    ]);
    expect(readRateLimitHeaders(null)).toEqual([
      { limit: null, remaining: null },
      { limit: null, remaining: null },
      { limit: null, remaining: null },
    ]);
  });
});

describe('estimateInputTokens', () => {
  it('counts about four characters per token, at least one', () => {
    expect(estimateInputTokens({ text: 'x'.repeat(4000) })).toBe(Math.ceil(JSON.stringify({ text: 'x'.repeat(4000) }).length / 4));
    expect(estimateInputTokens(undefined)).toBe(1);
  });
});

describe('llmGateKeys', () => {
  it('keeps every key under the queue prefix, in one Cluster slot', () => {
    const keys = llmGateKeys('{parley}');
    for (const key of Object.values(keys)) expect(key.startsWith('{parley}:{llm-gate}:')).toBe(true);
    expect(new Set(Object.values(llmGateKeys('a'))).size).toBe(3);
    expect(llmGateKeys('a').pause).not.toBe(llmGateKeys('b').pause);
  });
});
