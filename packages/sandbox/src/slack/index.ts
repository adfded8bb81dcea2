export * from './slack-faults';
export * from './slack-sandbox.server';
export type { SlackMetadata, SlackSandboxChannel, SlackSandboxEphemeral, SlackSandboxMessage, SlackSandboxUser } from './slack.store';
export * from './interactions.sender';
export * from './socket-mode.server';
