/**
 * Loaded with `--import` before main.ts (after tsx), so the Sentry SDK is running before any
 * other module loads and reports uncaught exceptions from the first line on. Does nothing
 * when SENTRY_DSN is unset. initSentry (sentry.ts) then reuses this client for dead letters.
 */
import { hostname } from 'node:os';
import { packageRelease, sentryOptions } from '@parley/logging/sentry-privacy';
import type * as SentrySdk from '@sentry/node';

// The same id the worker logs and registers its heartbeat under (worker-app.ts).
const options = sentryOptions(process.env, { release: packageRelease(), serverName: `${hostname()}-${process.pid}` });
// Loaded only when configured (the SDK with its OpenTelemetry instrumentation is about 30 MB).
// eslint-disable-next-line @typescript-eslint/no-require-imports
if (options) (require('@sentry/node') as typeof SentrySdk).init(options);
