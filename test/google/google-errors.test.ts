import { HistoryExpiredError, mapGoogleError, retryAfterMs } from '@parley/google';
import { classifyError, PermanentError, RateLimitedError, TransientError } from '@parley/queue';
import { GaxiosError } from 'gaxios';

function gaxiosError(status: number, data: unknown, headers: Record<string, string> = {}): GaxiosError {
  const config = { url: new URL('http://127.0.0.1/gmail/v1/users/me/messages'), headers: new Headers({ authorization: 'Bearer ya29.secret' }) };
  const response = { status, statusText: '', headers: new Headers(headers), data, config, bodyUsed: true } as unknown as ConstructorParameters<typeof GaxiosError>[2];
  return new GaxiosError(`Request failed with status code ${status}`, config, response);
}

const googleBody = (code: number, reason: string) => ({ error: { code, message: `m${code}`, errors: [{ reason, domain: 'global', message: 'x' }], status: 'X' } });

describe('mapGoogleError', () => {
  it('maps 429 and quota 403s to a rate limit with the Retry-After wait', () => {
    const seconds = mapGoogleError(gaxiosError(429, googleBody(429, 'rateLimitExceeded'), { 'retry-after': '12' }), 'gmail');
    expect(seconds).toBeInstanceOf(RateLimitedError);
    expect((seconds as RateLimitedError).waitMs).toBe(12_000);
    const quota = mapGoogleError(gaxiosError(403, googleBody(403, 'userRateLimitExceeded')));
    expect(quota).toBeInstanceOf(RateLimitedError);
    expect((quota as RateLimitedError).waitMs).toBe(30_000);
    expect(classifyError(quota)).toBe('rate_limited');
  });

  it('reads Retry-After as an HTTP date too', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:45 GMT' }), now)).toBe(45_000);
    expect(retryAfterMs({ 'Retry-After': '3' })).toBe(3000);
    expect(retryAfterMs(new Headers())).toBeNull();
  });

  it('maps 5xx and 408 to transient, other 4xx to permanent with a reason', () => {
    for (const status of [500, 502, 503, 504, 408]) expect(mapGoogleError(gaxiosError(status, googleBody(status, 'backendError')))).toBeInstanceOf(TransientError);
    const cases: [number, string][] = [
      [400, 'bad_request'],
      [401, 'unauthorized'],
      [403, 'forbidden'],
      [404, 'not_found'],
    ];
    for (const [status, reason] of cases) {
      const mapped = mapGoogleError(gaxiosError(status, googleBody(status, 'x')));
      expect(mapped).toBeInstanceOf(PermanentError);
      expect((mapped as PermanentError).reason).toBe(reason);
      expect(classifyError(mapped)).toBe('permanent');
    }
  });

  it('never carries the request (and its bearer token) into the mapped error', () => {
    const mapped = mapGoogleError(gaxiosError(500, googleBody(500, 'backendError')));
    expect(JSON.stringify({ ...mapped, message: mapped.message, cause: (mapped as { cause?: unknown }).cause })).not.toMatch(/ya29/);
  });

  it('maps network failures without a response to transient and passes taxonomy errors through', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(mapGoogleError(reset)).toBeInstanceOf(TransientError);
    const expired = new HistoryExpiredError('9000000001');
    expect(mapGoogleError(expired)).toBe(expired);
    const bug = new TypeError('x is not a function');
    expect(mapGoogleError(bug)).toBe(bug);
  });
});
