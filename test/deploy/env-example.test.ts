import fs from 'node:fs';
import path from 'node:path';
import { parseEnv as nodeParseEnv } from 'node:util';
import { ConfigError, envSchema, parseEnv } from '@parley/config';
import { spawnTs } from '../support/processes';
import { parseComposeEnvFile } from './compose-env-file';

/**
 * `.env.example` is read by two parsers: Node's (`npm start`, scripts/start.mjs) and docker
 * compose's (`env_file: .env`, and the project .env for interpolation). They disagree on inline
 * comments (`KEY=   # note` is '' for Node and the text `# note` for compose), so the example
 * keeps every comment on its own line, and this test holds both to the same map and the config
 * schema to every value as written.
 */
const ROOT = path.resolve(__dirname, '../..');
const exampleText = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
const [appPart = '', deploymentPart = ''] = exampleText.split(/^# === Deployment.*$/m);
const assignments = (text: string) => text.split('\n').filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l));
const keyOf = (line: string) => line.slice(0, line.indexOf('='));

/** Tokens, keys, secrets, passwords: the only values an operator must bring. */
const SECRET_NAME = /(^|_)(TOKEN|KEY|SECRET|PASSWORD)(_JSON)?$/;
// Values of the documented shapes, none real; the bearer tokens come from `openssl rand -hex 32`.
const SECRET_VALUES: Record<string, string> = {
  ANTHROPIC_API_KEY: 'sk-ant-api03-unit-test-key',
  GOOGLE_CLIENT_SECRET: 'GOCSPX-unit-test-secret',
  GOOGLE_REFRESH_TOKEN: '1//unit-test-refresh-token',
  GOOGLE_TOKEN_JSON: '{"client_id":"id.apps.googleusercontent.com","client_secret":"s","refresh_token":"r"}',
  CLICKUP_WEBHOOK_SECRET: 'unit-test-webhook-secret',
  CLICKUP_API_TOKEN: 'pk_1_UNITTEST',
  SLACK_BOT_TOKEN: 'xoxb-1-2-unittest',
  SLACK_APP_TOKEN: 'xapp-1-A1-2-unittest',
  SLACK_SIGNING_SECRET: 'unit-test-signing-secret',
  REDIS_SENTINEL_PASSWORD: 'unit-test-sentinel-password',
  ADMIN_TOKEN: '5d1c8e0f3b9a47e2c6d0f81a9b3e7c25d4f60a1b8c2e9d7f3a5b0c6e1d8f2a94',
  METRICS_TOKEN: 'b2f9c41e07d36a58e19f0c4d7a8e3b61c5d2f0e9a4b7c8d1e6f3a0b5c2d9e8f7',
  GRAFANA_ADMIN_PASSWORD: '9c2e4a7b1d0f3e6a8c5b2d4f7e1a3c6b',
};
// Per-deployment values the API requires that are not secrets (the Pub/Sub push subscription).
const PUSH_SUBSCRIPTION = { PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail', PUBSUB_SERVICE_ACCOUNT: 'gmail-push@example-project.iam.gserviceaccount.com' };

describe('the compose env-file reader used below', () => {
  it("follows Docker's documented examples", () => {
    const parsed = parseComposeEnvFile(
      [
        'A=VAL # comment',
        'B=VAL# not a comment',
        'C="VAL # not a comment"',
        'D="VAL" # comment',
        "E='$OTHER'",
        "F='Let\\'s go!'",
        'G="{\\"hello\\": \\"json\\"}"',
        'H="some\\tvalue"',
        "I='some\\tvalue'",
        'export J=exported',
        'K=${UNSET:-default}',
        'L=${A}-$B',
        'M=cost $$5',
      ].join('\n'),
    );
    expect(parsed).toEqual({
      A: 'VAL',
      B: 'VAL# not a comment',
      C: 'VAL # not a comment',
      D: 'VAL',
      E: '$OTHER',
      F: "Let's go!",
      G: '{"hello": "json"}',
      H: 'some\tvalue',
      I: 'some\\tvalue',
      J: 'exported',
      K: 'default',
      L: 'VAL-VAL# not a comment',
      M: 'cost $5',
    });
    expect(() => parseComposeEnvFile('N=${MISSING:?set it}')).toThrow(/MISSING is missing a value: set it/);
  });

  it('reads a comment after blanks as the value, where Node reads nothing (why the example has none)', () => {
    const line = 'ADMIN_TOKEN=                         # protects /admin; openssl rand -hex 32';
    expect(parseComposeEnvFile(line).ADMIN_TOKEN).toBe('# protects /admin; openssl rand -hex 32');
    expect(nodeParseEnv(line).ADMIN_TOKEN).toBe('');
    // That text as a token is refused at start rather than protecting /admin with a comment.
    expect(() => parseEnv({ ADMIN_TOKEN: parseComposeEnvFile(line).ADMIN_TOKEN })).toThrow(/ADMIN_TOKEN: must look random/);
  });
});

describe('.env.example', () => {
  const byNode = nodeParseEnv(exampleText);
  const byCompose = parseComposeEnvFile(exampleText);

  it('keeps every comment on a line of its own, and values plain (no quotes, no $, no blanks)', () => {
    for (const line of assignments(exampleText)) {
      const value = line.slice(line.indexOf('=') + 1);
      expect({ line, plain: /^[^\s#'"`$\\]*$/.test(value) }).toEqual({ line, plain: true });
    }
    const other = exampleText.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && !/^[A-Z][A-Z0-9_]*=/.test(l));
    expect(other).toEqual([]);
  });

  it('reads the same with Node (npm start) and with docker compose (env_file)', () => {
    expect(byCompose).toEqual(byNode);
    const keys = assignments(exampleText).map(keyOf);
    expect(new Set(keys).size).toBe(keys.length);
    expect(Object.keys(byNode).sort()).toEqual([...keys].sort());
  });

  it('validates as written in production, given only the secrets', () => {
    const secrets = Object.keys(byNode).filter((k) => SECRET_NAME.test(k));
    expect(secrets.sort()).toEqual(Object.keys(SECRET_VALUES).sort());
    for (const name of secrets) expect({ name, value: byNode[name] }).toEqual({ name, value: '' });

    const env = { ...byNode, ...SECRET_VALUES, NODE_ENV: 'production' };
    const config = parseEnv(env, 'any');
    expect(parseEnv(env, 'worker')).toEqual(config);
    // Every value written in the example is the value the processes run with.
    for (const [name, value] of Object.entries(byNode)) {
      if (value === '' || !(name in envSchema.shape)) continue;
      expect({ name, value: String(config[name as keyof typeof config]) }).toEqual({ name, value });
    }

    // The API needs the push subscription's audience and account besides, and nothing else.
    let error: unknown;
    try {
      parseEnv(env, 'api');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual(['PUBSUB_AUDIENCE', 'PUBSUB_SERVICE_ACCOUNT']);
    expect(parseEnv({ ...env, ...PUSH_SUBSCRIPTION }, 'api').METRICS_TOKEN).toBe(SECRET_VALUES.METRICS_TOKEN);
  });

  it('refuses a placeholder or short ADMIN_TOKEN in that configuration, naming the fix', () => {
    const env = { ...byNode, ...SECRET_VALUES, ...PUSH_SUBSCRIPTION, NODE_ENV: 'production' };
    for (const weak of ['change-me', 'replace-with-openssl-output-0000', 'c0f3a9d27be1']) {
      expect(() => parseEnv({ ...env, ADMIN_TOKEN: weak }, 'api')).toThrow(/ADMIN_TOKEN: must look random: .*openssl rand -hex 32/);
    }
  });

  it('keeps what only docker compose reads in its deployment section, each used by the compose file or deploy.sh', () => {
    const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const deploySh = fs.readFileSync(path.join(ROOT, 'deploy/deploy.sh'), 'utf8');
    const deployment = assignments(deploymentPart).map(keyOf);
    expect(deployment.length).toBeGreaterThan(0);
    for (const name of deployment) {
      expect({ name, inSchema: name in envSchema.shape }).toEqual({ name, inSchema: false });
      const used = compose.includes(`\${${name}`) || compose.includes(`environment: ${name}`) || deploySh.includes(name);
      expect({ name, used }).toEqual({ name, used: true });
    }
    for (const name of assignments(appPart).map(keyOf)) expect({ name, inSchema: name in envSchema.shape }).toEqual({ name, inSchema: true });
  });
});

describe('start-up with the example configuration (apps/api/src/main.ts)', () => {
  it('refuses a short ADMIN_TOKEN before connecting to anything, without echoing it', async () => {
    const short = 'e7b14c0a92d5f36e';
    const proc = spawnTs('apps/api/src/main.ts', { ...byNodeForProcess(), ...SECRET_VALUES, ...PUSH_SUBSCRIPTION, NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:1', ADMIN_TOKEN: short });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/ADMIN_TOKEN: must look random: .*shorter than 24 characters; generate one with: openssl rand -hex 32/);
    expect(proc.output()).not.toContain(short);
    expect(proc.output()).not.toContain('api listening');
  });
});

/** The example's non-empty values, as `npm start` passes them on (empty means unset). */
function byNodeForProcess(): Record<string, string> {
  return Object.fromEntries(Object.entries(nodeParseEnv(exampleText)).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}
