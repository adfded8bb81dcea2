export * from './alert-acted';
export * from './alert-metadata';
export * from './blocks';
export * from './slack-errors';
export * from './slack.client';
