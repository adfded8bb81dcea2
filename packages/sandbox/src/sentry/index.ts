export { EnvelopeError, parseEnvelope } from './envelope.parser';
export type { Envelope, EnvelopeItem } from './envelope.parser';
export { SENTRY_SANDBOX_KEY, sentryEventText, startSentrySandbox } from './sentry-sandbox.server';
export type { ReceivedSentryEvent, SentryEventPayload, SentrySandbox, SentrySandboxOptions } from './sentry-sandbox.server';
