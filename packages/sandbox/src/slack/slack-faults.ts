import { z } from 'zod';

const methodName = z.string().regex(/^[a-z]+(\.[a-zA-Z]+)+$/).optional();
/** How many calls the fault applies to; omitted = the next matching call only. */
const times = z.number().int().min(1).max(1_000_000).optional();

/**
 * Faults the Slack stand-in injects on demand, each for the next `times` calls of `method`
 * (any method when omitted), consumed in the order they were added.
 */
export const slackFaultSchema = z.discriminatedUnion('kind', [
  /** HTTP 429 with `Retry-After: retryAfterSec` and `{ok:false,error:'ratelimited'}`. */
  z.object({ kind: z.literal('rate_limited'), retryAfterSec: z.number().int().min(0).max(3600), method: methodName, times }),
  /** HTTP 200 `{ok:false,error}`, e.g. invalid_auth, channel_not_found, not_in_channel. */
  z.object({ kind: z.literal('error'), error: z.string().regex(/^[a-z_]+$/), method: methodName, times }),
  /** Performs the call (a post is stored) and then drops the connection before answering. */
  z.object({ kind: z.literal('drop_after_accept'), method: methodName, times }),
  /** Answers normally after `delayMs`. */
  z.object({ kind: z.literal('slow'), delayMs: z.number().int().min(0).max(120_000), method: methodName, times }),
  /** HTTP status other than 200/429 (Slack's edge failing), e.g. 500 or 503. */
  z.object({ kind: z.literal('http_error'), status: z.number().int().min(500).max(599), method: methodName, times }),
]);

export type SlackFault = z.infer<typeof slackFaultSchema>;

interface ArmedFault {
  fault: SlackFault;
  remaining: number;
}

export class SlackFaults {
  private armed: ArmedFault[] = [];

  add(fault: SlackFault): void {
    this.armed.push({ fault: slackFaultSchema.parse(fault), remaining: fault.times ?? 1 });
  }

  clear(): void {
    this.armed = [];
  }

  /** The fault for this call, if any, counted as used. */
  take(method: string): SlackFault | undefined {
    const entry = this.armed.find((a) => a.fault.method === undefined || a.fault.method === method);
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.armed = this.armed.filter((a) => a !== entry);
    return entry.fault;
  }
}
