import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, envSchema, parseEnv } from './env';
import { weakSecretReason } from './secrets';

describe('parseEnv', () => {
  it('applies defaults for an empty environment', () => {
    const config = parseEnv({});
    expect(config.QUEUE_PREFIX).toBe('parley');
    expect(config.DATABASE_URL).toBe('file:./data/parley.db');
    expect(config.CLICKUP_API_URL).toBe('https://api.clickup.com/api/v2');
    expect(config.LLM_OUTAGE_ESCALATE_AFTER).toBe(900);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes a SQLite file or a PostgreSQL URL as DATABASE_URL, and nothing else', () => {
    expect(parseEnv({ DATABASE_URL: 'file:/data/parley.db' }).DATABASE_URL).toBe('file:/data/parley.db');
    expect(parseEnv({ DATABASE_URL: 'postgresql://parley:pw@db:5432/parley' }).DATABASE_URL).toBe('postgresql://parley:pw@db:5432/parley');
    expect(parseEnv({ DATABASE_URL: 'postgres://parley@db/parley' }).DATABASE_URL).toBe('postgres://parley@db/parley');
    for (const bad of ['mysql://db/parley', './parley.db', 'postgresql:/db']) {
      expect(() => parseEnv({ DATABASE_URL: bad })).toThrow(/DATABASE_URL: must be a SQLite file URL \(file:.*\) or a PostgreSQL URL/);
    }
  });

  it('reports every bad variable in one error, naming each and never echoing secrets', () => {
    let error: unknown;
    try {
      parseEnv({ SLACK_BOT_TOKEN: 'xoxp-secret-value', SLACK_APP_TOKEN: 'bad', REDIS_URL: 'http://nope', PORT: '70000' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'REDIS_URL', 'PORT']) expect(message).toContain(name);
    expect(message).toContain('xoxb-');
    expect(message).not.toContain('xoxp-secret-value');
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('requires the webhook secrets for the api role only', () => {
    expect(() => parseEnv({}, 'worker')).not.toThrow();
    expect(() => parseEnv({}, 'api')).toThrow(/PUBSUB_AUDIENCE[\s\S]*PUBSUB_SERVICE_ACCOUNT[\s\S]*CLICKUP_WEBHOOK_SECRET/);
  });

  it('reads TRUST_PROXY as a hop count or a list of proxies, and refuses to believe everyone', () => {
    expect(parseEnv({}).TRUST_PROXY).toBeUndefined();
    expect(parseEnv({ TRUST_PROXY: '' }).TRUST_PROXY).toBeUndefined();
    expect(parseEnv({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(parseEnv({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8' }).TRUST_PROXY).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8']);
    for (const bad of ['true', 'yes', '*', '1,', 'loopback;rm', '100', '10.0.0.0/33', '999.1.1.1', '10.0.0.0/8/1']) {
      expect(() => parseEnv({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY: must be a hop count/);
    }
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ SLACK_BOT_TOKEN: '', PORT: '' }).PORT).toBe(3000);
  });
});

describe('exposure rules', () => {
  const api = { PUBSUB_AUDIENCE: 'aud', PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com', CLICKUP_WEBHOOK_SECRET: 's' };
  const strong = 'c0f3a9d27be14e8a5f6c7d8e9a0b1c2d';

  it('refuses a production API without METRICS_TOKEN, and a production worker serving metrics without it', () => {
    expect(() => parseEnv({ ...api, NODE_ENV: 'production' }, 'api')).toThrow(/METRICS_TOKEN: required in production/);
    expect(() => parseEnv({ ...api }, 'api')).toThrow(/METRICS_TOKEN/);
    expect(parseEnv({ ...api, NODE_ENV: 'production', METRICS_TOKEN: strong }, 'api').METRICS_TOKEN).toBe(strong);
    expect(parseEnv({ ...api, NODE_ENV: 'test' }, 'api').METRICS_TOKEN).toBeUndefined();
    expect(() => parseEnv({ NODE_ENV: 'production', WORKER_METRICS_PORT: '9100' }, 'worker')).toThrow(/METRICS_TOKEN: required in production/);
    expect(() => parseEnv({ NODE_ENV: 'production' }, 'worker')).not.toThrow();
  });

  it.each([
    ['short', 'a1b2c3d4e5f6a7b8c9d0'],
    ['whitespace', 'c0f3a9d27be14e8a 5f6c7d8e9a0b1c2d'],
    ['a placeholder word', 'change-me-c0f3a9d27be14e8a5f6c'],
    ['a placeholder word', 'admin-token-for-tests-7f3a9c21'],
    ['a placeholder word', 'MySuperSecretPassword123456789'],
    ['a placeholder word', 'example0example1example2example3'],
    ['repeated characters', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
    ['repeated characters', 'c0f3a9d27be1000000004e8a5f6c7d8e'],
    ['a repeated pattern', 'ab12ab12ab12ab12ab12ab12ab12ab12'],
    ['a keyboard or alphabet run', 'abcdefghijklmnopqrstuvwxyz012345'],
    ['low entropy', 'abababababbabababaababbababababab'],
  ])('refuses an ADMIN_TOKEN that is %s (%s), saying how to make one, never echoing it', (_why, value) => {
    let error: unknown;
    try {
      parseEnv({ ADMIN_TOKEN: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('ADMIN_TOKEN:');
    expect(message).toContain('openssl rand -hex 32');
    expect(message).not.toContain(value.trim());
  });

  it('accepts tokens from openssl rand -hex 32, -base64 24 and 12 random bytes in hex', () => {
    for (const value of ['5d1c8e0f3b9a47e2c6d0f81a9b3e7c25d4f60a1b8c2e9d7f3a5b0c6e1d8f2a94', 'q8Zr1vK3t0XbN6yW2pLm5sHd7cJf9gAe', 'b2f9c41e07d36a58e19f0c4d']) {
      expect(parseEnv({ ADMIN_TOKEN: value, METRICS_TOKEN: value }).ADMIN_TOKEN).toBe(value);
    }
    // The heuristics must not refuse what the documented generators produce. The bytes come
    // from a hash chain rather than randomBytes so the run is repeatable (the measured false
    // refusal rate over 600,000 random values is about 2 in 100,000; the message says why).
    for (let i = 0; i < 2000; i += 1) {
      const bytes = createHash('sha256').update(`parley-secret-sample-${i}`).digest();
      for (const value of [bytes.subarray(0, 12).toString('hex'), bytes.toString('hex'), bytes.subarray(0, 24).toString('base64')]) {
        expect({ value, reason: weakSecretReason(value) }).toEqual({ value, reason: undefined });
      }
    }
  });

  it('holds METRICS_TOKEN to the same rule', () => {
    expect(() => parseEnv({ METRICS_TOKEN: 'scrape-token-123' })).toThrow(/METRICS_TOKEN:.*openssl rand -hex 32/);
  });

  it('checks the HTTP limits: header timeout within the request timeout', () => {
    const config = parseEnv({});
    expect(config.HTTP_HEADERS_TIMEOUT_MS).toBeLessThanOrEqual(config.HTTP_REQUEST_TIMEOUT_MS);
    expect(config.HTTP_MAX_CONNECTIONS).toBeGreaterThan(0);
    expect(() => parseEnv({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });

  it('keeps the wait before a resend longer than a Gmail request may take', () => {
    expect(parseEnv({})).toMatchObject({ GMAIL_TIMEOUT_MS: 30_000, GMAIL_SEND_SETTLE_MS: 45_000 });
    expect(parseEnv({ GMAIL_TIMEOUT_MS: '5000', GMAIL_SEND_SETTLE_MS: '5001' })).toMatchObject({ GMAIL_SEND_SETTLE_MS: 5001 });
    expect(() => parseEnv({ GMAIL_TIMEOUT_MS: '5000', GMAIL_SEND_SETTLE_MS: '5000' })).toThrow(/GMAIL_SEND_SETTLE_MS: must exceed GMAIL_TIMEOUT_MS \(5000\)/);
    expect(() => parseEnv({ GMAIL_TIMEOUT_MS: '60000' })).toThrow(/GMAIL_SEND_SETTLE_MS/);
  });
});

describe('.env.example', () => {
  it('documents every variable of the schema, and nothing else', () => {
    // The deployment section holds what only docker compose reads (test/deploy/env-example.test.ts).
    const text = fs.readFileSync(path.resolve(__dirname, '../../../.env.example'), 'utf8').split(/^# === Deployment/m)[0] ?? '';
    const documented = new Set(text.split('\n').map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter((v): v is string => Boolean(v)));
    const known = new Set(Object.keys(envSchema.shape));
    expect([...known].filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !known.has(k))).toEqual([]);
  });
});
