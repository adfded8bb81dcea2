// The queue contracts, error classes and retry policy live in @parley/contracts (no database
// dependency); they are re-exported here so producers and consumers keep one import.
export * from '@parley/contracts';
export * from './connection';
export * from './dead-letters';
export * from './handlers';
export * from './log-throttle';
export * from './mailbox-lock';
export * from './queues';
export * from './stall-policy';
export * from './worker-runtime';
export * from './fleet-database';
