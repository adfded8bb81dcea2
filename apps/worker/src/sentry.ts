import type * as SentrySdk from '@sentry/node';
import { packageRelease, sentryOptions } from '@parley/logging';
import type { DeadLetterInfo } from '@parley/queue';

export interface ErrorReporter {
  /** Sends one event per new dead letter, with its job as context. */
  onDeadLetter: (info: DeadLetterInfo) => void;
  /** Flushes queued events (bounded) before the process exits. */
  close: () => Promise<void>;
}

export interface SentryStart {
  dsn: string;
  environment?: string;
  release?: string;
  serverName: string;
}

/**
 * The dead-letter reporter, used only when SENTRY_DSN is set. The SDK normally started in
 * instrument.ts (`--import`), before any module it instruments; a worker started without it
 * (in-process tests, a custom launcher) starts it here with the same options. Either way the
 * default integrations report uncaught exceptions and unhandled rejections, and every event
 * is scrubbed (sentry-privacy in @parley/logging): no payloads, bodies, addresses or tokens.
 */
export function initSentry(options: SentryStart): ErrorReporter {
  // Loaded here, not at the top: a worker without SENTRY_DSN never loads the SDK (about 30 MB).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Sentry = require('@sentry/node') as typeof SentrySdk;
  if (!Sentry.isInitialized()) {
    const init = sentryOptions(
      { SENTRY_DSN: options.dsn, SENTRY_ENVIRONMENT: options.environment, SENTRY_RELEASE: options.release },
      { release: packageRelease(), serverName: options.serverName },
    );
    if (init) Sentry.init(init);
  }
  return {
    onDeadLetter: (info) => {
      Sentry.withScope((scope) => {
        scope.setTags({ queue: info.queue, errorClass: info.errorClass, kind: 'dead_letter', jobName: info.jobName });
        // The job's identity and history, never its payload (which holds addresses and email text).
        scope.setContext('job', { queue: info.queue, jobId: info.jobId, jobName: info.jobName, attempts: info.attempts, deadLetterId: info.deadLetterId });
        // One Sentry issue per queue and class, not one per job.
        scope.setFingerprint(['dead-letter', info.queue, info.errorClass]);
        Sentry.captureException(info.error);
      });
    },
    close: async () => {
      await Sentry.close(2000);
    },
  };
}
