import { WebClient } from '@slack/web-api';
import { startSlackSandbox, type SlackSandbox } from '@parley/sandbox/slack';
import { capturingLogger } from '../../../../test/support/logs';
import { createOperatorCheck, parseOperators } from './operators.service';

describe('parseOperators', () => {
  it('reads user ids and one group; unset means everyone', () => {
    expect(parseOperators(undefined)).toEqual({ everyone: true, users: new Set(), group: undefined });
    expect(parseOperators(' U1 , W2,S3 ')).toEqual({ everyone: false, users: new Set(['U1', 'W2']), group: 'S3' });
  });
});

describe('createOperatorCheck against the Slack stand-in', () => {
  let slack: SlackSandbox;
  let client: WebClient;
  beforeAll(async () => {
    slack = await startSlackSandbox();
    client = new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
  });
  afterAll(async () => {
    await slack.close();
  });

  it('allows listed users without asking Slack', async () => {
    const check = createOperatorCheck({ operators: 'U0OPERATOR1', client, log: capturingLogger('t').log });
    await expect(check.allowed('U0OPERATOR1')).resolves.toBe(true);
    await expect(check.allowed('U0OPERATOR2')).resolves.toBe(false);
    expect(slack.calls('usergroups.users.list')).toHaveLength(0);
  });

  it('reads group members once per TTL and refuses (fails closed) when Slack cannot say', async () => {
    let now = 1_000_000;
    const { log, text } = capturingLogger('t');
    const check = createOperatorCheck({ operators: 'S0OPERATORS', client, log, now: () => now, ttlMs: 60_000 });
    const before = slack.calls('usergroups.users.list').length;
    await expect(Promise.all([check.allowed('U0OPERATOR1'), check.allowed('U0OPERATOR2'), check.allowed('U0NOBODY')])).resolves.toEqual([true, true, false]);
    expect(slack.calls('usergroups.users.list')).toHaveLength(before + 1);

    slack.setUsergroup('S0OPERATORS', ['U0OPERATOR2']);
    await expect(check.allowed('U0OPERATOR1')).resolves.toBe(true);
    now += 60_001;
    await expect(check.allowed('U0OPERATOR1')).resolves.toBe(false);

    now += 60_001;
    slack.fault({ kind: 'error', error: 'invalid_auth', method: 'usergroups.users.list' });
    await expect(check.allowed('U0OPERATOR2')).resolves.toBe(false);
    expect(text()).toContain('slack operator group lookup failed; refusing');
    await expect(check.allowed('U0OPERATOR2')).resolves.toBe(true);
  });
});
