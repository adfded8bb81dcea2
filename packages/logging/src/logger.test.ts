import { PassThrough } from 'node:stream';
import { createLogger } from './logger';
import { emailDomain, redactString } from './redact';

function capture() {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  return { stream, lines };
}

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
    await new Promise((resolve) => setImmediate(resolve));
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

  it('redacts tokens inside free text', () => {
    expect(redactString('token xapp-1-A-2 and pk_123_ABC')).toBe('token [redacted] and [redacted]');
    expect(emailDomain('Jane <Jane@Example.COM>')).toBe('example.com');
  });
});
