export * from './money';
export * from './policy';
export * from './pricing';
export * from './state-machine';
