import { createHash, createHmac } from 'node:crypto';
import { jobIds } from '@parley/queue';
import { createGroupCommit, withTx } from '@parley/db';
import { waitFor } from '../support/wait';
import { CLICKUP_SECRET, jobIdsIn, nothingRecorded, startApi, type ApiHarness } from './api-harness';

const sign = (body: string, secret = CLICKUP_SECRET) => createHmac('sha256', secret).update(body).digest('hex');

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event: 'taskStatusUpdated',
    task_id: '1vj37mc',
    webhook_id: '7fa3ec74-69a8-4530-a251-8a13730bd204',
    history_items: [
      {
        id: '2800763136717140857',
        type: 1,
        date: '1642734631523',
        field: 'status',
        parent_id: '162641062',
        data: { status_type: 'open' },
        source: null,
        user: { id: 183, username: 'John', email: 'john@brand.example.com' },
        before: { status: null, color: '#000000', type: 'removed', orderindex: -1 },
        after: { status: 'ready', color: '#f9d900', orderindex: 0, type: 'open' },
      },
    ],
    ...overrides,
  };
}

describe('POST /webhooks/clickup', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApi();
  });
  afterEach(async () => {
    await h.close();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${h.url}/webhooks/clickup`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const signed = (value: unknown) => {
    const body = JSON.stringify(value);
    return post(body, { 'x-signature': sign(body) });
  };

  it('accepts a signed event: 200 {ok:true}, one job per history item and its delivery row', async () => {
    const res = await signed(event());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const jobId = jobIds.campaignIngest({ webhookId: '7fa3ec74-69a8-4530-a251-8a13730bd204', taskId: '1vj37mc', historyItemId: '2800763136717140857' });
    expect(await jobIdsIn(h.queues, 'campaign-tasks')).toEqual([jobId]);
    const job = await h.queues['campaign-tasks'].getJob(jobId);
    expect(job?.name).toBe('campaign-ingest');
    expect(job?.data).toEqual({ webhookId: '7fa3ec74-69a8-4530-a251-8a13730bd204', taskId: '1vj37mc', event: 'taskStatusUpdated', historyItemId: '2800763136717140857' });
    expect(await h.db.webhookDelivery.findUnique({ where: { id: jobId } })).toMatchObject({ queue: 'campaign-tasks', jobName: 'campaign-ingest', payload: job?.data });
  });

  it('enqueues one job per distinct history item', async () => {
    const res = await signed(event({ history_items: [{ id: 'a1' }, { id: 'b2' }, { id: 'a1' }, { id: 33 }] }));
    expect(res.status).toBe(200);
    expect((await jobIdsIn(h.queues, 'campaign-tasks')).length).toBe(3);
    expect(await h.db.webhookDelivery.count()).toBe(3);
  });

  it('identifies an event without history items by the digest of its body, so a retry collapses', async () => {
    const body = JSON.stringify(event({ event: 'taskCreated', history_items: undefined }));
    for (let i = 0; i < 3; i += 1) expect((await post(body, { 'x-signature': sign(body) })).status).toBe(200);
    const historyItemId = createHash('sha256').update(body).digest('hex');
    expect(await jobIdsIn(h.queues, 'campaign-tasks')).toEqual([jobIds.campaignIngest({ webhookId: '7fa3ec74-69a8-4530-a251-8a13730bd204', taskId: '1vj37mc', historyItemId })]);
    expect(await h.db.webhookDelivery.count()).toBe(1);
  });

  it('collapses concurrent redeliveries of one event into one job', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => signed(event({ event: 'taskUpdated' }))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await jobIdsIn(h.queues, 'campaign-tasks')).length).toBe(1);
    expect(await h.db.webhookDelivery.count()).toBe(1);
  });

  it('groups concurrent webhooks into one transaction and answers none before its row is committed, counting redeliveries', async () => {
    // A write transaction held open (another writer of the same database, through Prisma on the
    // connection the ingress's raw transactions share): the webhooks that arrive meanwhile wait
    // for the next one.
    let release!: () => void;
    const other = createGroupCommit((fn) => withTx(h.db, fn), async (_tx, items: number[]) => {
      await new Promise<void>((resolve) => (release = resolve));
      return items;
    });
    const held = other.run(1);
    await waitFor('the held transaction', async () => release !== undefined);
    const distinct = Array.from({ length: 48 }, (_, i) => event({ task_id: `task-${i}`, history_items: [{ id: `h${i}` }] }));
    // Every fourth event sent twice at once: each pair gives one job, one row, one duplicate.
    const bodies = [...distinct, ...distinct.filter((_, i) => i % 4 === 0)];
    let answered = 0;
    const results = Promise.all(bodies.map((b) => signed(b).then((r) => ((answered += 1), r.status))));
    await waitFor('60 webhooks waiting to be written', async () => {
      const { waiting, writing } = h.writes.stats();
      return waiting + writing === 60;
    });
    expect(answered).toBe(0);
    expect(await h.db.webhookDelivery.count()).toBe(0);
    expect(await jobIdsIn(h.queues, 'campaign-tasks')).toEqual([]);

    release();
    await held;
    expect(await results).toEqual(bodies.map(() => 200));
    expect(await h.db.webhookDelivery.count()).toBe(48);
    expect((await jobIdsIn(h.queues, 'campaign-tasks')).length).toBe(48);
    const outcomes = (await h.metrics.webhooks.get()).values.filter((v) => v.labels.source === 'clickup').map((v) => [v.labels.outcome, v.value]);
    expect(outcomes).toEqual(expect.arrayContaining([['accepted', 48], ['duplicate', 12]]));
    // What arrived in the first turn of the event loop, then all the others: two transactions at most.
    expect(h.writes.stats()).toMatchObject({ items: 60, isolatedRetries: 0 });
    expect(h.writes.stats().transactions).toBeLessThanOrEqual(2);
  });

  it('acknowledges other events with 200 and enqueues nothing', async () => {
    const res = await signed(event({ event: 'taskDeleted' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    await nothingRecorded(h);
    const counted = await h.metrics.webhooks.get();
    expect(counted.values.find((v) => v.labels.source === 'clickup' && v.labels.outcome === 'ignored')?.value).toBe(1);
  });

  describe('refuses with 401 and records nothing', () => {
    const body = JSON.stringify(event());
    const cases: [string, Record<string, string>][] = [
      ['no signature', {}],
      ['a signature made with another secret', { 'x-signature': sign(body, 'another-secret') }],
      ['a signature of another body', { 'x-signature': sign(body + ' ') }],
      ['a truncated signature', { 'x-signature': sign(body).slice(0, 40) }],
      ['a signature that is not hex', { 'x-signature': 'z'.repeat(64) }],
    ];
    it.each(cases)('%s', async (_name, headers) => {
      const res = await post(body, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'unauthorized', requestId: res.headers.get('x-request-id') });
      await nothingRecorded(h);
    });

    it('accepts an upper-case hex signature (same bytes)', async () => {
      expect((await post(body, { 'x-signature': sign(body).toUpperCase() })).status).toBe(200);
    });
  });

  describe('refuses malformed (but signed) bodies with 400 and records nothing', () => {
    const cases: [string, string][] = [
      ['malformed JSON', '{"event":'],
      ['an empty body', ''],
      ['no task_id', JSON.stringify(event({ task_id: undefined }))],
      ['no webhook_id', JSON.stringify(event({ webhook_id: undefined }))],
      ['a numeric event', JSON.stringify(event({ event: 7 }))],
      ['history items without ids', JSON.stringify(event({ history_items: [{ field: 'status' }] }))],
      ['history_items that is not an array', JSON.stringify(event({ history_items: 'x' }))],
    ];
    it.each(cases)('%s', async (_name, body) => {
      const res = await post(body, { 'x-signature': sign(body) });
      expect(res.status).toBe(400);
      expect((await res.json()) as unknown).toMatchObject({ requestId: res.headers.get('x-request-id') });
      await nothingRecorded(h);
    });
  });

  it('answers 413 for a body over 1 MB, before checking anything else', async () => {
    const body = JSON.stringify(event({ padding: 'x'.repeat(1024 * 1024) }));
    const res = await post(body, { 'x-signature': sign(body) });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    await nothingRecorded(h);
    const counted = await h.metrics.webhooks.get();
    expect(counted.values.find((v) => v.labels.source === 'clickup')?.labels.outcome).toBe('too_large');
  });
});
