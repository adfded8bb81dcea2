import { z } from 'zod';

/**
 * How the sandbox behaves under load, like the real API: a model's answer takes time, and an
 * account has a requests-per-minute limit enforced as a token bucket (capacity one second's
 * worth, refilled continuously), announced on every answer by the
 * `anthropic-ratelimit-requests-{limit,remaining,reset}` headers and enforced with a 429 and
 * `retry-after` (whole seconds, as the API sends it). Queued faults take precedence.
 */
export const anthropicTraffic = z
  .object({
    /** Every successful answer waits this long. */
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    /** The account's requests per minute; unset: no limit and no rate-limit headers. */
    requestsPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();

export type AnthropicTraffic = z.input<typeof anthropicTraffic>;

export interface TrafficDecision {
  /** 429 when the bucket is empty; otherwise the answer goes ahead after `delayMs`. */
  status: 200 | 429;
  delayMs: number;
  headers: Record<string, string>;
}

export interface TrafficShaper {
  set(traffic: AnthropicTraffic): void;
  admit(now?: number): TrafficDecision;
}

export function createTrafficShaper(initial: AnthropicTraffic = {}): TrafficShaper {
  let traffic = anthropicTraffic.parse(initial);
  let tokens = 0;
  let at = 0;

  const capacity = (rpm: number) => Math.max(1, rpm / 60);

  return {
    set(next) {
      traffic = anthropicTraffic.parse(next);
      tokens = traffic.requestsPerMinute ? capacity(traffic.requestsPerMinute) : 0;
      at = Date.now();
    },
    admit(now = Date.now()) {
      const delayMs = traffic.latencyMs ?? 0;
      const rpm = traffic.requestsPerMinute;
      if (!rpm) return { status: 200, delayMs, headers: {} };
      const cap = capacity(rpm);
      const perMs = rpm / 60_000;
      tokens = Math.min(cap, tokens + Math.max(0, now - at) * perMs);
      at = now;
      const allowed = tokens >= 1;
      if (allowed) tokens -= 1;
      const headers: Record<string, string> = {
        'anthropic-ratelimit-requests-limit': String(rpm),
        'anthropic-ratelimit-requests-remaining': String(Math.max(0, Math.floor(tokens))),
        'anthropic-ratelimit-requests-reset': new Date(now + Math.ceil((cap - tokens) / perMs)).toISOString(),
      };
      if (allowed) return { status: 200, delayMs, headers };
      headers['retry-after'] = String(Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)));
      return { status: 429, delayMs: 0, headers };
    },
  };
}
