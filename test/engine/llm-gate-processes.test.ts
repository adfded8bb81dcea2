import type { Redis } from 'ioredis';
import { createLlmClient, createLlmGate, llmGateKeys } from '@parley/llm';
import { createMetrics } from '@parley/metrics';
import { createRedis } from '@parley/queue';
import { SANDBOX_API_KEY, startAnthropicSandbox, type AnthropicSandbox } from '../../packages/sandbox/src/anthropic';
import { capturingLogger } from '../support/logs';
import { spawnTs, type Spawned } from '../support/processes';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * The LLM gate across real processes (test/fixtures/llm-gate-caller.ts: the real client and
 * gate, calling the sandbox in a loop): a configured RPM holds for the fleet, and a process
 * killed while holding capacity gives it back when its leases expire.
 */

for (const name of ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS', 'ANTHROPIC_PROFILE', 'ANTHROPIC_LOG']) delete process.env[name];

let sandbox: AnthropicSandbox;
let prefix: string;
let redis: Redis;
const children: Spawned[] = [];

beforeAll(async () => {
  sandbox = await startAnthropicSandbox({ apiKey: SANDBOX_API_KEY });
  redis = createRedis(redisUrl(), 'worker');
});
afterAll(async () => {
  await redis.quit().catch(() => redis.disconnect());
  await sandbox.close();
});
beforeEach(() => {
  prefix = uniquePrefix('gatep');
  sandbox.reset();
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  await dropPrefix(redisUrl(), prefix);
});

function caller(env: Record<string, string>): Spawned {
  const spawned = spawnTs('test/fixtures/llm-gate-caller.ts', { REDIS_URL: redisUrl(), QUEUE_PREFIX: prefix, ...sandbox.env(), ...env });
  children.push(spawned);
  return spawned;
}

const arrivals = () => sandbox.calls().map((c) => ({ at: Date.parse(c.at), status: c.status }));

it('a 429 stops both processes for its retry-after, calls already running included', async () => {
  sandbox.traffic({ latencyMs: 400 });
  const procs = [caller({ CALLERS: '4' }), caller({ CALLERS: '4' })];
  await Promise.all(procs.map((p) => p.waitForLine(/gate caller ready/, 30_000)));
  await waitFor('calls flowing', () => sandbox.calls().filter((c) => c.status === 200).length >= 16, 20_000);
  // Answered after 350 ms, while the other calls (400 ms each) sent meanwhile are on their way.
  sandbox.faults([{ status: 429, retryAfter: 5, delayMs: 350 }]);
  await waitFor('the 429', () => arrivals().find((c) => c.status === 429), 10_000);
  // When the pause was written: its end (Redis's clock, the machine's) less the retry-after.
  const pausedAt = Number(await waitFor('the pause written', () => redis.get(llmGateKeys(prefix).pause), 10_000)) - 5_000;
  await waitFor('calls after the pause', () => arrivals().filter((c) => c.at >= pausedAt + 5_000 && c.status === 200).length >= 4, 20_000);
  const calls = arrivals();
  // Calls were in flight when the pause began (sent before it, answered after it).
  expect(calls.filter((c) => c.status === 200 && c.at <= pausedAt && c.at + 400 > pausedAt).length).toBeGreaterThanOrEqual(1);
  // Requests the other process was granted before the pause was written may still arrive a
  // moment after it (on the wire, and stamped by this process, which a loaded machine may
  // stall); then nothing, although the calls in flight end within 400 ms and their callers
  // call again.
  expect(calls.filter((c) => c.at > pausedAt + 1_500 && c.at < pausedAt + 5_000)).toEqual([]);
});

it('two processes together keep ANTHROPIC_RPM=120', async () => {
  sandbox.traffic({ latencyMs: 20 });
  const procs = [caller({ ANTHROPIC_RPM: '120', CALLERS: '4' }), caller({ ANTHROPIC_RPM: '120', CALLERS: '4' })];
  await Promise.all(procs.map((p) => p.waitForLine(/gate caller ready/, 30_000)));
  const from = Date.now();
  await waitFor('five seconds of calls', () => Date.now() - from >= 5_000, 20_000);
  // A call is recorded on arrival with status 0 and given its status when answered (20 ms
  // later, more on a loaded machine): wait for the window's last calls to be answered.
  const inWindow = () => arrivals().filter((c) => c.at >= from && c.at < from + 5_000);
  const answered = () => (inWindow().every((c) => c.status !== 0) ? inWindow() : undefined);
  const calls = await waitFor('the calls of the window answered', answered, 10_000);
  // 2 per second: at most 10 in 5 s, plus one second's burst and one late arrival.
  expect(calls.length).toBeLessThanOrEqual(13);
  for (const c of calls) expect(calls.filter((o) => o.at >= c.at && o.at < c.at + 2_000).length).toBeLessThanOrEqual(7);
  expect(calls.length).toBeGreaterThanOrEqual(6);
  expect(calls.every((c) => c.status === 200)).toBe(true);
  // Both processes got calls through (the gate is shared, not first come takes all).
  expect(procs.every((p) => p.output().includes('granted'))).toBe(true);
});

it("a killed process's leases expire: its capacity returns to the fleet", async () => {
  // Calls that hang: the process holds all three slots of the fleet when it dies.
  sandbox.traffic({ latencyMs: 60_000 });
  const keys = llmGateKeys(prefix);
  const victim = caller({ MAX_IN_FLIGHT: '3', CALLERS: '3', LEASE_MS: '2000' });
  await waitFor('three leases held', async () => (await redis.zcard(keys.leases)) === 3, 30_000);
  const expiries = (await redis.zrange(keys.leases, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
  victim.child.kill('SIGKILL');
  await victim.exited;
  expect(await redis.zcard(keys.leases)).toBe(3);

  sandbox.traffic({ latencyMs: 0 });
  const { log } = capturingLogger('gate-kill', 'warn');
  const metrics = createMetrics();
  const gate = createLlmGate({ redis, prefix, maxInFlight: 3, leaseMs: 10_000, maxWaitMs: 20_000, metrics, log });
  const llm = createLlmClient({ apiKey: SANDBOX_API_KEY, baseURL: sandbox.url, model: 'claude-sandbox', timeoutMs: 10_000, metrics, log, gate });
  const before = sandbox.calls().length;
  const reading = await llm.readReply({ influencerName: 'Ana', campaignName: 'Spring', currency: 'USD', currentOfferMinor: 100_000, messages: ['Sounds good, I accept.'] });
  expect(reading.intent).toBe('accept');
  const ours = arrivals().slice(before);
  expect(ours).toHaveLength(1);
  // It left only once the first dead lease had expired (Redis and this host share a clock;
  // 50 ms for rounding), not before, and not long after.
  expect(ours[0]!.at).toBeGreaterThanOrEqual(Math.min(...expiries) - 50);
  expect(ours[0]!.at).toBeLessThan(Math.max(...expiries) + 5_000);
});
