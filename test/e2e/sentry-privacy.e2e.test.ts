import { signClickUpBody } from '@parley/clickup';
import { DEMO_INFLUENCERS, seedDemoCampaign, type ReceivedSentryEvent } from '@parley/sandbox';
import { findLeaks } from '../support/logs';
import { waitFor } from '../support/wait';
import { createLoopHarness, type LoopHarness } from './loop-harness';

jest.setTimeout(180_000);

const SENTRY_ENV = { SENTRY_ENVIRONMENT: 'e2e', SENTRY_RELEASE: 'parley@e2e-sentry' };

const tags = (e: ReceivedSentryEvent) => (e.event.tags ?? {}) as Record<string, unknown>;
const context = (e: ReceivedSentryEvent, name: string) => (e.event.contexts?.[name] ?? {}) as Record<string, unknown>;

/**
 * Sentry through the real SDK in the real processes (started with their instrument files, as
 * in production) against the sandbox's ingest: what reaches it, with which context, and what
 * never does. The harness's teardown also scans every envelope and log for the run's private data.
 */
describe('Sentry: a dead letter in the worker', () => {
  let h: LoopHarness;

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'sentry-dl', env: { ...SENTRY_ENV, FOLLOW_UP_AFTER: '3600' } });
    await h.start(1);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('arrives with queue, job id and attempts, and without the address, the email or the payload', async () => {
    const influencer = { ...DEMO_INFLUENCERS[0]!, email: 'ava+sentry@creators.test' };
    seedDemoCampaign(h.sandbox, { taskId: 'sentry-dl', sheetId: 'sheet-sentry-dl', influencers: [influencer] });
    // The opening draft gets a 400: permanent, so the step is dead-lettered on its first attempt.
    h.sandbox.anthropic.faults([{ status: 400 }]);
    expect(await h.webhook('sentry-dl', { historyItemId: '7001' })).toEqual([200]);

    const row = await waitFor('the dead letter', () => h.db.deadLetter.findFirst({ where: { queue: 'negotiation-steps' } }), 90_000, 200);
    const event = await waitFor('the dead letter in Sentry', () => h.sandbox.sentry.events().find((e) => tags(e).kind === 'dead_letter'), 30_000, 100);

    expect(tags(event)).toMatchObject({ queue: 'negotiation-steps', errorClass: 'permanent', jobName: 'negotiation-step' });
    expect(context(event, 'job')).toEqual({ queue: 'negotiation-steps', jobId: row.jobId, jobName: 'negotiation-step', attempts: row.attempts, deadLetterId: row.id });
    expect(event.event.exception?.values?.at(-1)?.value).toContain('Anthropic 400');
    expect(event.event).toMatchObject({ release: 'parley@e2e-sentry', environment: 'e2e' });
    expect(event.event.server_name).toMatch(/-\d+$/);
    // Neither the job's payload nor the influencer's address or name is part of the event.
    expect(event.raw).not.toContain('"payload"');
    expect(event.raw.toLowerCase()).not.toContain('ava+sentry');
    expect(event.raw).not.toContain(influencer.name);
    expect(event.event.request).toBeUndefined();
    expect(event.event.user).toBeUndefined();
    // One event per dead letter, nothing refused by the ingest.
    expect(h.sandbox.sentry.events().filter((e) => tags(e).kind === 'dead_letter')).toHaveLength(1);
    expect(h.sandbox.sentry.rejected()).toEqual([]);
    expect(await h.leaks()).toEqual([]);
    // Tracing is off, so no request to a third party carries Sentry's trace headers (their
    // baggage names the release, environment and Sentry key).
    expect(h.sandbox.anthropic.calls().length).toBeGreaterThan(0);
    expect(h.sandbox.anthropic.calls().flatMap((c) => c.traceHeaders)).toEqual([]);
    // The teardown scan looks for this run's influencer and credentials.
    const data = await h.privateData();
    expect(data.addresses).toContain('ava+sentry@creators.test');
    expect(data.secrets).toEqual(expect.arrayContaining([h.env().ANTHROPIC_API_KEY, h.env().CLICKUP_WEBHOOK_SECRET, h.env().GOOGLE_REFRESH_TOKEN, h.env().ADMIN_TOKEN]));
  });
});

describe('Sentry: an unexpected error in the API', () => {
  let h: LoopHarness;

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'sentry-api', env: SENTRY_ENV });
    await h.startApi();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('arrives with the request id, method and route, and without the body, headers or cookies', async () => {
    // A database failure in the request path (a lost table stands in for a broken volume):
    // the webhook is verified and parsed, then recording the delivery throws.
    await h.db.$executeRawUnsafe('DROP TABLE "WebhookDelivery"');
    const address = 'private.person@creators.test';
    const sentence = 'Our offer of nine hundred dollars for two videos stands firm.';
    const body = JSON.stringify({
      event: 'taskUpdated',
      webhook_id: h.sandbox.clickup.webhookId,
      task_id: 'sentry-api-task',
      history_items: [{ id: '8001', field: 'description', before: null, after: `Write to ${address}: ${sentence}` }],
    });
    const env = h.env();
    const signature = signClickUpBody(body, env.CLICKUP_WEBHOOK_SECRET ?? '');
    const cookie = 'session=cookie-value-that-must-stay-home';
    const bearer = 'Bearer header-token-that-must-stay-home';
    const res = await fetch(`${h.apiUrl}/webhooks/clickup?token=query-token-that-must-stay-home`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signature, 'x-request-id': 'req-sentry-e2e-1', cookie, authorization: bearer },
      body,
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal error', requestId: 'req-sentry-e2e-1' });

    const event = await waitFor('the API error in Sentry', () => h.sandbox.sentry.events().find((e) => tags(e).requestId === 'req-sentry-e2e-1'), 30_000, 100);
    // Reported once, by the error handler (no integration captures it besides).
    expect(h.sandbox.sentry.events()).toHaveLength(1);
    expect(context(event, 'api')).toEqual({ requestId: 'req-sentry-e2e-1', method: 'POST', route: '/webhooks/clickup' });
    expect(event.event.exception?.values?.at(-1)?.value).toMatch(/WebhookDelivery/);
    expect(event.event).toMatchObject({ release: 'parley@e2e-sentry', environment: 'e2e' });
    // The request is reduced to its method and path.
    expect(event.event.request ?? {}).not.toHaveProperty('headers');
    expect(event.event.request ?? {}).not.toHaveProperty('cookies');
    expect(event.event.request ?? {}).not.toHaveProperty('data');
    expect(event.event.request ?? {}).not.toHaveProperty('query_string');

    // Nothing of the body, the headers or the query, in the event, any envelope, or the API's log.
    const secrets = [address, sentence, 'cookie-value-that-must-stay-home', 'header-token-that-must-stay-home', 'query-token-that-must-stay-home', signature];
    const texts = { ...h.logs(), ...Object.fromEntries(h.sandbox.sentry.envelopes().map((e, i) => [`envelope ${i}`, e])) };
    expect(findLeaks(texts, { addresses: [address], sentences: [sentence], secrets })).toEqual([]);
    // The failure itself is in the log, with its stack, under the same request id.
    expect(h.logs()['api#0']).toMatch(/"message":"request failed".*"requestId":"req-sentry-e2e-1"|"requestId":"req-sentry-e2e-1".*"message":"request failed"/);
  });
});
