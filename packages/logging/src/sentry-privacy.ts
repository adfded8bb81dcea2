import fs from 'node:fs';
import path from 'node:path';
import type { Breadcrumb, ErrorEvent, NodeOptions } from '@sentry/node';
import { redact, redactString } from './redact';

/**
 * What Parley lets the Sentry SDK send. Email bodies, influencer addresses and credentials pass
 * through both processes; an error event must carry none of them. Two layers: the SDK collects
 * no request data at all (`dataCollection`), and every event and breadcrumb is scrubbed before
 * it leaves (`beforeSend`, `beforeBreadcrumb`) with the same redaction as the logs, because
 * error messages can quote addresses or tokens. No SDK import at run time: the scrubbing is
 * testable without a Sentry client, and loading this module instruments nothing.
 */

/** Collects nothing about requests, users, queries or variables. */
export const SENTRY_DATA_COLLECTION: NonNullable<NodeOptions['dataCollection']> = {
  userInfo: false,
  cookies: false,
  httpHeaders: false,
  httpBodies: [],
  urlQueryParams: false,
  genAI: { inputs: false, outputs: false },
  mcp: { inputs: false, outputs: false },
  graphQL: { document: false, variables: false },
  databaseQueryData: false,
  queues: false,
  stackFrameVariables: false,
};

/** A URL without its query, fragment or credentials, addresses redacted (percent-encoded ones too). */
export function scrubUrl(url: string): string {
  let out = url.split(/[?#]/, 1)[0] ?? '';
  out = out.replace(/\/\/[^/@]*@/, '//');
  try {
    out = decodeURIComponent(out);
  } catch {
    // Malformed escapes stay as they are; the redaction below still runs.
  }
  return redactString(out);
}

function redactRecord<T>(value: T): T {
  return redact(value) as T;
}

export function scrubSentryBreadcrumb(breadcrumb: Breadcrumb): Breadcrumb {
  const out: Breadcrumb = { ...breadcrumb };
  if (out.message !== undefined) out.message = redactString(out.message);
  if (out.data) {
    const data = redactRecord(out.data);
    if (typeof data.url === 'string') data.url = scrubUrl(data.url);
    delete data['http.query'];
    delete data['http.fragment'];
    out.data = data;
  }
  return out;
}

/**
 * Scrubs an event in place: the request keeps only its method and path; user, cookies,
 * headers, query and body go; messages, exception values, tags, contexts, extras and
 * breadcrumbs pass through the log redaction (addresses to their domain, tokens and
 * body-like keys to a marker).
 */
export function scrubSentryEvent<E extends ErrorEvent>(event: E): E {
  if (event.request) {
    const { method, url } = event.request;
    event.request = { ...(method ? { method } : {}), ...(url ? { url: scrubUrl(url) } : {}) };
  }
  delete event.user;
  if (event.message !== undefined) event.message = redactString(event.message);
  if (event.logentry) {
    event.logentry = { ...(event.logentry.message !== undefined ? { message: redactString(event.logentry.message) } : {}) };
  }
  for (const value of event.exception?.values ?? []) {
    if (value.value !== undefined) value.value = redactString(value.value);
    for (const frame of value.stacktrace?.frames ?? []) delete frame.vars;
  }
  if (event.tags) event.tags = redactRecord(event.tags);
  if (event.extra) event.extra = redactRecord(event.extra);
  if (event.contexts) event.contexts = redactRecord(event.contexts);
  if (event.breadcrumbs) event.breadcrumbs = event.breadcrumbs.map(scrubSentryBreadcrumb);
  return event;
}

/** Default integrations left out (by name). */
export const SENTRY_INTEGRATIONS_OFF: ReadonlySet<string> = new Set(['NodeFetch']);

export interface SentryEnv {
  SENTRY_DSN?: string | undefined;
  SENTRY_ENVIRONMENT?: string | undefined;
  SENTRY_RELEASE?: string | undefined;
}

/**
 * The options both processes start Sentry with, or null when SENTRY_DSN is unset or blank.
 * Reads only the three SENTRY_* variables: it runs before the configuration is parsed (the
 * SDK must load before the modules it instruments), and a bad rest of the configuration is
 * the app's to report.
 */
export function sentryOptions(env: SentryEnv, defaults: { release: string; serverName: string }): NodeOptions | null {
  const dsn = env.SENTRY_DSN?.trim();
  if (!dsn) return null;
  return {
    dsn,
    release: env.SENTRY_RELEASE?.trim() || defaults.release,
    environment: env.SENTRY_ENVIRONMENT?.trim() || 'production',
    serverName: defaults.serverName,
    dataCollection: SENTRY_DATA_COLLECTION,
    // Errors only: tracing stays off (no tracesSampleRate), and logs are not shipped to Sentry.
    // No load-time injection either: it rewrites supported modules (Express, ioredis, the
    // Anthropic SDK...) as they load so they emit the channels tracing listens to, which costs
    // about 29 MiB of RSS per process and the CPU of parsing every such module. Errors are
    // reported by our own handlers, with the route and ids they add (docs/operations.md).
    enableRuntimeChannelInjection: false,
    // No trace headers on outgoing requests: with tracing off they carry nothing of use, and their
    // baggage would tell Anthropic, Google and the rest our release, environment and Sentry key.
    tracePropagationTargets: [],
    // Nor the fetch integration: it watches every fetch (the Anthropic SDK's and Google's) only to
    // add those headers and a breadcrumb per request, about 4% of a busy worker's CPU
    // (docs/benchmarks.md). Our logs already record each failing call.
    integrations: (defaults) => defaults.filter((integration) => !SENTRY_INTEGRATIONS_OFF.has(integration.name)),
    beforeSend: (event) => scrubSentryEvent(event),
    beforeBreadcrumb: (breadcrumb) => scrubSentryBreadcrumb(breadcrumb),
  };
}

/** `parley@<version>` from the root package.json: the release when SENTRY_RELEASE is unset. */
export function packageRelease(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version?: unknown };
    return `parley@${typeof pkg.version === 'string' ? pkg.version : 'unknown'}`;
  } catch {
    return 'parley@unknown';
  }
}
