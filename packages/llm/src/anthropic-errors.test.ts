import { APIConnectionError, APIConnectionTimeoutError, APIError, OverloadedError as SdkOverloadedError } from '@anthropic-ai/sdk';
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

describe('retryAfterMs edge cases', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it('ignores a zero, infinite or unreadable retry-after-ms and falls back to retry-after', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '0', 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': 'Infinity', 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '-5' }), now)).toBeNull();
    expect(retryAfterMs(new Headers({ 'retry-after': 'Infinity' }), now)).toBeNull();
  });

  it('a date that is now is no wait; no headers at all is no wait', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(now).toUTCString() }), now)).toBeNull();
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(now + 1000).toUTCString() }), now)).toBe(1000);
    expect(retryAfterMs(undefined, now)).toBeNull();
  });
});

describe('classifyAnthropicError details', () => {
  it('taxonomy errors keep their own object and label', () => {
    const spend = new PermanentError('cap', 'spend_limit');
    expect(classifyAnthropicError(spend)).toEqual({ error: spend, type: 'spend_limit' });
    const permanent = new PermanentError('bad output', 'invalid_tool_output');
    expect(classifyAnthropicError(permanent)).toEqual({ error: permanent, type: 'permanent' });
    const overloaded = new OverloadedError('busy', 'anthropic');
    expect(classifyAnthropicError(overloaded)).toEqual({ error: overloaded, type: 'overloaded' });
    const transient = new TransientError('blip', 'connection');
    expect(classifyAnthropicError(transient)).toEqual({ error: transient, type: 'transient' });
  });

  it('a connection failure or a status-less API error is a transient connection error', () => {
    const reset = new APIConnectionError({ message: 'reset' });
    const c = classifyAnthropicError(reset);
    expect(c).toEqual({ error: expect.any(TransientError), type: 'transient' });
    expect(c.error).toMatchObject({ reason: 'connection', message: 'Anthropic connection failed: reset', cause: reset });
    const aborted = new APIError(undefined, undefined, 'aborted', undefined);
    expect(classifyAnthropicError(aborted).error).toMatchObject({ reason: 'connection', message: 'Anthropic connection failed: aborted' });
  });

  it('anything else thrown is a transient unknown error that keeps its message', () => {
    const e = new Error('socket hang up');
    expect(classifyAnthropicError(e).error).toMatchObject({ reason: 'unknown', message: 'Anthropic call failed: socket hang up', cause: e });
    expect(classifyAnthropicError('boom')).toMatchObject({ type: 'transient', error: { reason: 'unknown', message: 'Anthropic call failed: boom' } });
  });

  it('names the status, the request and the API message in what it throws', () => {
    expect(classifyAnthropicError(apiError(500, 'api_error')).error).toMatchObject({ reason: 'http_500', message: 'Anthropic 500 (request req_1): m' });
    expect(classifyAnthropicError(apiError(404, 'not_found_error')).error).toMatchObject({ reason: 'http_404', message: 'Anthropic 404 (request req_1): m' });
    // The SDK error stays attached as the cause (its status, headers and request id).
    expect(classifyAnthropicError(apiError(500, 'api_error')).error.cause).toBeInstanceOf(APIError);
    expect(classifyAnthropicError(apiError(404, 'not_found_error')).error.cause).toBeInstanceOf(APIError);
    expect(classifyAnthropicError(apiError(529, 'overloaded_error')).error).toMatchObject({ source: 'anthropic', message: 'Anthropic 529 (request req_1): overloaded: m' });
    expect(classifyAnthropicError(apiError(429, 'rate_limit_error')).error).toMatchObject({ message: 'Anthropic 429 (request req_1): rate limited: m' });
    const spend = classifyAnthropicError(apiError(429, 'rate_limit_error', {}, { error_code: 'enforced_spend_limit_reached' }));
    expect(spend).toMatchObject({ status: 429, requestId: 'req_1' });
    expect(spend.error).toMatchObject({ message: 'Anthropic 429 (request req_1): spend limit reached (enforced_spend_limit_reached): m' });
    expect((spend.error as PermanentError).cause).toBeInstanceOf(APIError);
    expect(classifyAnthropicError(apiError(429, 'rate_limit_error'))).toMatchObject({ status: 429, requestId: 'req_1', waitMs: 30_000 });
    // No request id header, no API message: the status and the SDK's own message.
    const bare = new APIError(503, undefined, 'upstream down', new Headers());
    const c = classifyAnthropicError(bare);
    expect(c).toMatchObject({ type: 'transient', status: 503 });
    expect(c.requestId).toBeUndefined();
    expect(c.error.message).toBe('Anthropic 503: 503 upstream down');
  });

  it('a 429 without a body or its details is a rate limit', () => {
    for (const body of [undefined, { type: 'error' }, { type: 'error', error: { type: 'rate_limit_error' } }]) {
      const e = new APIError(429, body, 'm', new Headers({ 'retry-after': '1' }));
      Object.defineProperty(e, 'errorCode', { value: null });
      expect(classifyAnthropicError(e)).toMatchObject({ type: 'rate_limited', waitMs: 1000 });
    }
  });

  it('uses the given clock for a retry-after date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const e = apiError(429, 'rate_limit_error', { 'retry-after': 'Tue, 01 Jan 2030 00:00:05 GMT' });
    expect(classifyAnthropicError(e, { now })).toMatchObject({ type: 'rate_limited', waitMs: 5000 });
  });

  it('overloaded by status 529, by the SDK class or by the error type, each alone', () => {
    expect(classifyAnthropicError(new APIError(529, { type: 'error', error: { type: 'api_error', message: 'm' } }, 'm', new Headers())).type).toBe('overloaded');
    expect(classifyAnthropicError(new SdkOverloadedError(500, { type: 'error', error: { type: 'api_error', message: 'm' } }, 'm', new Headers())).type).toBe('overloaded');
    expect(classifyAnthropicError(apiError(500, 'overloaded_error')).type).toBe('overloaded');
    expect(classifyAnthropicError(apiError(501, 'api_error')).type).toBe('transient');
    expect(classifyAnthropicError(apiError(499, 'api_error')).type).toBe('permanent');
    expect(classifyAnthropicError(apiError(407, 'api_error')).type).toBe('permanent');
  });
});
