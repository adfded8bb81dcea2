export * from './clickup-control.client';
export * from './clickup-task.store';
export * from './clickup-webhook.sender';
export * from './clickup.sandbox';
