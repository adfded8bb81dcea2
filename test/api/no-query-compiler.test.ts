import { createHmac } from 'node:crypto';
import { CLICKUP_SECRET, MAILBOX, startApi, type ApiHarness } from './api-harness';

/**
 * Prisma compiles its query compiler (WebAssembly, about 50 MiB of the process's memory) at a
 * client's first query. The API's own paths (webhooks, readiness, metrics) speak raw SQL through
 * sqlOf, so an API that only takes webhooks never compiles it (docs/benchmarks.md, API memory);
 * the dashboard and Slack, which read through Prisma, do on first use.
 */
type ModuleClass = new (bytes: Uint8Array) => object;
/** V8's WebAssembly namespace (the project's TypeScript libraries do not declare it). */
const wasm = (globalThis as unknown as { WebAssembly: { Module: ModuleClass } }).WebAssembly;

describe('the API without Prisma on its hot path', () => {
  const Module = wasm.Module;
  let compiled = 0;
  let h: ApiHarness;
  beforeAll(async () => {
    // Counts every WebAssembly module compiled in this process (Prisma compiles its compiler with `new WebAssembly.Module`).
    wasm.Module = class extends Module {
      constructor(bytes: Uint8Array) {
        super(bytes);
        compiled += 1;
      }
    };
    h = await startApi({ config: { METRICS_TOKEN: 'no-query-compiler-metrics-token' } });
  });
  afterAll(async () => {
    wasm.Module = Module;
    await h.close();
  });

  it('takes Gmail and ClickUp webhooks, answers readiness and a scrape without compiling any, and compiles it for Prisma', async () => {
    const operator = { authorization: 'Bearer no-query-compiler-metrics-token' };
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: '10', messageId: 'nqc-1' })).status).toBe(204);
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: '12', messageId: 'nqc-2' })).status).toBe(204);
    const body = JSON.stringify({ event: 'taskStatusUpdated', task_id: 'task-nqc', webhook_id: '7fa3ec74-69a8-4530-a251-8a13730bd204', history_items: [{ id: 'h-nqc' }] });
    const clickup = await fetch(`${h.url}/webhooks/clickup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', CLICKUP_SECRET).update(body).digest('hex') },
      body,
    });
    expect(clickup.status).toBe(200);
    const readiness = (await (await fetch(`${h.url}/health/readiness`, { headers: operator })).json()) as { checks: { db: { ok: boolean } } };
    expect(readiness.checks.db.ok).toBe(true);
    expect(await (await fetch(`${h.url}/metrics`, { headers: operator })).text()).toMatch(/parley_queue_jobs/);
    expect(compiled).toBe(0);

    // The detector works: Prisma's first query compiles its compiler, and the rows are there.
    expect(await h.db.webhookDelivery.count()).toBe(3);
    expect(compiled).toBe(1);
    expect((await h.db.mailboxSync.findUnique({ where: { mailbox: MAILBOX } }))?.highestNotifiedHistoryId).toBe('12');
  });
});
