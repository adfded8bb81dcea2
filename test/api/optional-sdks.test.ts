import { spawnTs } from '../support/processes';

const base = {
  PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
  PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
  CLICKUP_WEBHOOK_SECRET: 'optional-sdks-test-secret',
};

async function loadedWith(env: Record<string, string>): Promise<{ sentry: boolean; bolt: boolean }> {
  const proc = spawnTs('test/fixtures/loaded-sdks.ts', { ...base, ...env });
  expect(await proc.exited).toBe(0);
  return JSON.parse(proc.output().trim().split('\n').at(-1) ?? '{}') as { sentry: boolean; bolt: boolean };
}

/**
 * Sentry's SDK (with OpenTelemetry, about 30 MB) and Slack's Bolt (about 25 MB) are loaded only
 * when configured: the API's memory bound (docs/benchmarks.md) holds for a deployment without them.
 */
describe('optional SDKs', () => {
  it('loads neither Sentry nor Bolt when SENTRY_DSN and Slack are not configured', async () => {
    expect(await loadedWith({})).toEqual({ sentry: false, bolt: false });
  });

  it('loads each when it is configured', async () => {
    expect(await loadedWith({ SENTRY_DSN: 'http://public@127.0.0.1:9/1', SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'slack-signing-secret-for-test' })).toEqual({ sentry: true, bolt: true });
  });
});
