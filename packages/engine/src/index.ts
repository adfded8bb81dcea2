// State changes shared with the API (claim, resume, escalate, audit) live in @parley/takeover.
export * from '@parley/takeover';
export * from './engine-deps';
export * from './negotiation-step.handler';
export * from './campaign-ingest.handler';
export * from './mailbox-sync.handler';
export * from './maintenance';
export * from './send-email.handler';
