import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLICKUP_MAX_RESPONSE_BYTES, createClickUpClient, DEFAULT_RATE_LIMIT_WAIT_MS, parseCampaignTask, rateLimitWaitMs } from '@parley/clickup';
import { classifyError, PermanentError, RateLimitedError, TransientError } from '@parley/queue';
import { connectClickUpSandbox, startClickUpSandbox, type ClickUpSandbox } from '@parley/sandbox/clickup';
import { freePort } from '../support/redis';

const TOKEN = 'pk_8675309_SANDBOXTOKEN';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection');
}

/** A one-route loopback server for answers the sandbox never gives (malformed bodies, silence). */
async function startRawServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v2`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('ClickUp client against the sandbox', () => {
  let sandbox: ClickUpSandbox;

  beforeAll(async () => {
    sandbox = await startClickUpSandbox({ token: TOKEN, webhookSecret: 'whsec-test' });
    sandbox.upsertTask({
      id: '86a1b2c3d',
      name: 'Spring Launch',
      status: 'ready',
      customFields: {
        'CPM Floor': 12.5,
        'CPM Ceiling': { type: 'currency', value: 20 },
        'Max Rounds': 4,
        'Roster Sheet': 'https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd/edit#gid=0',
        Currency: { type: 'drop_down', value: 'EUR', options: ['USD', 'EUR', 'GBP'] },
        Notes: null,
      },
    });
  });
  afterAll(async () => sandbox.close());

  it('reads a task, sending the token bare, with number values that arrive as strings', async () => {
    const sent: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      sent.push(new Headers(init?.headers).get('authorization') ?? '(none)');
      return fetch(input, init);
    };
    const client = createClickUpClient({ baseUrl: sandbox.apiUrl, token: TOKEN, fetchImpl: recordingFetch });
    const task = await client.getTask('86a1b2c3d');

    expect(sent).toEqual([TOKEN]);
    expect(task.id).toBe('86a1b2c3d');
    expect(task.name).toBe('Spring Launch');
    expect(task.status).toBe('ready');
    const byName = Object.fromEntries(task.customFields.map((field) => [field.name, field]));
    expect(byName['CPM Floor']).toEqual({ name: 'CPM Floor', type: 'number', value: '12.5' });
    expect(byName['CPM Ceiling']).toEqual({ name: 'CPM Ceiling', type: 'currency', value: 20 });
    expect(byName['Max Rounds']?.value).toBe('4');
    expect(byName['Roster Sheet']?.type).toBe('url');
    // A dropdown's wire value is the option's orderindex; the client hands back the option's name.
    expect(byName['Currency']).toEqual({ name: 'Currency', type: 'drop_down', value: 'EUR' });
    expect(byName['Notes']?.value).toBeUndefined();

    const parsed = parseCampaignTask(task);
    expect(parsed).toEqual({
      ok: true,
      campaign: {
        name: 'Spring Launch',
        cpmFloorMinor: 1250,
        cpmCeilingMinor: 2000,
        maxRounds: 4,
        rosterSheetId: '1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd',
        rosterRange: 'Roster!A1:F',
        currency: 'EUR',
      },
    });
  });

  it('serves the real Get Task shape on the wire', async () => {
    const response = await fetch(`${sandbox.apiUrl}/task/86a1b2c3d`, { headers: { Authorization: TOKEN } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.status).toEqual(expect.objectContaining({ status: 'ready', color: expect.any(String), orderindex: expect.any(Number), type: expect.any(String) }));
    const fields = body.custom_fields as Record<string, unknown>[];
    for (const field of fields) expect(Object.keys(field)).toEqual(expect.arrayContaining(['id', 'name', 'type', 'type_config']));
    expect(fields.find((field) => field.name === 'Notes')).not.toHaveProperty('value');
  });

  it('maps a "Bearer" token and a wrong token to a permanent 401 without echoing the token', async () => {
    for (const token of [`Bearer ${TOKEN}`, 'pk_wrong']) {
      const error = await rejection(createClickUpClient({ baseUrl: sandbox.apiUrl, token }).getTask('86a1b2c3d'));
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).reason).toBe('clickup_auth');
      expect(error.message).toContain('401');
      expect(error.message).toContain('OAUTH_025');
      expect(error.message).not.toContain('pk_');
      expect(classifyError(error)).toBe('permanent');
    }
  });

  it('maps a missing task to a permanent 404', async () => {
    const error = await rejection(createClickUpClient({ baseUrl: sandbox.apiUrl, token: TOKEN }).getTask('nope'));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).reason).toBe('clickup_not_found');
    expect(error.message).toContain('ITEM_013');
  });

  it('maps a 429 to a rate-limited error that waits until X-RateLimit-Reset', async () => {
    const client = createClickUpClient({ baseUrl: sandbox.apiUrl, token: TOKEN });
    const resetEpochSec = Math.floor(Date.now() / 1000) + 120;
    sandbox.failNext(1, { status: 429, resetEpochSec });
    const before = Date.now();
    const error = await rejection(client.getTask('86a1b2c3d'));
    expect(error).toBeInstanceOf(RateLimitedError);
    const limited = error as RateLimitedError;
    expect(limited.source).toBe('clickup');
    expect(limited.waitMs).toBeLessThanOrEqual(resetEpochSec * 1000 - before + 1000);
    expect(limited.waitMs).toBeGreaterThanOrEqual(resetEpochSec * 1000 - Date.now() - 1000);
    expect(classifyError(error)).toBe('rate_limited');
    // The failure was one-shot: the next call goes through.
    await expect(client.getTask('86a1b2c3d')).resolves.toEqual(expect.objectContaining({ id: '86a1b2c3d' }));
  });

  it('waits a full minute on a 429 without X-RateLimit-Reset', async () => {
    sandbox.failNext(1, { status: 429, resetEpochSec: null });
    const error = await rejection(createClickUpClient({ baseUrl: sandbox.apiUrl, token: TOKEN }).getTask('86a1b2c3d'));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).waitMs).toBe(DEFAULT_RATE_LIMIT_WAIT_MS);
    expect(DEFAULT_RATE_LIMIT_WAIT_MS).toBe(60_000);
  });

  it('maps 500 and 503 to transient errors', async () => {
    const client = createClickUpClient({ baseUrl: sandbox.apiUrl, token: TOKEN });
    sandbox.failNext(1, { status: 500 });
    sandbox.failNext(1, { status: 503 });
    for (const status of [500, 503]) {
      const error = await rejection(client.getTask('86a1b2c3d'));
      expect(error).toBeInstanceOf(TransientError);
      expect(error.message).toContain(String(status));
      expect(classifyError(error)).toBe('transient');
    }
    const served = sandbox.requests().map((request) => request.status);
    expect(served.slice(-2)).toEqual([500, 503]);
  });

  it('maps a refused connection and a silent server to transient errors', async () => {
    const closedPort = await freePort();
    const refused = await rejection(createClickUpClient({ baseUrl: `http://127.0.0.1:${closedPort}/api/v2`, token: TOKEN }).getTask('x'));
    expect(refused).toBeInstanceOf(TransientError);
    expect((refused as TransientError).reason).toBe('clickup_network');

    const silent = await startRawServer(() => undefined);
    try {
      const timedOut = await rejection(createClickUpClient({ baseUrl: silent.url, token: TOKEN, timeoutMs: 300 }).getTask('x'));
      expect(timedOut).toBeInstanceOf(TransientError);
      expect((timedOut as TransientError).reason).toBe('clickup_timeout');
    } finally {
      await silent.close();
    }
  });

  it('rejects a 200 whose body is not a task as permanent', async () => {
    const odd = await startRawServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', status: 'ready' }));
    });
    try {
      const error = await rejection(createClickUpClient({ baseUrl: odd.url, token: TOKEN }).getTask('x'));
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toMatch(/unexpected task shape at .*name/);
    } finally {
      await odd.close();
    }
  });

  it('stops reading an endless 200 at its size limit: permanent, and the connection is closed', async () => {
    let ended: Promise<boolean> = Promise.resolve(true);
    const endless = await startRawServer((_req, res) => {
      ended = new Promise((resolve) => res.once('close', () => resolve(res.writableFinished)));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"id":"x","name":"');
      const chunk = 'a'.repeat(64 * 1024);
      const pump = () => {
        while (!res.destroyed) if (!res.write(chunk)) return void res.once('drain', pump);
      };
      pump();
    });
    try {
      const error = await rejection(createClickUpClient({ baseUrl: endless.url, token: TOKEN }).getTask('x'));
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toBe(`ClickUp getTask x: the answer is larger than ${CLICKUP_MAX_RESPONSE_BYTES} bytes`);
      expect(await ended).toBe(false);
    } finally {
      await endless.close();
    }
  });

  it('maps a body cut off mid-way to a transient error', async () => {
    const cut = await startRawServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"id":"x","name":"');
      setImmediate(() => res.socket?.destroy());
    });
    try {
      const error = await rejection(createClickUpClient({ baseUrl: cut.url, token: TOKEN }).getTask('x'));
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).reason).toBe('clickup_network');
    } finally {
      await cut.close();
    }
  });

  it('is scripted over HTTP control like in process', async () => {
    const control = connectClickUpSandbox(sandbox.url);
    await control.upsertTask({ id: 'ctl1', name: 'Over HTTP', status: 'draft', customFields: { 'cpm floor': '9.99' } });
    await control.setStatus('ctl1', 'Ready');
    const client = createClickUpClient({ baseUrl: sandbox.apiUrl, token: TOKEN });
    const task = await client.getTask('ctl1');
    expect(task.status).toBe('Ready');
    expect(task.customFields).toEqual([{ name: 'cpm floor', type: 'short_text', value: '9.99' }]);

    await control.failNext(1, { status: 429, resetEpochSec: null });
    await expect(client.getTask('ctl1')).rejects.toBeInstanceOf(RateLimitedError);
    const log = await control.requests();
    expect(log.at(-1)).toEqual({ method: 'GET', path: '/api/v2/task/ctl1', status: 429 });
    await expect(control.setStatus('missing', 'ready')).rejects.toThrow(/404/);
  });
});

describe('rateLimitWaitMs', () => {
  const now = 1_750_000_000_000;
  it('waits until X-RateLimit-Reset (unix seconds), at least a second, at most an hour', () => {
    expect(rateLimitWaitMs(String(now / 1000 + 42), now)).toBe(42_000);
    expect(rateLimitWaitMs(String(now / 1000 - 5), now)).toBe(1_000);
    expect(rateLimitWaitMs(String(now / 1000 + 86_400), now)).toBe(3_600_000);
  });
  it('reads a millisecond value as such and falls back to a minute on anything unusable', () => {
    expect(rateLimitWaitMs(String(now + 2_500), now)).toBe(2_500);
    expect(rateLimitWaitMs(null, now)).toBe(60_000);
    expect(rateLimitWaitMs('soon', now)).toBe(60_000);
    expect(rateLimitWaitMs('', now)).toBe(60_000);
  });
});
