import { PassThrough } from 'node:stream';
import { createLogger } from './logger';
import { emailDomain, redact, REDACTED, redactString } from './redact';

function capture() {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  return { stream, lines };
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe('logger redaction', () => {
  it('keeps bodies, addresses and tokens out of JSON log lines', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ service: 'test', stream }).child({ jobId: 'j1', queue: 'q' });
    log.info('sending to jane.doe@example.com with Bearer abc.def.ghi', {
      body: 'Hi Jane, our offer is $500',
      headers: { authorization: 'Bearer secret-token', 'x-request-id': 'r1' },
      to: 'Jane <jane.doe@example.com>',
      slack: 'xoxb-1234-abcd',
      apiKey: 'sk-ant-api03-xyz',
      nested: [{ refresh_token: '1//0gabc' }],
    });
    await flushed();
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    const record = JSON.parse(line) as Record<string, unknown>;
    expect(record.jobId).toBe('j1');
    expect(record.queue).toBe('q');
    expect(line).toContain('***@example.com');
    expect(line).toContain('r1');
    for (const leak of ['jane.doe', 'our offer', 'secret-token', 'abc.def.ghi', 'xoxb-1234', 'sk-ant-api03', '1//0gabc']) {
      expect(line).not.toContain(leak);
    }
  });

  // The API's error handler logs `stack` (a key winston keeps apart from the metadata): a stack
  // repeats the error's message, which can quote an address or a token.
  it('redacts a logged stack', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ service: 'test', stream });
    const error = new Error('send to jane.doe@example.com refused for ya29.a0AfH6SMBsecretaccess');
    log.error('request failed', { status: 500, error: error.message, stack: error.stack });
    await flushed();
    const record = JSON.parse(lines[0] ?? '{}') as { stack?: string; error?: string };
    expect(record.stack).toMatch(/^Error: send to \*\*\*@example\.com refused for \[redacted\]\n\s+at /);
    expect(record.error).toBe('send to ***@example.com refused for [redacted]');
    expect(lines[0]).not.toContain('jane.doe');
    expect(lines[0]).not.toContain('a0AfH6SMB');
  });

  it('redacts an Error passed as metadata to its name and redacted message', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ service: 'test', stream });
    log.warn('send failed', { error: new Error('bounced: bob@creators.test') });
    await flushed();
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ error: { name: 'Error', message: 'bounced: ***@creators.test' } });
  });

  it('redacts the pretty (development) format too', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ service: 'test', stream, pretty: true });
    log.info('reply from ava@creators.test', { text: 'My rate is $900 for two videos', stack: 'Error: x@y.com\n  at z' });
    await flushed();
    const line = lines.join('\n');
    expect(line).toContain('***@creators.test');
    for (const leak of ['ava@', 'My rate', 'x@y.com']) expect(line).not.toContain(leak);
  });
});

describe('redaction of metadata keys', () => {
  // Every key whose value is an email's text or a credential, in the spellings the code uses.
  it.each([
    'authorization',
    'Authorization',
    'cookie',
    'set-cookie',
    'password',
    'secret',
    'token',
    'access_token',
    'accessToken',
    'refresh_token',
    'refreshToken',
    'id_token',
    'api_key',
    'apiKey',
    'x-api-key',
    'client_secret',
    'clientSecret',
    'signature',
    'x-signature',
    'private_key',
    'raw',
    'body',
    'text',
    'html',
    'content',
    'snippet',
    'data',
  ])('%s', (key) => {
    const out = redact({ [key]: 'Dear Ava, our offer stands', nested: { [key]: { deep: 'value' } }, keep: 'visible' }) as Record<string, unknown>;
    expect(out[key]).toBe(REDACTED);
    expect((out.nested as Record<string, unknown>)[key]).toBe(REDACTED);
    expect(out.keep).toBe('visible');
  });

  it('keeps ids, counts and absent values', () => {
    expect(redact({ jobId: 'step.n1.open', attempts: 3, queue: 'alerts', body: undefined, text: null })).toEqual({ jobId: 'step.n1.open', attempts: 3, queue: 'alerts', body: undefined, text: null });
  });
});

describe('redaction of free text', () => {
  // One case per credential shape: each pattern is load-bearing.
  it.each([
    ['a bearer token', 'auth header Bearer abc.DEF-123_x', 'abc.DEF'],
    ['basic auth', 'sent Basic dXNlcjpwYXNzd29yZA== upstream', 'dXNlcjpw'],
    ['a Slack bot token', 'slack xoxb-123-456-abcDEF failed', 'xoxb-'],
    ['a Slack app token', 'socket xapp-1-A1-2-abc failed', 'xapp-'],
    ['an Anthropic key', 'key sk-ant-api03-AbC_d-e rejected', 'sk-ant-'],
    ['a ClickUp token', 'clickup pk_12345_ABCDEF rejected', 'pk_12345'],
    ['a Google access token', 'gmail said 401 for ya29.a0AfH6SMB-x_y.z', 'ya29.'],
    ['a Google refresh token', 'refresh 1//0gLongRefreshToken-_x failed', '1//0g'],
    ['a JWT (OIDC token)', 'token eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl', 'eyJhbGciOi'],
  ])('%s', (_label, input, secret) => {
    const out = redactString(input);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  it('replaces addresses by their domain', () => {
    expect(redactString('from Jane.Doe+tag@Example.co.uk and bob@x.io')).toBe('from ***@Example.co.uk and ***@x.io');
    expect(redactString('token xapp-1-A-2 and pk_123_ABC')).toBe('token [redacted] and [redacted]');
    expect(emailDomain('Jane <Jane@Example.COM>')).toBe('example.com');
  });
});
