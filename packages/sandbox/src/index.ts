export * from './anthropic';
export * from './clickup';
export * from './google';
export * from './personas';
export * from './pubsub';
export * from './sentry';
export * from './sandbox';
export * from './demo-campaign';
