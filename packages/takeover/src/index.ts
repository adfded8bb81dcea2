export * from './engine-core';
export * from './outbox';
export * from './takeover';
export * from './transitions';
