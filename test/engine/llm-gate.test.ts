import type { Redis } from 'ioredis';
import { createLlmClient, createLlmGate, LLM_GATE_SCRIPTS, llmGateKeys, type LlmClient, type LlmGateOptions, type LlmLease } from '@parley/llm';
import { createMetrics, type Metrics } from '@parley/metrics';
import { createRedis } from '@parley/queue';
import { SANDBOX_API_KEY, startAnthropicSandbox, type AnthropicSandbox } from '../../packages/sandbox/src/anthropic';
import { capturingLogger } from '../support/logs';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * The fleet-wide LLM gate with the real SDK over HTTP to the sandbox and real Redis. Each
 * "process" here is a gate and a client on its own Redis connection, sharing one key prefix,
 * as two worker processes do (llm-gate-processes.test.ts runs real processes).
 */

for (const name of ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS', 'ANTHROPIC_PROFILE', 'ANTHROPIC_LOG']) delete process.env[name];

interface Member {
  redis: Redis;
  metrics: Metrics;
  llm: LlmClient;
  /** The gate's own log lines (info and above). */
  gateLines: string[];
}

let sandbox: AnthropicSandbox;
let prefix: string;
const redises: Redis[] = [];

beforeAll(async () => {
  sandbox = await startAnthropicSandbox({ apiKey: SANDBOX_API_KEY });
});
afterAll(async () => {
  await Promise.all(redises.map((r) => r.quit().catch(() => r.disconnect())));
  await sandbox.close();
});
beforeEach(() => {
  prefix = uniquePrefix('gate');
  sandbox.reset();
  sandbox.traffic({});
});
afterEach(async () => {
  await dropPrefix(redisUrl(), prefix);
});

async function member(options: Partial<Omit<LlmGateOptions, 'redis' | 'prefix'>> = {}): Promise<Member> {
  const redis = createRedis(redisUrl(), 'producer');
  redises.push(redis);
  await new Promise((resolve) => redis.once('ready', resolve));
  const metrics = createMetrics();
  const { log: gateLog, lines } = capturingLogger('gate-test', 'info');
  const { log } = capturingLogger('gate-test', 'warn');
  const gate = createLlmGate({ redis, prefix, leaseMs: 10_000, metrics, log: gateLog, ...options });
  const llm = createLlmClient({ apiKey: SANDBOX_API_KEY, baseURL: sandbox.url, model: 'claude-sandbox', timeoutMs: 10_000, metrics, log, gate });
  return { redis, metrics, llm, gateLines: lines };
}

const read = (llm: LlmClient) => llm.readReply({ influencerName: 'Ana', campaignName: 'Spring', currency: 'USD', currentOfferMinor: 100_000, messages: ['Sounds good, I accept.'] });

/** `callers` loops per member, each calling again as soon as its call ends (failures included), until stopped. */
function keepBusy(members: Member[], callers: number) {
  let running = true;
  const errors: string[] = [];
  const loops = members.flatMap((m) =>
    Array.from({ length: callers }, async () => {
      while (running) await read(m.llm).catch((e: Error) => errors.push(e.name));
    }),
  );
  return {
    errors,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const arrivals = () => sandbox.calls().map((c) => ({ at: Date.parse(c.at), status: c.status }));

describe('LLM gate: one gate for every process', () => {
  it('a 429 stops every call of every process for its retry-after, calls already running included', async () => {
    sandbox.traffic({ latencyMs: 400 });
    const members = [await member(), await member()];
    const busy = keepBusy(members, 4);
    try {
      // Calls are flowing from both members before the 429.
      await waitFor('calls flowing', () => sandbox.calls().filter((c) => c.status === 200).length >= 8, 20_000);
      // The next call is answered 429 after 350 ms; the other callers send theirs meanwhile
      // (400 ms each), so those are on their way at the 429 and want the LLM again during it.
      sandbox.faults([{ status: 429, retryAfter: 2, delayMs: 350 }]);
      await waitFor('the 429', () => arrivals().find((c) => c.status === 429), 10_000);
      // When the pause was written: its end (Redis's clock, the machine's) less the retry-after.
      // Measured from there, a loaded machine's delay in reading the 429 moves the window with it.
      const pausedAt = Number(await waitFor('the pause written', () => members[0]?.redis.get(llmGateKeys(prefix).pause), 10_000)) - 2_000;
      await waitFor('calls after the pause', () => arrivals().filter((c) => c.at >= pausedAt + 2_000 && c.status === 200).length >= 4, 20_000);

      const calls = arrivals();
      // Calls were in flight when the pause began (sent before it, answered after it).
      const inFlight = calls.filter((c) => c.status === 200 && c.at <= pausedAt && c.at + 400 > pausedAt);
      expect(inFlight.length).toBeGreaterThanOrEqual(3);
      // A request granted just before the pause was written may still arrive a moment after it
      // (on the wire); nothing else arrives until the retry-after is over, although the calls in
      // flight ended within 400 ms of it and their callers wanted the LLM again at once.
      const onTheWire = 250;
      expect(calls.filter((c) => c.at > pausedAt + onTheWire && c.at < pausedAt + 2_000)).toEqual([]);
    } finally {
      await busy.stop();
    }
    // The call that got the 429 throws RateLimitedError (the queue pauses too, as before).
    expect(busy.errors).toContain('RateLimitedError');
  });

  it('keeps the configured requests per minute across processes', async () => {
    sandbox.traffic({ latencyMs: 20 });
    const members = [await member({ limits: { requestsPerMinute: 120 } }), await member({ limits: { requestsPerMinute: 120 } })];
    const started = Date.now();
    const busy = keepBusy(members, 4);
    await waitFor('four seconds of calls', () => Date.now() - started >= 4_000 && sandbox.calls().length > 0, 20_000).finally(busy.stop);
    const calls = arrivals();
    const seconds = (Math.max(...calls.map((c) => c.at)) - started) / 1000;
    // 2 per second plus one second's burst, plus one for a grant still on its way at the start.
    expect(calls.length).toBeLessThanOrEqual(Math.ceil(2 * seconds) + 2 + 1);
    // Any 2-second window holds at most 2 x 2 + the burst + one late arrival.
    for (const c of calls) expect(calls.filter((o) => o.at >= c.at && o.at < c.at + 2_000).length).toBeLessThanOrEqual(7);
    // ...and the gate did not starve the callers either.
    expect(calls.length).toBeGreaterThanOrEqual(5);
    expect(calls.every((c) => c.status === 200)).toBe(true);
  });

  it('learns the limit from anthropic-ratelimit-* headers when none is configured', async () => {
    sandbox.traffic({ latencyMs: 20, requestsPerMinute: 120 });
    const members = [await member(), await member()];
    const started = Date.now();
    const busy = keepBusy(members, 4);
    await waitFor('five seconds of calls', () => Date.now() - started >= 5_000, 20_000).finally(busy.stop);
    const calls = arrivals();
    // The first calls leave before any answer has taught the limit; some of those meet 429s.
    // Once learned, the fleet stays under it: no 429 in the last three seconds.
    const late = calls.filter((c) => c.at > started + 2_000);
    expect(late.length).toBeGreaterThanOrEqual(3);
    expect(late.filter((c) => c.status === 429)).toEqual([]);
    const [state] = await Promise.all([members[0]!.redis.hget(llmGateKeys(prefix).state, 'rpm:learned')]);
    expect(state).toBe('120');
    const gauge = await members[0]!.metrics.llmGateLimit.get();
    expect(gauge.values.find((v) => v.labels.kind === 'requests')?.value).toBe(120);
  });

  it('529s halve the shared in-flight limit once, and successes bring it back gradually', async () => {
    sandbox.traffic({ latencyMs: 500 });
    const options = { maxInFlight: 8, decreaseCooldownMs: 5_000 };
    const members = [await member(options), await member(options)];
    const keys = llmGateKeys(prefix);
    const busy = keepBusy(members, 6);
    try {
      await waitFor('the fleet at its ceiling', async () => (await members[0]!.redis.zcard(keys.leases)) === 8, 20_000);
      // Two 529s answered together (calls in flight at the same moment): one halving, not two.
      sandbox.faults([{ status: 529 }, { status: 529 }]);
      await waitFor('both 529s', () => sandbox.calls().filter((c) => c.status === 529).length === 2, 10_000);
      const halved = Number(await waitFor('the limit halved', async () => {
        const v = Number(await members[0]!.redis.hget(keys.state, 'limit'));
        return v > 0 && v < 8 ? String(v) : null;
      }));
      // Halved from the calls in flight at the first 529 (8, or a few fewer on a loaded machine
      // where freed slots are not refilled at once): never more than half the ceiling.
      expect(halved).toBeGreaterThanOrEqual(1);
      expect(halved).toBeLessThanOrEqual(4);
      // One halving, not two: each 529's release logs the limit it left. After one halving both
      // show the halved limit (the later one perhaps a little higher, after successes); a second
      // halving would leave one of them at half the other or less.
      const overloaded = () =>
        members.flatMap((m) => m.gateLines.map((l) => JSON.parse(l) as { message?: string; outcome?: string; limit?: number })).filter((l) => l.message === 'llm gate updated' && l.outcome === 'overloaded');
      const limits = (await waitFor('both 529s released', async () => (overloaded().length >= 2 ? overloaded() : undefined), 10_000)).map((l) => Number(l.limit));
      expect(limits).toHaveLength(2);
      expect(Math.max(...limits)).toBeLessThanOrEqual(4.5);
      expect(Math.max(...limits)).toBeLessThan(2 * Math.min(...limits));
      // The calls already in flight finish; then the fleet keeps fewer in flight while it recovers.
      await waitFor('in flight down to the limit', async () => (await members[1]!.redis.zcard(keys.leases)) <= halved, 10_000);
      let maxSeen = 0;
      const samples: number[] = [];
      const sampleUntil = Date.now() + 400;
      while (Date.now() < sampleUntil) {
        const [leases, limit] = await Promise.all([members[1]!.redis.zcard(keys.leases), members[1]!.redis.hget(keys.state, 'limit')]);
        maxSeen = Math.max(maxSeen, leases);
        samples.push(leases - Math.floor(Number(limit)));
      }
      expect(maxSeen).toBeLessThan(8);
      expect(Math.max(...samples)).toBeLessThanOrEqual(0);
      // Recovery is gradual (one slot per window of successes), then complete.
      const recovered = Date.now();
      await waitFor('the limit back at 8', async () => Number(await members[0]!.redis.hget(keys.state, 'limit')) >= 8, 30_000);
      expect(Date.now() - recovered).toBeGreaterThan(500);
      const limitGauge = await members[0]!.metrics.llmGateLimit.get();
      expect(limitGauge.values.find((v) => v.labels.kind === 'concurrency')?.value).toBeGreaterThan(halved);
    } finally {
      await busy.stop();
    }
    expect(busy.errors.filter((e) => e === 'OverloadedError').length).toBe(2);
  });

  it('a call whose job stops running here (lock lost, shutdown) stops waiting at once: no capacity taken, nothing sent', async () => {
    const m = await member({ maxWaitMs: 20_000 });
    await m.redis.set(llmGateKeys(prefix).pause, '1', 'PX', 10_000);
    const job = new AbortController();
    const started = Date.now();
    const input = { influencerName: 'Ana', campaignName: 'Spring', currency: 'USD', currentOfferMinor: 100_000, messages: ['Sounds good, I accept.'] };
    const pending = m.llm.readReply(input, { signal: job.signal }).then(
      () => null,
      (e: Error) => e,
    );
    await waitFor('the call waiting at the gate', async () => (await m.metrics.llmWaiting.get()).values[0]?.value === 1, 5_000, 20);
    job.abort(new Error('shutdown past its grace'));
    const error = await pending;
    expect(error?.name).toBe('TransientError');
    expect(error?.message).toMatch(/stopped waiting for the LLM gate: the job no longer runs here/);
    // Well before the pause (10 s) or the gate's bound (20 s) would have ended the wait.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await m.metrics.llmWaiting.get()).values[0]?.value).toBe(0);
    // A signal already aborted never waits.
    const again = await m.llm.readReply(input, { signal: job.signal }).then(
      () => null,
      (e: Error) => e,
    );
    expect(again?.message).toMatch(/not waiting for the LLM gate/);
    await m.redis.del(llmGateKeys(prefix).pause);
    expect(sandbox.calls()).toEqual([]);
  });

  it('serves the calls that finish a step (urgent) before those that start one, each kind in arrival order', async () => {
    const redis = createRedis(redisUrl(), 'producer');
    redises.push(redis);
    await new Promise((resolve) => redis.once('ready', resolve));
    const gate = createLlmGate({ redis, prefix, leaseMs: 10_000, maxInFlight: 1 });
    const cost = { inputTokens: 10, outputTokens: 10 };
    const first = await gate.acquire(cost);
    const granted: string[] = [];
    const leases = new Map<string, Promise<Awaited<ReturnType<typeof gate.acquire>>>>();
    for (const name of ['start-1', 'start-2', 'finish-1', 'start-3', 'finish-2']) {
      leases.set(
        name,
        gate.acquire(cost, undefined, { urgent: name.startsWith('finish') }).then((lease) => {
          granted.push(name);
          return lease;
        }),
      );
    }
    // One slot: each grant waits for the previous lease to be released.
    let lease = first;
    for (let i = 0; i < leases.size; i += 1) {
      await lease.release({ kind: 'ok' });
      await waitFor(`grant ${i + 1}`, () => granted.length === i + 1);
      lease = await leases.get(granted[i]!)!;
    }
    await lease.release({ kind: 'ok' });
    expect(granted).toEqual(['finish-1', 'finish-2', 'start-1', 'start-2', 'start-3']);
  });

  it("sends a step's draft before the reads waiting behind it", async () => {
    // One call in flight at a time, each taking 300 ms: the calls queue in the process's gate.
    sandbox.traffic({ latencyMs: 300 });
    const m = await member({ maxInFlight: 1 });
    const draft = () => m.llm.draftEmail({ kind: 'opening', influencerName: 'Ana', campaignName: 'Spring', platform: 'instagram', deliverables: '1 reel', currency: 'USD', priceMinor: 100_000 });
    const calls: Promise<unknown>[] = [read(m.llm)];
    await waitFor('the first read on the wire', () => sandbox.calls().length === 1);
    calls.push(read(m.llm), read(m.llm), draft());
    await Promise.all(calls);
    expect(sandbox.calls().map((c) => c.tool)).toEqual(['read_reply', 'draft_email', 'read_reply', 'read_reply']);
  });

  it('grants a backlog in a few scripts, never past the limits, and frees calls that end together in one', async () => {
    // Redis's own command stream: this test's gate scripts by name, and the leases each acquire
    // script granted (its ZADDs, which Redis lists after the script's own line).
    const watcher = createRedis(redisUrl(), 'producer');
    redises.push(watcher);
    const monitor = await watcher.monitor();
    const scripts: ('acquire' | 'release')[] = [];
    const grantsPerAcquire: number[] = [];
    // A command sent after the others: once Redis lists it, it has listed everything before it.
    const mark = `${prefix}:monitor-mark`;
    let marked = false;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const [command, script, , firstKey] = args;
      if (command?.toLowerCase() === 'exists' && script === mark) marked = true;
      if (source === 'lua') {
        if (command?.toLowerCase() === 'zadd' && script === llmGateKeys(prefix).leases && scripts.at(-1) === 'acquire') grantsPerAcquire[grantsPerAcquire.length - 1]! += 1;
        return;
      }
      if (firstKey !== llmGateKeys(prefix).pause || !script) return;
      if (script === LLM_GATE_SCRIPTS.acquire) {
        scripts.push('acquire');
        grantsPerAcquire.push(0);
      }
      if (script === LLM_GATE_SCRIPTS.release) scripts.push('release');
    });
    try {
      const redis = createRedis(redisUrl(), 'producer');
      redises.push(redis);
      await new Promise((resolve) => redis.once('ready', resolve));
      const gate = createLlmGate({ redis, prefix, leaseMs: 10_000, maxInFlight: 8 });
      const cost = { inputTokens: 10, outputTokens: 10 };
      const held: LlmLease[] = [];
      const waiting = Array.from({ length: 20 }, () => gate.acquire(cost).then((lease) => held.push(lease)));
      // Should the test fail half-way, the waiters left are rejected when the connection closes.
      for (const w of waiting) w.catch(() => undefined);
      // The first call finds the gate idle and goes at once (one script for it alone); the 19
      // that queued meanwhile are asked for in the next one, which grants the 7 the ceiling leaves.
      await waitFor('the first grants', () => held.length === 8);
      const leases = llmGateKeys(prefix).leases;
      expect(await redis.zcard(leases)).toBe(8);
      await waitFor('the monitor caught up', () => grantsPerAcquire.length >= 2 && grantsPerAcquire[0]! + grantsPerAcquire[1]! === 8);
      // The 8 end together: the first release goes at once, the 7 that ended meanwhile in one
      // more; then the waiters get the 8 freed slots (one or two scripts, as a look of the pump
      // falls between the two releases or not), and never more.
      await Promise.all(held.splice(0, 8).map((lease) => lease.release({ kind: 'ok' })));
      await waitFor('the next grants', () => held.length === 8);
      expect(await redis.zcard(leases)).toBe(8);
      await Promise.all(held.splice(0, 8).map((lease) => lease.release({ kind: 'ok' })));
      await Promise.all(waiting);
      await Promise.all(held.map((lease) => lease.release({ kind: 'ok' })));
      expect(await redis.zcard(leases)).toBe(0);
      await redis.exists(mark);
      await waitFor('the monitor caught up', () => marked);
      expect(grantsPerAcquire.reduce((a, b) => a + b, 0)).toBe(20);
      // No script granted past the ceiling; one per call would have been 20 of each. The
      // acquires between the grants are the pump's looks while the ceiling was reached.
      expect(Math.max(...grantsPerAcquire)).toBeLessThanOrEqual(8);
      expect(grantsPerAcquire.filter((n) => n > 0).length).toBeLessThanOrEqual(6);
      expect(scripts.filter((s) => s === 'release').length).toBeLessThanOrEqual(6);
    } finally {
      monitor.disconnect();
    }
  });

  it('grants a backlog no more than the requests-per-minute bucket holds', async () => {
    const redis = createRedis(redisUrl(), 'producer');
    redises.push(redis);
    await new Promise((resolve) => redis.once('ready', resolve));
    // 120 per minute: a burst of 2, then one every 500 ms.
    const gate = createLlmGate({ redis, prefix, leaseMs: 10_000, limits: { requestsPerMinute: 120 } });
    const grants: number[] = [];
    const started = Date.now();
    const waiting = Array.from({ length: 6 }, () => gate.acquire({ inputTokens: 10, outputTokens: 10 }).then((lease) => {
      grants.push(Date.now() - started);
      return lease.release({ kind: 'ok' });
    }));
    await Promise.all(waiting);
    expect(grants).toHaveLength(6);
    // The burst at once, the other four no faster than the bucket refills.
    expect(grants.filter((ms) => ms < 400)).toHaveLength(2);
    expect(grants[5]!).toBeGreaterThanOrEqual(4 * 500 - 50);
  });

  it('a call that cannot get capacity within the bound throws RateLimitedError for the queue', async () => {
    const m = await member({ maxWaitMs: 1_500 });
    await m.redis.set(llmGateKeys(prefix).pause, '1', 'PX', 10_000);
    const started = Date.now();
    const error = await read(m.llm).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.name).toBe('RateLimitedError');
    expect((error as { waitMs?: number }).waitMs).toBeGreaterThan(5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(sandbox.calls()).toEqual([]);
    const waiting = await m.metrics.llmWaiting.get();
    expect(waiting.values[0]?.value).toBe(0);
  });
});
