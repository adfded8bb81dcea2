import fs from 'node:fs';
import path from 'node:path';
import type { ErrorEvent } from '@sentry/node';
import { packageRelease, scrubSentryBreadcrumb, scrubSentryEvent, scrubUrl, SENTRY_DATA_COLLECTION, sentryOptions } from './sentry-privacy';

const LEAKS = ['jane.doe', 'sk-ant-api03', 'ya29.a0secret', 'cookie-value', 'our offer', 'query-secret', 'user-ip', 'vars-secret'];

function hostileEvent(): ErrorEvent {
  return {
    type: undefined,
    message: 'send to jane.doe@example.com failed',
    logentry: { message: 'to jane.doe@example.com', params: ['sk-ant-api03-param'] },
    exception: {
      values: [
        {
          type: 'PermanentError',
          value: 'Gmail 401 for ya29.a0secret-token (jane.doe@example.com)',
          stacktrace: { frames: [{ filename: 'a.ts', vars: { token: 'vars-secret' } }] },
        },
      ],
    },
    request: {
      method: 'POST',
      url: 'http://api.test/webhooks/clickup?token=query-secret',
      headers: { authorization: 'Bearer sk-ant-api03-header', cookie: 'session=cookie-value' },
      cookies: { session: 'cookie-value' },
      data: '{"text":"our offer is $900"}',
      query_string: 'token=query-secret',
    },
    user: { ip_address: 'user-ip', email: 'jane.doe@example.com' },
    tags: { requestId: 'r-1', to: 'jane.doe@example.com' },
    extra: { body: 'our offer is $900', jobId: 'step.n1.open' },
    contexts: { job: { queue: 'outbound-email', jobId: 'send.1', attempts: 3, text: 'our offer is $900' } },
    breadcrumbs: [
      { category: 'http', data: { url: 'https://gmail.googleapis.com/gmail/v1/users/jane.doe%40example.com/messages?q=query-secret', method: 'GET' } },
      { category: 'console', message: 'Bearer sk-ant-api03-console to jane.doe@example.com' },
    ],
  };
}

describe('Sentry event scrubbing (beforeSend)', () => {
  it('drops request data, user and variables, and redacts every text field', () => {
    const out = scrubSentryEvent(hostileEvent());
    const json = JSON.stringify(out);
    for (const leak of LEAKS) expect(json).not.toContain(leak);
    expect(out.request).toEqual({ method: 'POST', url: 'http://api.test/webhooks/clickup' });
    expect(out.user).toBeUndefined();
    expect(out.message).toBe('send to ***@example.com failed');
    expect(out.exception?.values?.[0]?.value).toBe('Gmail 401 for [redacted] (***@example.com)');
    expect(out.exception?.values?.[0]?.stacktrace?.frames?.[0]).toEqual({ filename: 'a.ts' });
    // What an operator needs survives: ids, queue, attempts.
    expect(out.tags).toEqual({ requestId: 'r-1', to: '***@example.com' });
    expect(out.contexts?.job).toEqual({ queue: 'outbound-email', jobId: 'send.1', attempts: 3, text: '[redacted]' });
    expect(out.extra).toEqual({ body: '[redacted]', jobId: 'step.n1.open' });
  });

  it('scrubs breadcrumbs: URLs lose their query and addresses, messages are redacted', () => {
    const http = scrubSentryBreadcrumb({ category: 'http', data: { url: 'https://gmail.googleapis.com/gmail/v1/users/jane.doe%40example.com/messages?q=from:x@y.com', 'http.query': 'q=secret' } });
    expect(http.data).toEqual({ url: 'https://gmail.googleapis.com/gmail/v1/users/***@example.com/messages' });
    expect(scrubSentryBreadcrumb({ message: 'Bearer abc.def to jane.doe@example.com' }).message).toBe('[redacted] to ***@example.com');
    expect(scrubUrl('https://user:pass@host.test/a?b=c#d')).toBe('https://host.test/a');
  });
});

describe('Sentry options', () => {
  it('are null without a DSN (Sentry stays off)', () => {
    expect(sentryOptions({}, { release: 'r', serverName: 's' })).toBeNull();
    expect(sentryOptions({ SENTRY_DSN: '  ' }, { release: 'r', serverName: 's' })).toBeNull();
  });

  it('carry release and environment, collect nothing, and scrub through beforeSend and beforeBreadcrumb', () => {
    const dsn = 'http://key@127.0.0.1:9/1';
    const options = sentryOptions({ SENTRY_DSN: dsn, SENTRY_ENVIRONMENT: 'staging', SENTRY_RELEASE: 'parley@1.2.3' }, { release: 'fallback', serverName: 'w-1' });
    expect(options).toMatchObject({ dsn, environment: 'staging', release: 'parley@1.2.3', serverName: 'w-1', dataCollection: SENTRY_DATA_COLLECTION });
    expect(options?.tracesSampleRate).toBeUndefined();
    // No rewriting of modules as they load (it feeds tracing only, and costs memory in every process).
    expect(options?.enableRuntimeChannelInjection).toBe(false);
    // No trace headers to third parties, and no watching of every fetch for them.
    expect(options?.tracePropagationTargets).toEqual([]);
    const integrations = typeof options?.integrations === 'function' ? options.integrations : () => [];
    const named = (name: string) => ({ name, setupOnce: () => undefined });
    expect(integrations([named('Http'), named('NodeFetch'), named('OnUncaughtException')]).map((i) => i.name)).toEqual(['Http', 'OnUncaughtException']);
    expect(SENTRY_DATA_COLLECTION).toMatchObject({ userInfo: false, cookies: false, httpHeaders: false, httpBodies: [], urlQueryParams: false, stackFrameVariables: false });
    const sent = options?.beforeSend?.(hostileEvent(), {});
    expect(JSON.stringify(sent)).not.toMatch(new RegExp(LEAKS.map((l) => l.replace('.', '\\.')).join('|')));
    expect(options?.beforeBreadcrumb?.({ message: 'to jane.doe@example.com' })).toEqual({ message: 'to ***@example.com' });
  });

  it('default to the package version and production', () => {
    const options = sentryOptions({ SENTRY_DSN: 'http://key@127.0.0.1:9/1' }, { release: packageRelease(), serverName: 's' });
    const { version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
    expect(options).toMatchObject({ environment: 'production', release: `parley@${version}` });
  });
});
