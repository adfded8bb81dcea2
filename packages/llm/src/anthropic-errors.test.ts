import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { OverloadedError, PermanentError, RateLimitedError, TransientError } from '@parley/queue';
import { classifyAnthropicError, mapAnthropicError, retryAfterMs } from './anthropic-errors';

// Errors built the way the SDK builds them from a response (APIError.generate), not stand-ins.
const apiError = (status: number, type: string, headers: Record<string, string> = {}, details?: Record<string, string>) =>
  APIError.generate(status, { type: 'error', error: { type, message: 'm', ...(details ? { details } : {}) }, request_id: 'req_1' }, undefined, new Headers({ 'request-id': 'req_1', ...headers }));

describe('retryAfterMs', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it.each([
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'retry-after-ms': '1.2' }, 2],
    [{ 'retry-after': '3' }, 3000],
    [{ 'retry-after': '0.5' }, 500],
    [{ 'retry-after': 'Tue, 01 Jan 2030 00:00:42 GMT' }, 42_000],
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    [{ 'retry-after-ms': 'soon', 'retry-after': '2' }, 2000],
  ])('%j → %d ms', (headers, ms) => expect(retryAfterMs(new Headers(headers), now)).toBe(ms));

  it.each<Record<string, string>>([{}, { 'retry-after': '0' }, { 'retry-after': '-3' }, { 'retry-after': 'later' }, { 'retry-after': 'Mon, 31 Dec 2029 23:59:00 GMT' }])('%j → none', (headers) => {
    expect(retryAfterMs(new Headers(headers), now)).toBeNull();
  });
});

describe('mapAnthropicError', () => {
  it('429 → RateLimitedError with the header wait, or the default', () => {
    const e = mapAnthropicError(apiError(429, 'rate_limit_error', { 'retry-after': '3' }));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).waitMs).toBe(3000);
    expect((e as RateLimitedError).source).toBe('anthropic');
    expect((mapAnthropicError(apiError(429, 'rate_limit_error')) as RateLimitedError).waitMs).toBe(30_000);
    expect((mapAnthropicError(apiError(429, 'rate_limit_error'), { defaultRateLimitWaitMs: 5 }) as RateLimitedError).waitMs).toBe(5);
  });

  it.each(['enforced_spend_limit_reached', 'contract_spend_limit_reached'])('429 %s → permanent spend limit', (code) => {
    const c = classifyAnthropicError(apiError(429, 'rate_limit_error', { 'retry-after': '3' }, { error_code: code }));
    expect(c.error).toBeInstanceOf(PermanentError);
    expect(c.type).toBe('spend_limit');
    expect((c.error as PermanentError).reason).toBe('spend_limit');
  });

  it('reads the spend-limit code from the raw body when the SDK did not lift it', () => {
    const e = new APIError(429, { type: 'error', error: { type: 'rate_limit_error', details: { error_code: 'enforced_spend_limit_reached' } } }, 'm', new Headers());
    Object.defineProperty(e, 'errorCode', { value: null });
    expect(classifyAnthropicError(e).type).toBe('spend_limit');
  });

  it('a ramp limit 429 is still a rate limit (it carries a retry-after)', () => {
    expect(classifyAnthropicError(apiError(429, 'rate_limit_error', { 'retry-after': '4' }, { error_code: 'ramp_limit_exceeded' }))).toMatchObject({ type: 'rate_limited', waitMs: 4000 });
  });

  it.each([
    [529, 'overloaded_error', OverloadedError, 'overloaded'],
    [500, 'api_error', TransientError, 'transient'],
    [502, 'api_error', TransientError, 'transient'],
    [503, 'api_error', TransientError, 'transient'],
    [504, 'timeout_error', TransientError, 'transient'],
    [408, 'timeout_error', TransientError, 'transient'],
    [400, 'invalid_request_error', PermanentError, 'permanent'],
    [401, 'authentication_error', PermanentError, 'permanent'],
    [402, 'billing_error', PermanentError, 'permanent'],
    [403, 'permission_error', PermanentError, 'permanent'],
    [404, 'not_found_error', PermanentError, 'permanent'],
    [409, 'conflict_error', PermanentError, 'permanent'],
    [413, 'request_too_large', PermanentError, 'permanent'],
    [422, 'invalid_request_error', PermanentError, 'permanent'],
  ])('%d %s → %p', (status, type, cls, label) => {
    const c = classifyAnthropicError(apiError(status, type));
    expect(c.error).toBeInstanceOf(cls);
    expect(c).toMatchObject({ type: label, status, requestId: 'req_1' });
    expect(c.error.message).toContain('req_1');
  });

  it('connection failures, timeouts and unknown errors are transient; taxonomy errors pass through', () => {
    expect(mapAnthropicError(new APIConnectionError({ message: 'reset' }))).toBeInstanceOf(TransientError);
    expect(mapAnthropicError(new APIConnectionTimeoutError())).toBeInstanceOf(TransientError);
    expect(mapAnthropicError(new Error('socket hang up'))).toBeInstanceOf(TransientError);
    const own = new PermanentError('bad output', 'invalid_tool_output');
    expect(mapAnthropicError(own)).toBe(own);
    const wait = new RateLimitedError('x', 10, 'anthropic');
    expect(classifyAnthropicError(wait)).toMatchObject({ type: 'rate_limited', waitMs: 10 });
  });
});
