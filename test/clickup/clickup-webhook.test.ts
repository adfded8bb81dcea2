import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clickUpWebhookSchema, verifyClickUpSignature } from '@parley/clickup';
import { connectClickUpSandbox, startClickUpSandbox, type ClickUpSandbox } from '@parley/sandbox/clickup';

const SECRET = 'whsec-3f1c9a';

interface Delivery {
  rawBody: string;
  signature: string | undefined;
  contentType: string | undefined;
}

/** A receiver that checks X-Signature with node:crypto alone and answers 200 or 401. */
async function startReceiver(): Promise<{ url: string; deliveries: Delivery[]; close: () => Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const signature = req.headers['x-signature'];
      const given = typeof signature === 'string' ? signature : undefined;
      deliveries.push({ rawBody: raw.toString('utf8'), signature: given, contentType: req.headers['content-type'] });
      const expected = createHmac('sha256', SECRET).update(raw).digest();
      const provided = Buffer.from(given ?? '', 'hex');
      const valid = provided.length === expected.length && timingSafeEqual(provided, expected);
      res.writeHead(valid ? 200 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/clickup`,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('ClickUp sandbox webhook sender', () => {
  let sandbox: ClickUpSandbox;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    sandbox = await startClickUpSandbox({ token: 'pk_1_T', webhookSecret: SECRET });
    receiver = await startReceiver();
    sandbox.upsertTask({ id: 'abc123', name: 'Campaign', status: 'draft', customFields: {} });
    sandbox.setStatus('abc123', 'ready');
  });
  afterAll(async () => {
    await receiver.close();
    await sandbox.close();
  });
  beforeEach(() => {
    receiver.deliveries.length = 0;
  });

  it('signs the raw body with hex HMAC-SHA256 in X-Signature, verifiable with node:crypto', async () => {
    const statuses = await sandbox.sendWebhook(receiver.url, { event: 'taskStatusUpdated', taskId: 'abc123', historyItemId: '2800763136202072879' });
    expect(statuses).toEqual([200]);
    const [delivery] = receiver.deliveries;
    expect(delivery?.contentType).toBe('application/json');
    expect(delivery?.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(delivery?.signature).toBe(createHmac('sha256', SECRET).update(delivery?.rawBody ?? '').digest('hex'));
    expect(verifyClickUpSignature(delivery?.rawBody ?? '', delivery?.signature, SECRET)).toBe(true);
    expect(verifyClickUpSignature(`${delivery?.rawBody} `, delivery?.signature, SECRET)).toBe(false);
  });

  it('posts the real payload shape, with the status change in the history item', async () => {
    await sandbox.sendWebhook(receiver.url, { event: 'taskStatusUpdated', taskId: 'abc123', historyItemId: '99', webhookId: 'wh-1' });
    const body: unknown = JSON.parse(receiver.deliveries[0]?.rawBody ?? '');
    expect(body).toEqual({
      event: 'taskStatusUpdated',
      task_id: 'abc123',
      webhook_id: 'wh-1',
      history_items: [
        expect.objectContaining({
          id: '99',
          type: 1,
          date: expect.stringMatching(/^\d{13}$/),
          field: 'status',
          user: expect.objectContaining({ id: expect.any(Number), username: expect.any(String) }),
          before: expect.objectContaining({ status: 'draft' }),
          after: expect.objectContaining({ status: 'ready', color: expect.any(String), orderindex: expect.any(Number), type: expect.any(String) }),
        }),
      ],
    });
    const parsed = clickUpWebhookSchema.parse(body);
    expect(parsed.history_items?.[0]?.id).toBe('99');
  });

  it('shapes taskCreated and taskUpdated like ClickUp', async () => {
    await sandbox.sendWebhook(receiver.url, { event: 'taskCreated', taskId: 'abc123' });
    await sandbox.sendWebhook(receiver.url, { event: 'taskUpdated', taskId: 'abc123' });
    const [created, updated] = receiver.deliveries.map((delivery) => clickUpWebhookSchema.parse(JSON.parse(delivery.rawBody)));
    expect(created?.webhook_id).toBe(sandbox.webhookId);
    expect(created?.history_items?.[0]).toEqual(expect.objectContaining({ field: 'status', before: expect.objectContaining({ status: null, type: 'removed' }) }));
    expect(updated?.history_items?.[0]).toEqual(expect.objectContaining({ before: null, after: expect.any(String) }));
    // Each call gets its own history item id unless one is given.
    expect(created?.history_items?.[0]?.id).not.toBe(updated?.history_items?.[0]?.id);
  });

  it('sends exact duplicates when asked', async () => {
    const statuses = await sandbox.sendWebhook(receiver.url, { event: 'taskStatusUpdated', taskId: 'abc123' }, { times: 3 });
    expect(statuses).toEqual([200, 200, 200]);
    const bodies = new Set(receiver.deliveries.map((delivery) => delivery.rawBody));
    const signatures = new Set(receiver.deliveries.map((delivery) => delivery.signature));
    expect(receiver.deliveries).toHaveLength(3);
    expect(bodies.size).toBe(1);
    expect(signatures.size).toBe(1);
  });

  it('sends a wrong signature or none, and returns the receiver statuses', async () => {
    const wrong = await sandbox.sendWebhook(receiver.url, { event: 'taskStatusUpdated', taskId: 'abc123' }, { signWith: 'not-the-secret' });
    const none = await sandbox.sendWebhook(receiver.url, { event: 'taskStatusUpdated', taskId: 'abc123' }, { signWith: null });
    expect(wrong).toEqual([401]);
    expect(none).toEqual([401]);
    expect(receiver.deliveries[1]?.signature).toBeUndefined();
    expect(verifyClickUpSignature(receiver.deliveries[0]?.rawBody ?? '', receiver.deliveries[0]?.signature, SECRET)).toBe(false);
  });

  it('reports 0 for a delivery that gets no answer', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const statuses = await sandbox.sendWebhook(`http://127.0.0.1:${port}/`, { event: 'taskCreated', taskId: 'abc123' }, { timeoutMs: 200 });
      expect(statuses).toEqual([0]);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('sends over HTTP control too', async () => {
    const control = connectClickUpSandbox(sandbox.url);
    const statuses = await control.sendWebhook(receiver.url, { event: 'taskStatusUpdated', taskId: 'abc123', historyItemId: '7' }, { times: 2 });
    expect(statuses).toEqual([200, 200]);
    expect(receiver.deliveries.map((delivery) => clickUpWebhookSchema.parse(JSON.parse(delivery.rawBody)).history_items?.[0]?.id)).toEqual(['7', '7']);
  });
});
