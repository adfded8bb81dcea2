export * from './connection';
export * from './contracts';
export * from './dead-letters';
export * from './errors';
export * from './handlers';
export * from './policy';
export * from './queues';
export * from './worker-runtime';
