import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startAnthropicSandbox, startGoogleSandbox } from '@parley/sandbox';
import { anthropicLiveTarget, gmailLiveTarget, isLoopbackUrl } from './live-env';

/** When the live checks run, skip or refuse; and that a skip is one visible line that passes, in CI too. */

const REAL_KEY = 'sk-ant-api03-0123456789abcdefghijklmnopqrstuvwxyz';
const GMAIL_VARS = {
  GOOGLE_CLIENT_ID: '123-abc.apps.googleusercontent.com',
  GOOGLE_CLIENT_SECRET: 'GOCSPX-secretsecretsecret',
  GOOGLE_REFRESH_TOKEN: '1//0refresh-token-value',
  GMAIL_MAILBOX: 'deals@brand.example',
  GMAIL_PUBSUB_TOPIC: 'projects/brand-test/topics/gmail',
};

describe('isLoopbackUrl', () => {
  it.each([
    'http://127.0.0.1:4545',
    'http://127.8.9.10/v1',
    'http://localhost:3000/',
    'http://LOCALHOST.',
    'http://api.localhost:8080',
    'http://[::1]:80/',
    'http://[::ffff:127.0.0.1]:5000',
    'http://0.0.0.0:9',
  ])('%s is loopback', (url) => {
    expect(isLoopbackUrl(url)).toBe(true);
  });

  it.each(['https://api.anthropic.com', 'https://gmail.googleapis.com/', 'https://oauth2.googleapis.com/token', 'http://10.0.0.1:80', 'http://128.0.0.1', 'http://127.0.0.1.example.com', 'http://localhost.example.com', 'http://[::ffff:8.8.8.8]', 'not a url'])(
    '%s is not',
    (url) => {
      expect(isLoopbackUrl(url)).toBe(false);
    },
  );
});

describe('anthropicLiveTarget', () => {
  it('skips without a key, in one line naming the variable (empty counts as unset)', () => {
    for (const env of [{}, { ANTHROPIC_API_KEY: '' }, { ANTHROPIC_API_KEY: '  ', CI: 'true' }]) {
      const target = anthropicLiveTarget(env);
      if (target.run) throw new Error('expected a skip');
      expect(target.line).toMatch(/^\[live\] .*anthropic\.live\.test\.ts.*: skipped, set ANTHROPIC_API_KEY to run it/);
      expect(target.line).not.toContain('\n');
    }
  });

  it('runs against the real API with a real key, with the product defaults', () => {
    const target = anthropicLiveTarget({ ANTHROPIC_API_KEY: REAL_KEY });
    if (!target.run) throw new Error(target.line);
    expect(target.config).toEqual({ apiKey: REAL_KEY, baseURL: 'https://api.anthropic.com', model: expect.stringMatching(/^claude-/), timeoutMs: 60_000 });
    const custom = anthropicLiveTarget({ ANTHROPIC_API_KEY: REAL_KEY, ANTHROPIC_MODEL: 'claude-haiku-4-5', ANTHROPIC_BASE_URL: 'https://llm-proxy.example.com', ANTHROPIC_TIMEOUT_MS: '90000' });
    if (!custom.run) throw new Error(custom.line);
    expect(custom.config).toMatchObject({ model: 'claude-haiku-4-5', baseURL: 'https://llm-proxy.example.com', timeoutMs: 90_000 });
  });

  it('refuses the sandbox: its loopback base URL or its key, and never prints the key', async () => {
    const sandbox = await startAnthropicSandbox();
    try {
      const env = sandbox.env();
      for (const target of [anthropicLiveTarget(env), anthropicLiveTarget({ ...env, ANTHROPIC_API_KEY: REAL_KEY }), anthropicLiveTarget({ ANTHROPIC_API_KEY: env.ANTHROPIC_API_KEY })]) {
        if (target.run) throw new Error('the sandbox was taken for the live API');
        expect(target.line).toMatch(/^\[live\] .*: skipped, refusing /);
        expect(target.line).not.toContain(REAL_KEY);
      }
      const byUrl = anthropicLiveTarget({ ...env, ANTHROPIC_API_KEY: REAL_KEY });
      expect(byUrl.run === false && byUrl.line).toContain(`ANTHROPIC_BASE_URL=${new URL(sandbox.url).origin}: a loopback address is the sandbox`);
    } finally {
      await sandbox.close();
    }
  });

  it('a malformed setting is an error, not a skip', () => {
    expect(() => anthropicLiveTarget({ ANTHROPIC_API_KEY: REAL_KEY, ANTHROPIC_TIMEOUT_MS: 'soon' })).toThrow(/ANTHROPIC_TIMEOUT_MS/);
    expect(() => anthropicLiveTarget({ ANTHROPIC_API_KEY: REAL_KEY, ANTHROPIC_BASE_URL: 'api.anthropic.com' })).toThrow(/ANTHROPIC_BASE_URL/);
  });
});

describe('gmailLiveTarget', () => {
  it('skips unless the OAuth credentials, the mailbox and the topic are all set, naming them', () => {
    const partial = [{}, { ...GMAIL_VARS, GOOGLE_REFRESH_TOKEN: undefined }, { ...GMAIL_VARS, GMAIL_PUBSUB_TOPIC: '' }, { ...GMAIL_VARS, GMAIL_MAILBOX: undefined }];
    for (const env of partial) {
      const target = gmailLiveTarget(env);
      if (target.run) throw new Error('expected a skip');
      expect(target.line).toMatch(/^\[live\] .*gmail\.live\.test\.ts.*: skipped, set /);
      for (const name of ['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET', 'GOOGLE_REFRESH_TOKEN', 'GOOGLE_TOKEN_JSON', 'GMAIL_MAILBOX', 'GMAIL_PUBSUB_TOPIC']) expect(target.line).toContain(name);
      expect(target.line).not.toContain('\n');
    }
  });

  it('runs with the three OAuth variables or a token JSON', () => {
    const target = gmailLiveTarget(GMAIL_VARS);
    if (!target.run) throw new Error(target.line);
    expect(target.config).toEqual({
      auth: { GOOGLE_CLIENT_ID: GMAIL_VARS.GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET: GMAIL_VARS.GOOGLE_CLIENT_SECRET, GOOGLE_REFRESH_TOKEN: GMAIL_VARS.GOOGLE_REFRESH_TOKEN, GOOGLE_TOKEN_URL: 'https://oauth2.googleapis.com/token' },
      mailbox: GMAIL_VARS.GMAIL_MAILBOX,
      topic: GMAIL_VARS.GMAIL_PUBSUB_TOPIC,
    });
    const json = JSON.stringify({ client_id: 'a', client_secret: 'b', refresh_token: 'c' });
    const byJson = gmailLiveTarget({ GOOGLE_TOKEN_JSON: json, GMAIL_MAILBOX: GMAIL_VARS.GMAIL_MAILBOX, GMAIL_PUBSUB_TOPIC: GMAIL_VARS.GMAIL_PUBSUB_TOPIC });
    if (!byJson.run) throw new Error(byJson.line);
    expect(byJson.config.auth.GOOGLE_TOKEN_JSON).toBe(json);
  });

  it("refuses the Google sandbox's loopback API root and token URL", async () => {
    const google = await startGoogleSandbox();
    try {
      const sandboxEnv = google.env();
      const target = gmailLiveTarget({ ...sandboxEnv, GMAIL_PUBSUB_TOPIC: GMAIL_VARS.GMAIL_PUBSUB_TOPIC });
      expect(target.run === false && target.line).toMatch(/skipped, refusing GOOGLE_API_ROOT_URL=http:\/\/127\.0\.0\.1:\d+: a loopback address is the sandbox/);
      const tokenOnly = gmailLiveTarget({ ...GMAIL_VARS, GOOGLE_TOKEN_URL: sandboxEnv.GOOGLE_TOKEN_URL });
      expect(tokenOnly.run === false && tokenOnly.line).toMatch(/refusing GOOGLE_TOKEN_URL=/);
      expect(tokenOnly.run === false && tokenOnly.line).not.toContain(GMAIL_VARS.GOOGLE_CLIENT_SECRET);
    } finally {
      await google.close();
    }
  });

  it('a malformed topic is an error, not a skip', () => {
    expect(() => gmailLiveTarget({ ...GMAIL_VARS, GMAIL_PUBSUB_TOPIC: 'gmail-topic' })).toThrow(/GMAIL_PUBSUB_TOPIC/);
  });
});

describe('the live files without credentials', () => {
  it('each prints exactly one skip line and passes, with CI=true too', () => {
    const root = path.resolve(__dirname, '../..');
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) if (!/^(ANTHROPIC_|GOOGLE_|GMAIL_)/.test(name)) env[name] = value;
    env.CI = 'true';
    const run = spawnSync(process.execPath, [path.join(root, 'node_modules/jest/bin/jest.js'), '--ci', '--maxWorkers=1', `--globalSetup=${path.join(__dirname, 'no-database.global-setup.ts')}`, 'test/live/anthropic.live.test.ts', 'test/live/gmail.live.test.ts'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${run.stdout}${run.stderr}`;
    expect({ status: run.status, output }).toEqual({ status: 0, output: expect.any(String) });
    const lines = output.split('\n').filter((l) => l.startsWith('[live]'));
    expect(lines).toHaveLength(2);
    expect(lines.filter((l) => /anthropic\.live\.test\.ts.*: skipped, set ANTHROPIC_API_KEY/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /gmail\.live\.test\.ts.*: skipped, set GOOGLE_CLIENT_ID/.test(l))).toHaveLength(1);
    expect(output).toMatch(/Tests:\s+2 skipped, 2 total/);
  });
});
