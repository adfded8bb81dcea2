import * as Sentry from '@sentry/node';

/**
 * Sends a request's unexpected error (a 5xx) to Sentry, tagged with the request id the caller
 * got back, so an operator goes from the answer to the event and the log lines. The SDK is
 * started by instrument.ts; without SENTRY_DSN this does nothing. The event carries the
 * method and route only: the scrubbing in @parley/logging drops bodies, headers and queries.
 */
export function reportRequestError(error: Error, request: { requestId: string; method: string; route: string }): void {
  if (!Sentry.isInitialized()) return;
  Sentry.withScope((scope) => {
    scope.setTag('requestId', request.requestId);
    scope.setContext('api', { requestId: request.requestId, method: request.method, route: request.route });
    Sentry.captureException(error);
  });
}

/** Waits (bounded) for queued events to be sent; called on shutdown. */
export async function flushErrorReports(timeoutMs = 2000): Promise<void> {
  if (Sentry.isInitialized()) await Sentry.close(timeoutMs);
}
