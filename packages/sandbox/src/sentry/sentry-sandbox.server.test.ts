import { gzipSync } from 'node:zlib';
import { defaultStackParser, makeNodeTransport, NodeClient } from '@sentry/node';
import { parseEnvelope } from './envelope.parser';
import { SENTRY_SANDBOX_KEY, startSentrySandbox, type SentrySandbox } from './sentry-sandbox.server';

/** A client of the official SDK of its own (never the process-wide one), pointed at the stand-in. */
function clientFor(dsn: string): NodeClient {
  return new NodeClient({ dsn, transport: makeNodeTransport, stackParser: defaultStackParser, integrations: [], release: 'parley@test', environment: 'unit' });
}

describe('Sentry ingest stand-in', () => {
  let sentry: SentrySandbox;
  beforeAll(async () => {
    sentry = await startSentrySandbox();
  });
  afterEach(() => sentry.reset());
  afterAll(async () => {
    await sentry.close();
  });

  it('takes the events the official SDK sends to its DSN, plain and gzip', async () => {
    const client = clientFor(sentry.dsn);
    client.captureException(new Error('small one'));
    // Above the transport's 32 KB threshold: sent gzip-encoded.
    client.captureException(new Error(`big one ${'x'.repeat(40_000)}`));
    await client.flush(5000);
    const events = sentry.events();
    expect(events.map((e) => e.event.exception?.values?.at(-1)?.value?.slice(0, 8))).toEqual(['small on', 'big one ']);
    expect(events[0]?.event).toMatchObject({ release: 'parley@test', environment: 'unit', level: 'error' });
    expect(events.map((e) => e.encoding)).toEqual(['identity', 'gzip']);
    expect(events[1]?.raw.length).toBeGreaterThan(40_000);
    expect(sentry.rejected()).toEqual([]);
    expect(sentry.env()).toEqual({ SENTRY_DSN: `http://${SENTRY_SANDBOX_KEY}@127.0.0.1:${sentry.port}/4242` });
  });

  it('refuses another key or project, and malformed or oversized envelopes', async () => {
    const other = clientFor(sentry.dsn.replace(SENTRY_SANDBOX_KEY, 'someoneelse'));
    other.captureException(new Error('wrong key'));
    await other.flush(5000);
    const post = (body: Buffer | string, headers: Record<string, string> = {}, project = '4242') =>
      fetch(`${sentry.url}/api/${project}/envelope/?sentry_key=${SENTRY_SANDBOX_KEY}`, { method: 'POST', body, headers });
    expect((await post('{}\n{"type":"event"}\n{}', {}, '1')).status).toBe(404);
    expect((await post('not json')).status).toBe(400);
    expect((await post(gzipSync('{}\n{"length":50,"type":"event"}\n{}'), { 'content-encoding': 'gzip' })).status).toBe(400);
    expect((await post(Buffer.alloc(3 * 1024 * 1024, 0x20))).status).toBe(413);
    expect(sentry.rejected().map((r) => r.status)).toEqual([401, 404, 400, 400, 413]);
    expect(sentry.events()).toEqual([]);
  });
});

describe('envelope parsing', () => {
  it('reads items by length (newlines inside) or up to the next newline', () => {
    const attachment = 'line one\nline two';
    const body = Buffer.from(`{"event_id":"e1"}\n{"type":"attachment","length":${Buffer.byteLength(attachment)}}\n${attachment}\n{"type":"event"}\n{"message":"hi"}\n`);
    const envelope = parseEnvelope(body);
    expect(envelope.header.event_id).toBe('e1');
    expect(envelope.items.map((i) => [i.type, i.payload.toString()])).toEqual([
      ['attachment', attachment],
      ['event', '{"message":"hi"}'],
    ]);
    expect(envelope.items[1]?.json).toEqual({ message: 'hi' });
  });

  it('bounds the number of items', () => {
    const body = Buffer.from(`{}\n${'{"type":"event"}\n{}\n'.repeat(5)}`);
    expect(() => parseEnvelope(body, 4)).toThrow(/more than 4 items/);
  });
});
