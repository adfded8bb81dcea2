export * from './mail-rules';
export * from './money';
export * from './money-text';
export * from './policy';
export * from './pricing';
export * from './state-machine';
