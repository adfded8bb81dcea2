export * from './campaign-task.parser';
export * from './clickup-webhook.schema';
export * from './clickup.client';
export * from './roster.parser';
