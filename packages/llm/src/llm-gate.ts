import { createHash, randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import { RateLimitedError, TransientError } from '@parley/contracts';

/**
 * One gate for every LLM call of every worker process (SPEC section 14): throughput is bounded
 * by the account's rate limit, not by how many steps happen to run at once.
 *
 * A call acquires a lease before it leaves and releases it with its outcome. The state lives in
 * Redis under the queue prefix, changed only by two Lua scripts (atomic, clocked by Redis TIME
 * so hosts with skewed clocks agree):
 *
 * - pause: a key with a PX expiry set by a 429 for its retry-after. While it exists no call of
 *   any process leaves, steps already running included (they wait; the step that got the 429
 *   still throws RateLimitedError so the queue pauses too).
 * - leases: a sorted set of lease id -> expiry. A call holds one while on the wire; a process
 *   killed mid-call leaks nothing, its leases expire after `leaseMs`.
 * - limit: the fleet's in-flight ceiling, AIMD: a 529 halves it (once per cooldown, from the
 *   calls actually in flight), each success of a call started since adds 1/limit (one slot
 *   per window of successes).
 * - buckets: token buckets for requests, input tokens and output tokens per minute, from the
 *   configured limits or, when unset, from the `anthropic-ratelimit-*-limit` response headers;
 *   `*-remaining` lowers a bucket to what the API says is left.
 *
 * Each process asks Redis for its waiters together: one acquire script grants the waiters at the
 * head of its queue in order (urgent calls first: the ones that finish a step) until one has to
 * wait, and the calls that end while a release is on its way are released in the next script
 * (a 429 or 529 goes at once, alone, and the process acquires nothing until Redis has applied
 * it). Under a backlog that is a few scripts for many calls.
 *
 * Waiting never spins: in each process only the first waiter asks Redis (the oldest, urgent
 * calls first: the ones that finish a step), and it sleeps until the pause ends or the bucket
 * refills (both known), or polls with backoff while the in-flight ceiling is reached (woken
 * early when a call of its own process ends). A waiter that gets no capacity within
 * `maxWaitMs` throws RateLimitedError so the queue owns the retry.
 */
export interface LlmGate {
  /**
   * Waits for capacity. `signal` (the job's: its lock lost, or shutdown past its grace) ends
   * the wait at once with a TransientError and takes no capacity. An `urgent` call (one that
   * finishes a step: a draft, a re-ask) is served before the calls of this process waiting to
   * start one, so under a backlog steps finish one after another instead of all at its end.
   */
  acquire(cost: LlmCallCost, signal?: AbortSignal, options?: { urgent?: boolean }): Promise<LlmLease>;
}

export interface LlmCallCost {
  /** Estimated input tokens (the request's size); settled against the reported usage. */
  inputTokens: number;
  /** The request's max_tokens; settled against the reported usage. */
  outputTokens: number;
}

export type LlmCallOutcome =
  | { kind: 'ok'; headers?: Headers | null; usage?: { input_tokens: number; output_tokens: number } | null }
  | { kind: 'rate_limited'; waitMs: number; headers?: Headers | null }
  | { kind: 'overloaded'; headers?: Headers | null }
  | { kind: 'failed'; headers?: Headers | null };

export interface LlmLease {
  /** Ends the call: frees its slot and feeds its outcome back. Never throws. */
  release(outcome: LlmCallOutcome): Promise<void>;
}

export interface LlmRateLimits {
  requestsPerMinute?: number;
  inputTokensPerMinute?: number;
  outputTokensPerMinute?: number;
}

export interface LlmGateOptions {
  redis: Redis | Cluster;
  /** QUEUE_PREFIX: deployments sharing a Redis keep separate gates. */
  prefix: string;
  /** The account's limits (ANTHROPIC_RPM/ITPM/OTPM); unset ones are learned from headers. */
  limits?: LlmRateLimits;
  /** Fleet-wide ceiling of calls in flight (the AIMD limit never exceeds it). */
  maxInFlight?: number;
  /** How long a lease lives without release: longer than a call can take (its timeout). */
  leaseMs: number;
  /** How long a call may wait for capacity before RateLimitedError. */
  maxWaitMs?: number;
  /** A 529 halves the limit at most once per this long (the calls in flight together all see it). */
  decreaseCooldownMs?: number;
  /** Longest sleep between two looks while the in-flight ceiling is reached. */
  maxPollMs?: number;
  metrics?: Metrics;
  log?: Logger;
}

export const DEFAULT_MAX_IN_FLIGHT = 50;
export const DEFAULT_GATE_MAX_WAIT_MS = 120_000;

/** The gate's Redis keys. One hash tag so the scripts' keys share a Cluster slot. */
export function llmGateKeys(prefix: string) {
  const base = `${prefix}:{llm-gate}`;
  return { pause: `${base}:pause`, leases: `${base}:leases`, state: `${base}:state` };
}

// Bucket capacities: a second's worth of requests (a 60 RPM account may be enforced as 1 per
// second, per Anthropic's docs) and ten seconds' worth of tokens (one request's prompt must fit).
// A cost above the capacity is clamped to it so a huge request still goes, alone.
const LUA_COMMON = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = KEYS[3]
local names = {'rpm', 'itpm', 'otpm'}
local function capacity(i, perMin)
  if i == 1 then return math.max(1, perMin / 60) end
  return math.max(1, perMin / 6)
end
local function perMinute(i, configured)
  local v = tonumber(configured)
  if v > 0 then return v end
  return tonumber(redis.call('HGET', state, names[i] .. ':learned') or '0')
end
local function refill(i, perMin, cap)
  local tk = tonumber(redis.call('HGET', state, names[i] .. ':tokens') or tostring(cap))
  local ts = tonumber(redis.call('HGET', state, names[i] .. ':ts') or tostring(now))
  return math.min(cap, tk + math.max(0, now - ts) * perMin / 60000)
end
local maxInFlight = tonumber(ARGV[3])
local limit = tonumber(redis.call('HGET', state, 'limit') or ARGV[3])
if limit > maxInFlight then limit = maxInFlight end
`;

// KEYS: pause, leases, state. ARGV: count n, lease ms, max in flight, rpm, itpm, otpm
// (configured; 0 = learned), then per call (n of them, in the order to serve): lease id, input
// tokens, output tokens (each call costs one request). Grants the calls in order until one has
// to wait. Returns {granted count, wait ms of the first refused (-1 = unknown), reason, limit,
// rpm, itpm, otpm, in flight}.
const ACQUIRE = `${LUA_COMMON}
local perMin = {perMinute(1, ARGV[4]), perMinute(2, ARGV[5]), perMinute(3, ARGV[6])}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local inFlight = redis.call('ZCARD', KEYS[2])
local granted = 0
local function reply(wait, reason)
  return {granted, wait, reason, tostring(limit), tostring(perMin[1]), tostring(perMin[2]), tostring(perMin[3]), inFlight}
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then return reply(pttl, 'paused') end
local tokens = {}
local caps = {}
for i = 1, 3 do
  if perMin[i] > 0 then
    caps[i] = capacity(i, perMin[i])
    tokens[i] = refill(i, perMin[i], caps[i])
  end
end
local n = tonumber(ARGV[1])
local refused = nil
for c = 1, n do
  if inFlight >= math.max(1, math.floor(limit)) then refused = {-1, 'concurrency'} break end
  local base = 6 + (c - 1) * 3
  local costs = {1, tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])}
  local wait = 0
  for i = 1, 3 do
    if perMin[i] > 0 then
      local cost = math.min(costs[i], caps[i])
      if tokens[i] < cost then wait = math.max(wait, math.ceil((cost - tokens[i]) * 60000 / perMin[i])) end
    end
  end
  if wait > 0 then refused = {wait, 'rate'} break end
  for i = 1, 3 do
    if perMin[i] > 0 then tokens[i] = tokens[i] - math.min(costs[i], caps[i]) end
  end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[base + 1])
  inFlight = inFlight + 1
  granted = granted + 1
end
if granted > 0 then
  for i = 1, 3 do
    if perMin[i] > 0 then redis.call('HSET', state, names[i] .. ':tokens', tostring(tokens[i]), names[i] .. ':ts', now) end
  end
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 2)
  redis.call('PEXPIRE', state, 86400000)
end
if refused then return reply(refused[1], refused[2]) end
return reply(0, 'granted')
`;

// KEYS: pause, leases, state. ARGV: count n, cooldown ms, max in flight, lease ms, configured
// per minute (rpm, itpm, otpm), then per released call (n of them, in the order they ended):
// lease id, outcome, pause ms, then per bucket (rpm, itpm, otpm): tokens to give back
// (negative: to take), learned limit (-1 = none), remaining (-1 = none). Returns the limit.
const RELEASE = `${LUA_COMMON}
local n = tonumber(ARGV[1])
for c = 1, n do
  local base = 7 + (c - 1) * 12
  local id = ARGV[base + 1]
  local expiry = redis.call('ZSCORE', KEYS[2], id)
  local inFlight = redis.call('ZCARD', KEYS[2])
  redis.call('ZREM', KEYS[2], id)
  local outcome = ARGV[base + 2]
  if outcome == 'ok' then
    -- Only calls started after the last decrease count towards recovery: the ones in flight
    -- during the overload say nothing about the new limit (TCP's fast recovery does the same).
    local decreasedAt = tonumber(redis.call('HGET', state, 'decreasedAt') or '0')
    local fresh = expiry and tonumber(expiry) - tonumber(ARGV[4]) >= decreasedAt
    if limit < maxInFlight and fresh then
      limit = math.min(maxInFlight, limit + 1 / limit)
      redis.call('HSET', state, 'limit', tostring(limit))
    end
  elseif outcome == 'overloaded' then
    local last = tonumber(redis.call('HGET', state, 'decreasedAt') or '0')
    if now - last >= tonumber(ARGV[2]) then
      limit = math.max(1, math.floor(math.min(limit, inFlight) / 2))
      redis.call('HSET', state, 'limit', tostring(limit), 'decreasedAt', now)
    end
  elseif outcome == 'rate_limited' then
    local ms = tonumber(ARGV[base + 3])
    if ms > 0 and redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], tostring(now + ms), 'PX', ms) end
  end
  for i = 1, 3 do
    local b = base + 3 + (i - 1) * 3
    local learned = tonumber(ARGV[b + 2])
    if learned > 0 then redis.call('HSET', state, names[i] .. ':learned', tostring(learned)) end
    local perMin = perMinute(i, ARGV[4 + i])
    if perMin > 0 then
      local cap = capacity(i, perMin)
      local tk = math.min(cap, refill(i, perMin, cap) + tonumber(ARGV[b + 1]))
      local remaining = tonumber(ARGV[b + 3])
      if remaining >= 0 and remaining < tk then tk = remaining end
      redis.call('HSET', state, names[i] .. ':tokens', tostring(tk), names[i] .. ':ts', now)
    end
  end
end
redis.call('PEXPIRE', state, 86400000)
return tostring(limit)
`;

const sha = (script: string) => createHash('sha1').update(script).digest('hex');
const ACQUIRE_SHA = sha(ACQUIRE);
const RELEASE_SHA = sha(RELEASE);
/** The scripts' SHA1 digests (as EVALSHA names them), to tell them apart in Redis's command stream. */
export const LLM_GATE_SCRIPTS = { acquire: ACQUIRE_SHA, release: RELEASE_SHA } as const;

/** The `anthropic-ratelimit-*` headers of one answer, per bucket (rpm, itpm, otpm). */
export interface RateLimitReading {
  limit: number | null;
  remaining: number | null;
}

const HEADER_KINDS = ['requests', 'input-tokens', 'output-tokens'] as const;

/** Reads `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining}`; anything not a non-negative integer counts as absent. */
export function readRateLimitHeaders(headers: Headers | null | undefined): RateLimitReading[] {
  const int = (name: string): number | null => {
    const raw = headers?.get(name)?.trim();
    if (!raw || !/^\d{1,12}$/.test(raw)) return null;
    return Number(raw);
  };
  return HEADER_KINDS.map((kind) => {
    const limit = int(`anthropic-ratelimit-${kind}-limit`);
    return { limit: limit !== null && limit > 0 ? limit : null, remaining: int(`anthropic-ratelimit-${kind}-remaining`) };
  });
}

/** A rough input token count for a request body: about four characters per token. */
export function estimateInputTokens(body: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(body ?? '').length / 4));
}

interface Waiter {
  cost: LlmCallCost;
  deadline: number;
  resolve: (lease: LlmLease) => void;
  reject: (error: Error) => void;
  settled: boolean;
  timer: NodeJS.Timeout;
  lastWaitMs: number;
  /** Served before every waiter that is not (in arrival order among themselves). */
  urgent: boolean;
  /** Removes the abort listener (set when the caller passed a signal). */
  unlisten?: () => void;
}

type AcquireReply = [number, number, string, string, string, string, string, number];

/** Most waiters one acquire script is asked to grant, and most ended calls one release script frees. */
export const ACQUIRE_BATCH = 32;
export const RELEASE_BATCH = 32;

export function createLlmGate(opts: LlmGateOptions): LlmGate {
  const keys = llmGateKeys(opts.prefix);
  const keyList = [keys.pause, keys.leases, keys.state];
  const maxInFlight = Math.max(1, Math.floor(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT));
  const maxWaitMs = opts.maxWaitMs ?? DEFAULT_GATE_MAX_WAIT_MS;
  const cooldownMs = opts.decreaseCooldownMs ?? 5_000;
  const maxPollMs = opts.maxPollMs ?? 200;
  const configured = [opts.limits?.requestsPerMinute ?? 0, opts.limits?.inputTokensPerMinute ?? 0, opts.limits?.outputTokensPerMinute ?? 0];
  const { metrics, log } = opts;

  const queue: Waiter[] = [];
  let pumping = false;
  let inFlight = 0;
  // Wakes the pump early from a concurrency wait when a call of this process ends.
  let wake: (() => void) | null = null;

  async function script(code: string, digest: string, args: (string | number)[]): Promise<unknown> {
    try {
      return await opts.redis.evalsha(digest, keyList.length, ...keyList, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
      return opts.redis.eval(code, keyList.length, ...keyList, ...args);
    }
  }

  function showLimits(reply: AcquireReply): void {
    if (!metrics) return;
    metrics.llmGateLimit.set({ kind: 'concurrency' }, Number(reply[3]));
    metrics.llmGateLimit.set({ kind: 'requests' }, Number(reply[4]));
    metrics.llmGateLimit.set({ kind: 'input_tokens' }, Number(reply[5]));
    metrics.llmGateLimit.set({ kind: 'output_tokens' }, Number(reply[6]));
  }

  function gauges(): void {
    metrics?.llmInFlight.set(inFlight);
    metrics?.llmWaiting.set(queue.length);
  }

  function settle(waiter: Waiter): void {
    waiter.settled = true;
    clearTimeout(waiter.timer);
    waiter.unlisten?.();
    const i = queue.indexOf(waiter);
    if (i >= 0) queue.splice(i, 1);
    gauges();
  }

  interface Ended {
    /** The call's part of RELEASE's ARGV. */
    args: (string | number)[];
    outcome: LlmCallOutcome;
  }

  /** Releases calls in one script. Never throws: a lease that is not released expires. */
  async function sendReleases(calls: Ended[]): Promise<void> {
    const args: (string | number)[] = [calls.length, cooldownMs, maxInFlight, opts.leaseMs, ...configured];
    for (const c of calls) args.push(...c.args);
    try {
      const limit = Number(await script(RELEASE, RELEASE_SHA, args));
      metrics?.llmGateLimit.set({ kind: 'concurrency' }, limit);
      for (const { outcome } of calls) {
        if (outcome.kind === 'overloaded' || outcome.kind === 'rate_limited') log?.info('llm gate updated', { outcome: outcome.kind, limit, pauseMs: outcome.kind === 'rate_limited' ? outcome.waitMs : undefined });
      }
    } catch (error) {
      // The leases expire by themselves; a lost pause or limit change only costs a 429 or 529 more.
      log?.warn('llm gate release failed', { error: (error as Error).message, calls: calls.length });
    }
  }

  // Calls that ended while a release was on its way to Redis go together in the next one, so a
  // busy process sends one script for many calls instead of one each.
  let releasing = false;
  const ended: (Ended & { done: () => void })[] = [];
  /** A 429's or 529's release on its way to Redis: the pump waits for it before it acquires. */
  let applying: Promise<void> | null = null;

  async function flushReleases(): Promise<void> {
    if (releasing) return;
    releasing = true;
    try {
      while (ended.length > 0) {
        const batch = ended.splice(0, RELEASE_BATCH);
        await sendReleases(batch);
        for (const e of batch) e.done();
        wake?.();
      }
    } finally {
      releasing = false;
    }
  }

  function lease(id: string, cost: LlmCallCost): LlmLease {
    let released = false;
    return {
      async release(outcome) {
        if (released) return;
        released = true;
        inFlight -= 1;
        gauges();
        const readings = readRateLimitHeaders(outcome.headers);
        const giveBack = outcome.kind === 'ok' && outcome.usage ? [0, cost.inputTokens - outcome.usage.input_tokens, cost.outputTokens - outcome.usage.output_tokens] : [0, 0, 0];
        const args: (string | number)[] = [id, outcome.kind, outcome.kind === 'rate_limited' ? Math.max(0, Math.round(outcome.waitMs)) : 0];
        for (let i = 0; i < 3; i += 1) args.push(giveBack[i] ?? 0, readings[i]?.limit ?? -1, readings[i]?.remaining ?? -1);
        if (outcome.kind === 'rate_limited' || outcome.kind === 'overloaded') {
          // Never held behind another release: the pause or the lower limit goes to Redis now,
          // and this process asks for no capacity until Redis has applied it (even when the
          // script had to be sent again after NOSCRIPT, a round trip later).
          const sent = sendReleases([{ args, outcome }]);
          const applied = sent.finally(() => {
            if (applying === applied) applying = null;
          });
          applying = applied;
          await applied;
          wake?.();
          return;
        }
        await new Promise<void>((done) => {
          ended.push({ args, outcome, done });
          void flushReleases();
        });
      },
    };
  }

  const sleep = (ms: number, wakeable: boolean) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (wake === done) wake = null;
        resolve();
      }
      if (wakeable) wake = done;
    });

  async function pump(): Promise<void> {
    pumping = true;
    let backoffMs = 10;
    try {
      while (queue.length > 0) {
        // The waiters at the head, in the order they are served: one script grants as many of
        // them as the limits allow (under a backlog most calls wait behind others).
        // After a 429's or 529's release this process sent: Redis sees the pause first.
        while (applying) await applying;
        if (queue.length === 0) break;
        const asked = queue.slice(0, ACQUIRE_BATCH);
        const ids = asked.map(() => `${process.pid}-${randomBytes(6).toString('hex')}`);
        const args: (string | number)[] = [asked.length, opts.leaseMs, maxInFlight, ...configured];
        asked.forEach((w, i) => args.push(ids[i]!, Math.ceil(w.cost.inputTokens), Math.ceil(w.cost.outputTokens)));
        let reply: AcquireReply;
        try {
          reply = (await script(ACQUIRE, ACQUIRE_SHA, args)) as AcquireReply;
        } catch (error) {
          const head = asked[0]!;
          if (!head.settled) {
            settle(head);
            head.reject(new TransientError(`LLM gate: Redis failed: ${(error as Error).message}`, 'llm_gate'));
          }
          continue;
        }
        showLimits(reply);
        const granted = Number(reply[0]);
        for (let i = 0; i < granted; i += 1) {
          const waiter = asked[i]!;
          inFlight += 1;
          const given = lease(ids[i]!, waiter.cost);
          if (waiter.settled) {
            // It timed out or stopped while Redis answered: give the slot straight back.
            void given.release({ kind: 'failed' });
            continue;
          }
          settle(waiter);
          waiter.resolve(given);
        }
        if (granted > 0) backoffMs = 10;
        if (granted === asked.length) continue;
        const head = queue[0];
        if (!head) break;
        // A bucket's wait is the refused call's (its cost). When that call left the queue
        // meanwhile (timed out, stopped) or an urgent one came before it, the head is another
        // call: ask again for it. A pause or a full ceiling is the same for every call.
        if (head !== asked[granted] && reply[2] === 'rate') continue;
        const known = reply[1] > 0;
        const waitMs = known ? reply[1] + 1 : backoffMs;
        if (!known) backoffMs = Math.min(maxPollMs, backoffMs * 2);
        head.lastWaitMs = waitMs;
        await sleep(Math.min(waitMs, Math.max(1, head.deadline - Date.now() + 1)), !known);
      }
    } finally {
      pumping = false;
      gauges();
    }
  }

  return {
    acquire(cost, signal, options) {
      if (signal?.aborted) return Promise.reject(new TransientError('not waiting for the LLM gate: the job no longer runs here (lock lost or shutdown)'));
      return new Promise<LlmLease>((resolve, reject) => {
        const waiter: Waiter = {
          cost,
          deadline: Date.now() + maxWaitMs,
          resolve,
          reject,
          settled: false,
          lastWaitMs: 0,
          urgent: options?.urgent === true,
          timer: setTimeout(() => {
            if (waiter.settled) return;
            settle(waiter);
            const waitMs = Math.max(1_000, waiter.lastWaitMs);
            log?.warn('llm gate: no capacity in time', { maxWaitMs, waitMs });
            reject(new RateLimitedError(`no LLM capacity within ${maxWaitMs} ms (fleet-wide gate)`, waitMs, 'llm-gate'));
          }, maxWaitMs),
        };
        if (signal) {
          const onAbort = () => {
            if (waiter.settled) return;
            settle(waiter);
            reject(new TransientError('stopped waiting for the LLM gate: the job no longer runs here (lock lost or shutdown)'));
          };
          signal.addEventListener('abort', onAbort, { once: true });
          waiter.unlisten = () => signal.removeEventListener('abort', onAbort);
        }
        // The pump serves queue[0] and looks again after every grant or sleep, so an urgent
        // waiter placed ahead is the next one it asks Redis for.
        const behind = waiter.urgent ? queue.findIndex((w) => !w.urgent) : -1;
        if (behind < 0) queue.push(waiter);
        else queue.splice(behind, 0, waiter);
        gauges();
        if (!pumping) void pump();
      });
    },
  };
}
