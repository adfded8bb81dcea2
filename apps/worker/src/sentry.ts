import * as Sentry from '@sentry/node';
import { redactString } from '@parley/logging';
import type { DeadLetterInfo } from '@parley/queue';

export interface ErrorReporter {
  /** Sends one event per new dead letter, with its job as context. */
  onDeadLetter: (info: DeadLetterInfo) => void;
  /** Flushes queued events (bounded) before the process exits. */
  close: () => Promise<void>;
}

/**
 * Started only when SENTRY_DSN is set. Besides dead letters, the SDK's default integrations
 * report uncaught exceptions and unhandled rejections. Messages pass through the same
 * redaction as logs, because error messages can quote addresses or tokens.
 */
export function initSentry(options: { dsn: string; environment: string; serverName: string }): ErrorReporter {
  Sentry.init({
    dsn: options.dsn,
    environment: options.environment,
    serverName: options.serverName,
    // Email bodies, addresses and tokens travel through this process: collect none of it.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      genAI: { inputs: false, outputs: false },
      databaseQueryData: false,
      queues: false,
      stackFrameVariables: false,
    },
    beforeSend(event) {
      if (event.message) event.message = redactString(event.message);
      for (const value of event.exception?.values ?? []) {
        if (value.value) value.value = redactString(value.value);
      }
      return event;
    },
  });
  return {
    onDeadLetter: (info) => {
      Sentry.withScope((scope) => {
        scope.setTags({ queue: info.queue, errorClass: info.errorClass, kind: 'dead_letter' });
        scope.setContext('job', { jobId: info.jobId, jobName: info.jobName, attempts: info.attempts, deadLetterId: info.deadLetterId });
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
