import Anthropic, { AuthenticationError, BadRequestError } from '@anthropic-ai/sdk';
import { connectAnthropicSandbox } from './control.client';
import { startAnthropicSandbox, type AnthropicSandbox } from './anthropic-sandbox.server';

for (const name of ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS', 'ANTHROPIC_PROFILE']) delete process.env[name];

const request = {
  model: 'claude-test',
  max_tokens: 256,
  messages: [{ role: 'user', content: '<reply>\nThat works for me, happy to accept $1,250.00.\n</reply>' }],
  tools: [{ name: 'read_reply', input_schema: { type: 'object', properties: {} } }],
  tool_choice: { type: 'tool', name: 'read_reply' },
};

let sandbox: AnthropicSandbox;
beforeAll(async () => {
  sandbox = await startAnthropicSandbox();
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => sandbox.reset());

const post = (headers: Record<string, string>, body: unknown = request) =>
  fetch(`${sandbox.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('Anthropic sandbox wire protocol', () => {
  it('answers a forced tool call as the real API does, with a request-id header, for either auth header and any version', async () => {
    const variants: Record<string, string>[] = [{ 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, { authorization: 'Bearer k', 'anthropic-version': '2026-10-21' }, { 'x-api-key': 'k' }];
    for (const headers of variants) {
      const res = await post(headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('request-id')).toMatch(/^req_/);
      expect(await res.json()).toEqual({
        id: expect.stringMatching(/^msg_/),
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content: [{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'read_reply', input: expect.objectContaining({ intent: 'accept', asked_rate: 1250, currency: 'USD', hostile: false }) }],
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: expect.any(Number), output_tokens: expect.any(Number), cache_creation_input_tokens: null, cache_read_input_tokens: null },
      });
    }
    expect(sandbox.calls().map((c) => [c.auth, c.anthropicVersion])).toEqual([
      ['x-api-key', '2023-06-01'],
      ['bearer', '2026-10-21'],
      ['x-api-key', null],
    ]);
  });

  it('answers 401 authentication_error when neither auth header is present', async () => {
    const res = await post({});
    expect(res.status).toBe(401);
    const body = (await res.json()) as { type: string; error: { type: string }; request_id: string };
    expect(body).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) }, request_id: expect.stringMatching(/^req_/) });
    expect(res.headers.get('request-id')).toBe(body.request_id);
  });

  it('rejects a key other than the configured one, through the SDK', async () => {
    const strict = await startAnthropicSandbox({ apiKey: 'sk-right' });
    try {
      const sdk = new Anthropic({ apiKey: 'sk-wrong', baseURL: strict.url, maxRetries: 0 });
      await expect(sdk.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(AuthenticationError);
      const ok = new Anthropic({ apiKey: 'sk-right', baseURL: strict.url, maxRetries: 0 });
      const msg = await ok.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
      expect(msg.content[0]).toMatchObject({ type: 'text' });
      expect(strict.env()).toEqual({ ANTHROPIC_BASE_URL: strict.url, ANTHROPIC_API_KEY: 'sk-right' });
    } finally {
      await strict.close();
    }
  });

  it('validates requests like the real API: malformed JSON, missing fields, unknown forced tool, unanswered tool_use', async () => {
    expect((await post({ 'x-api-key': 'k' }, '{nope')).status).toBe(400);
    expect((await post({ 'x-api-key': 'k' }, { model: 'm', messages: [] })).status).toBe(400);
    expect((await post({ 'x-api-key': 'k' }, { ...request, tool_choice: { type: 'tool', name: 'other' } })).status).toBe(400);
    const orphan = {
      ...request,
      messages: [
        request.messages[0],
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_reply', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: 'x', is_error: true }] },
      ],
    };
    const res = await post({ 'x-api-key': 'k' }, orphan);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('tool_result') });
    const sdk = new Anthropic({ apiKey: 'k', baseURL: sandbox.url, maxRetries: 0 });
    await expect(sdk.messages.create({ model: 'm', max_tokens: 0, messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(BadRequestError);
  });

  it('sends error bodies as the real API, including the spend-limit details and retry headers', async () => {
    sandbox.faults([{ status: 429, spendLimit: true }, { status: 429, retryAfter: 3, retryAfterMs: 2500 }, { status: 529 }, { status: 500 }]);
    const spend = await post({ 'x-api-key': 'k' });
    expect(spend.status).toBe(429);
    expect(await spend.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', details: { error_code: 'enforced_spend_limit_reached' } } });
    const limited = await post({ 'x-api-key': 'k' });
    expect([limited.headers.get('retry-after'), limited.headers.get('retry-after-ms')]).toEqual(['3', '2500']);
    expect(await limited.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
    expect(await (await post({ 'x-api-key': 'k' })).json()).toMatchObject({ error: { type: 'overloaded_error' } });
    expect(await (await post({ 'x-api-key': 'k' })).json()).toMatchObject({ error: { type: 'api_error' } });
    expect((await post({ 'x-api-key': 'k' })).status).toBe(200);
  });

  it('has an HTTP control API: queue faults, list calls, reset', async () => {
    const control = connectAnthropicSandbox(sandbox.url);
    await control.faults([{ status: 503 }]);
    expect((await post({ 'x-api-key': 'k' })).status).toBe(503);
    expect((await post({ 'x-api-key': 'k' })).status).toBe(200);
    const calls = await control.calls();
    expect(calls.map((c) => c.status)).toEqual([503, 200]);
    expect(calls[0]).toMatchObject({ n: expect.any(Number), tool: null, fault: { status: 503 } });
    const bad = await fetch(`${sandbox.url}/_control/faults`, { method: 'POST', body: JSON.stringify([{ status: 'soon' }]) });
    expect(bad.status).toBe(400);
    const wrapped = await fetch(`${sandbox.url}/_control/faults`, { method: 'POST', body: JSON.stringify({ faults: [{ status: 500 }, { status: 500 }] }) });
    expect(await wrapped.json()).toEqual({ ok: true, queued: 2 });
    await control.reset();
    expect(await control.calls()).toEqual([]);
    expect((await post({ 'x-api-key': 'k' })).status).toBe(200);
  });
});
