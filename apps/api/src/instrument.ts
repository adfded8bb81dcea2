/**
 * Loaded with `--import` before main.ts (after tsx): the Sentry SDK instruments http and
 * Express only for modules loaded after it starts. Does nothing, and loads no SDK, when SENTRY_DSN
 * is unset.
 * Only the SDK and the scrubbing module are loaded here, not the logging package's winston.
 */
import { hostname } from 'node:os';
import { packageRelease, sentryOptions } from '@parley/logging/sentry-privacy';
import type * as SentrySdk from '@sentry/node';

const options = sentryOptions(process.env, { release: packageRelease(), serverName: `api-${hostname()}` });
// The error handler (error-handler.middleware.ts) is the one place that reports a request's
// error: it knows the request id, names the route and leaves out our own 503s. No Express
// integration: it works by rewriting Express as it loads, which sentryOptions turns off.
if (options) {
  // Loaded only when configured: the SDK with its OpenTelemetry instrumentation is about 30 MB
  // of memory. Synchronously, so it is running before main.ts loads http and Express.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Sentry = require('@sentry/node') as typeof SentrySdk;
  Sentry.init(options);
}
