import { createHmac, randomBytes } from 'node:crypto';
import { createOidcSigner, startCertsServer, type CertsServer } from '@parley/sandbox';
import { rawHttp, type RawAnswer } from '../support/chaos-http';
import { chaosSeed, mapConcurrent, percentile, scaled, writeChaosSummary } from '../support/chaos-run';
import { createLoopHarness, type LoopHarness, type LoopProcess } from '../e2e/loop-harness';
import { fuzzCase, isHealthPath, type FuzzCase, type FuzzContext } from './fuzz-cases';

const COUNT = scaled({ short: 1_000, full: 10_000 });
const CONCURRENCY = 16;

jest.setTimeout(scaled({ short: 180_000, full: 900_000 }));

/** Why an answer is wrong for a case, or null when it is right. */
function verdict(c: FuzzCase, answer: RawAnswer): string | null {
  if (answer.status === null) return c.allowClosed && answer.outcome === 'closed' ? null : `no answer (${answer.outcome})`;
  const s = answer.status;
  // Liveness and readiness answer whatever the request carries (readiness is 503 here: no worker runs).
  if (isHealthPath(c.target) && (s === 200 || s === 503)) return null;
  if (s >= 400 && s < 500) return null;
  return `status ${s}`;
}

/** The request as a reader can replay it: JSON-escaped, cut at 600 bytes. */
function preview(request: Buffer): string {
  const text = request.toString('latin1');
  return JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}…(${request.length} bytes)` : text);
}

/**
 * Hostile requests against the real API process: random bytes, bad and forged tokens, bad
 * signatures, valid credentials over malformed or wrongly shaped bodies, broken encodings and
 * lengths, deep JSON, unicode, odd methods, traversal paths, oversized and malformed headers.
 * The API must answer each with a 4xx (the health routes: 200 or 503), never a 5xx, never
 * hang, stay alive, and let none of them create a job or a delivery row. Reproducible: the
 * seed is printed; CHAOS_SEED=<seed> CHAOS_FUZZ_CASE=<index> replays one case.
 */
describe('fuzzed requests against the API (real process)', () => {
  let h: LoopHarness;
  let certs: CertsServer;
  let api: LoopProcess;
  const signer = createOidcSigner();
  const metricsToken = randomBytes(16).toString('hex');

  beforeAll(async () => {
    // The API trusts this test's signer, so it can also mint expired, wrong-audience and
    // unverified tokens with a key the API accepts.
    certs = await startCertsServer([signer]);
    h = await createLoopHarness({ label: 'fuzz', env: { GOOGLE_CERTS_URL: certs.url, METRICS_TOKEN: metricsToken } });
    api = await h.startApi();
  });
  afterAll(async () => {
    await h?.close();
    await certs?.close();
  });

  it('answers every hostile request with a 4xx, keeps serving and creates nothing', async () => {
    const seed = chaosSeed('request-fuzz');
    const env = h.sandbox.env();
    const audience = env.PUBSUB_AUDIENCE ?? '';
    const serviceAccount = env.PUBSUB_SERVICE_ACCOUNT ?? '';
    const ctx: FuzzContext = {
      signer,
      forger: createOidcSigner({ kid: signer.kid }),
      stranger: createOidcSigner(),
      audience,
      serviceAccount,
      mailbox: h.sandbox.google.mailbox,
      clickupSecret: env.CLICKUP_WEBHOOK_SECRET ?? '',
      webhookId: h.sandbox.clickup.webhookId,
      validAuthorization: `Bearer ${signer.sign({ aud: audience, email: serviceAccount })}`,
    };
    const port = Number(new URL(h.apiUrl).port);
    const only = process.env.CHAOS_FUZZ_CASE;
    const indices = only && /^\d+$/.test(only) ? [Number(only)] : Array.from({ length: COUNT }, (_, i) => i);

    const byCategory: Record<string, number> = {};
    const byStatus: Record<string, number> = {};
    const failures: string[] = [];
    const latencies: number[] = [];
    let automaticOptions = 0;
    const started = Date.now();
    await mapConcurrent(indices, CONCURRENCY, async (index) => {
      // Generated when sent: some cases are a megabyte, the whole run would not fit in memory.
      const c = fuzzCase(ctx, seed, index);
      const answer = await rawHttp(port, c.request, { chunks: c.chunks, endAfterWrite: c.endAfterWrite, timeoutMs: 20_000 });
      latencies.push(answer.ms);
      byCategory[c.category] = (byCategory[c.category] ?? 0) + 1;
      const key = answer.status === null ? answer.outcome : String(answer.status);
      byStatus[key] = (byStatus[key] ?? 0) + 1;
      if (c.method === 'OPTIONS' && answer.status === 200) automaticOptions += 1;
      const problem = verdict(c, answer);
      if (problem) {
        failures.push(
          `case ${index} (CHAOS_SEED=${seed} CHAOS_FUZZ_CASE=${index}) [${c.category}] ${c.what}: ${problem}; ` +
            `answer ${JSON.stringify(answer.head.split('\r\n')[0] ?? '')}; request ${preview(c.request)}`,
        );
      }
    });
    const durationMs = Date.now() - started;

    const jobs: Record<string, number> = {};
    for (const [name, queue] of Object.entries(h.queues)) jobs[name] = Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);
    const rows = { webhookDelivery: await h.db.webhookDelivery.count(), mailboxSync: await h.db.mailboxSync.count() };
    const liveness = await fetch(`${h.apiUrl}/health/liveness`);
    const serverErrorsLogged = api.output().split('\n').filter((l) => l.includes('"request failed"')).length;

    writeChaosSummary('request-fuzz', {
      seed,
      requests: indices.length,
      concurrency: CONCURRENCY,
      byCategory,
      byStatus,
      optionsAnswered200: automaticOptions,
      failures: failures.length,
      firstFailures: failures.slice(0, 10),
      jobsCreated: Object.values(jobs).reduce((a, b) => a + b, 0),
      deliveryRows: rows.webhookDelivery,
      serverErrorsLogged,
      apiAliveAfter: liveness.status === 200 && h.running().includes(api),
      durationMs,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: percentile(latencies, 100) },
    });

    expect(failures.slice(0, 25)).toEqual([]);
    expect(liveness.status).toBe(200);
    expect(h.running()).toContain(api);
    expect(jobs).toEqual(Object.fromEntries(Object.keys(h.queues).map((q) => [q, 0])));
    expect(rows).toEqual({ webhookDelivery: 0, mailboxSync: 0 });
    expect(serverErrorsLogged).toBe(0);

    // The credentials the cases were built around are the real ones: with a valid body they
    // are accepted. So each refusal above came from the case's defect, not a wrong key.
    const pusher = h.sandbox.pusherFor(h.apiUrl);
    const envelope = pusher.envelope({ emailAddress: ctx.mailbox, historyId: '12345' });
    expect((await pusher.pushRaw(envelope, { authorization: ctx.validAuthorization })).status).toBe(204);
    const clickup = JSON.stringify({ event: 'taskCreated', task_id: 'fuzz-check', webhook_id: ctx.webhookId, history_items: [{ id: '1' }] });
    const signature = createHmac('sha256', ctx.clickupSecret).update(clickup).digest('hex');
    const accepted = await fetch(`${h.apiUrl}/webhooks/clickup`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signature }, body: clickup });
    expect(accepted.status).toBe(200);
    expect((await fetch(`${h.apiUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status).toBe(200);
    expect(await h.db.webhookDelivery.count()).toBe(2);
  });
});
