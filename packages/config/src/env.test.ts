import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, envSchema, parseEnv } from './env';

describe('parseEnv', () => {
  it('applies defaults for an empty environment', () => {
    const config = parseEnv({});
    expect(config.QUEUE_PREFIX).toBe('parley');
    expect(config.DATABASE_URL).toBe('file:./data/parley.db');
    expect(config.CLICKUP_API_URL).toBe('https://api.clickup.com/api/v2');
    expect(config.LLM_OUTAGE_ESCALATE_AFTER).toBe(900);
    expect(Object.isFrozen(config)).toBe(true);
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

  it('treats empty strings as unset', () => {
    expect(parseEnv({ SLACK_BOT_TOKEN: '', PORT: '' }).PORT).toBe(3000);
  });
});

describe('.env.example', () => {
  it('documents every variable of the schema, and nothing else', () => {
    const text = fs.readFileSync(path.resolve(__dirname, '../../../.env.example'), 'utf8');
    const documented = new Set(text.split('\n').map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter((v): v is string => Boolean(v)));
    const known = new Set(Object.keys(envSchema.shape));
    expect([...known].filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !known.has(k))).toEqual([]);
  });
});
