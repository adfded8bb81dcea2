import type * as SentrySdk from '@sentry/node';

/** The SDK when instrument.ts started it; never loaded without SENTRY_DSN (it costs about 30 MB). */
function sentry(): typeof SentrySdk | undefined {
  if (!process.env.SENTRY_DSN) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('@sentry/node') as typeof SentrySdk;
  return sdk.isInitialized() ? sdk : undefined;
}

/**
 * Sends a request's unexpected error (a 5xx) to Sentry, tagged with the request id the caller
 * got back, so an operator goes from the answer to the event and the log lines. The SDK is
 * started by instrument.ts; without SENTRY_DSN this does nothing. The event carries the
 * method and route only: the scrubbing in @parley/logging drops bodies, headers and queries.
 */
export function reportRequestError(error: Error, request: { requestId: string; method: string; route: string }): void {
  const Sentry = sentry();
  if (!Sentry) return;
  Sentry.withScope((scope) => {
    scope.setTag('requestId', request.requestId);
    scope.setContext('api', { requestId: request.requestId, method: request.method, route: request.route });
    Sentry.captureException(error);
  });
}

/** Waits (bounded) for queued events to be sent; called on shutdown. */
export async function flushErrorReports(timeoutMs = 2000): Promise<void> {
  await sentry()?.close(timeoutMs);
}
