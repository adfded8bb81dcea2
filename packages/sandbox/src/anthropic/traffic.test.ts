import { createTrafficShaper } from './traffic';

describe('sandbox traffic shaper', () => {
  it('without a limit: only the latency, no rate-limit headers', () => {
    const shaper = createTrafficShaper({ latencyMs: 2_000 });
    expect(shaper.admit(0)).toEqual({ status: 200, delayMs: 2_000, headers: {} });
  });

  it('enforces requests per minute as a bucket of one second, with the API headers', () => {
    const shaper = createTrafficShaper();
    shaper.set({ requestsPerMinute: 120, latencyMs: 10 });
    const t0 = Date.now();
    const first = shaper.admit(t0);
    expect(first.status).toBe(200);
    expect(first.headers['anthropic-ratelimit-requests-limit']).toBe('120');
    expect(first.headers['anthropic-ratelimit-requests-remaining']).toBe('1');
    expect(Date.parse(first.headers['anthropic-ratelimit-requests-reset'] ?? '')).toBeGreaterThan(t0);
    expect(shaper.admit(t0).status).toBe(200);
    const refused = shaper.admit(t0);
    expect(refused).toMatchObject({ status: 429, delayMs: 0 });
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['anthropic-ratelimit-requests-remaining']).toBe('0');
    // Half a second later one request's worth has come back (2 per second).
    expect(shaper.admit(t0 + 500).status).toBe(200);
    expect(shaper.admit(t0 + 500).status).toBe(429);
  });
});
