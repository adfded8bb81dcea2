export * from './logger';
export * from './redact';
export * from './sentry-privacy';
