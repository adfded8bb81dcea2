import { ConfigError, parseEnv } from '@parley/config';
import { assertWorkerIntegrations } from '../../apps/worker/src/engine-wiring';

describe('worker integration settings', () => {
  it('names every missing integration variable in one error', () => {
    let error: unknown;
    try {
      assertWorkerIntegrations(parseEnv({}, 'worker'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['ANTHROPIC_API_KEY', 'GMAIL_MAILBOX', 'GMAIL_PUBSUB_TOPIC', 'CLICKUP_API_TOKEN', 'GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET', 'GOOGLE_REFRESH_TOKEN']) {
      expect(message).toContain(name);
    }
  });

  it('accepts a token JSON instead of the three Google OAuth variables', () => {
    const config = parseEnv(
      {
        ANTHROPIC_API_KEY: 'k',
        GMAIL_MAILBOX: 'deals@brand.test',
        GMAIL_PUBSUB_TOPIC: 'projects/p/topics/t',
        CLICKUP_API_TOKEN: 'pk_1',
        GOOGLE_TOKEN_JSON: '{"client_id":"a","client_secret":"b","refresh_token":"c"}',
      },
      'worker',
    );
    expect(() => assertWorkerIntegrations(config)).not.toThrow();
  });
});
