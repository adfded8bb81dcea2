export * from './contracts';
export * from './errors';
export * from './policy';
export * from './bounded-fetch';
